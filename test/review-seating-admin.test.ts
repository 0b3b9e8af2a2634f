import { afterEach, describe, expect, it, vi } from "vitest";
import { SeatBlock } from "../src/seating/seat-block";
import { api, asAdmin } from "./helpers";
import { gridBlock, holdSeats, putMap, seatedGame, seatsIn } from "./seating-helpers";

// Review: the admin's all-or-nothing changes across blocks (PATCH /seats, PUT /seatmap) check every block
// (a dry run), then apply. A hold that lands in between makes one block refuse the second pass: the answer
// is a 409 saying nothing was changed, while the other blocks have already changed.

afterEach(() => vi.restoreAllMocks());

describe("review: a hold between the dry run and the change", () => {
  it("PATCH /seats answered 409 seat_taken leaves no seat blocked in the other block", async () => {
    const { game, ticket } = await seatedGame([gridBlock("N1", 1, 4), gridBlock("N2", 1, 4)]);
    const setBlocked = SeatBlock.prototype.setBlocked;
    let held = 0;
    // A fan's hold of N2-A-1 reaches the block just after its dry run said yes.
    vi.spyOn(SeatBlock.prototype, "setBlocked").mockImplementation(async function (
      this: SeatBlock,
      block: string[],
      unblock: string[],
      dryRun?: boolean,
    ) {
      const answer = await setBlocked.call(this, block, unblock, dryRun);
      if (dryRun && block.includes("N2-A-1") && held === 0) {
        held = (await holdSeats({ user_id: 5, ticket_id: ticket.id, seats: ["N2-A-1"] })).status;
      }
      return answer;
    });
    const res = await api(`/games/${game}/seats`, {
      method: "PATCH",
      headers: { ...asAdmin, "Content-Type": "application/json" },
      body: JSON.stringify({ block: ["N1-A-1", "N2-A-1"] }),
    });
    expect(held).toBe(201);
    const problem = (await res.json()) as { code: string; detail: string };
    expect([res.status, problem.code]).toEqual([409, "seat_taken"]);
    expect(problem.detail).toMatch(/Nothing was changed/);
    // "nothing is changed": N1-A-1 must still be on sale.
    const n1 = await seatsIn(game, "N1");
    expect(n1.find((s) => s.id === "N1-A-1")!.state).toBe("free");
  });

  it("PUT /seatmap answered 409 seatmap_in_use leaves every block with the map it had", async () => {
    const { game, ticket } = await seatedGame([gridBlock("N1", 1, 4), gridBlock("N2", 1, 4)]);
    const load = SeatBlock.prototype.load;
    let held = 0;
    vi.spyOn(SeatBlock.prototype, "load").mockImplementation(async function (
      this: SeatBlock,
      input: Parameters<SeatBlock["load"]>[0],
      dryRun?: boolean,
    ) {
      const answer = await load.call(this, input, dryRun);
      if (dryRun && input.game_id === game && input.block_id === "N2" && held === 0) {
        held = (await holdSeats({ user_id: 5, ticket_id: ticket.id, seats: ["N2-A-1"] })).status;
      }
      return answer;
    });
    // The new map: N1 with two rows of 2 seats.
    const res = await putMap(game, { blocks: [gridBlock("N1", 2, 2), gridBlock("N2", 1, 4)] });
    expect(held).toBe(201);
    expect([res.status, ((await res.json()) as { code: string }).code]).toEqual([409, "seatmap_in_use"]);
    // Refused: the map is as it was, in N1 too.
    expect((await seatsIn(game, "N1")).map((s) => s.id)).toEqual(["N1-A-1", "N1-A-2", "N1-A-3", "N1-A-4"]);
    const layout = (await (await api(`/games/${game}/seatmap`)).json()) as { blocks: { id: string }[] };
    expect(layout.blocks.map((b) => b.id)).toEqual(["N1", "N2"]);
  });
});
