import { afterEach, describe, expect, it, vi } from "vitest";
import { SeatBlock } from "../src/seating/seat-block";
import { api, asAdmin } from "./helpers";
import { gridBlock, holdSeats, putMap, seatedGame, seatsIn } from "./seating-helpers";

// The admin's all-or-nothing changes across blocks (PATCH /seats, PUT /seatmap) check every block (a dry run),
// then write. A block that said yes holds takes back until the change is written (found in review: a hold that
// landed in between made one block refuse the write, answered 409 "nothing was changed" while others had).

afterEach(() => vi.restoreAllMocks());

type Problem = { code: string };

describe("a hold between an admin change's check and its write", () => {
  it("waits for the change: PATCH /seats blocks every seat it asked for, and the hold is refused after", async () => {
    const { game, ticket } = await seatedGame([gridBlock("N1", 1, 4), gridBlock("N2", 1, 4)]);
    const setBlocked = SeatBlock.prototype.setBlocked;
    let hold: ReturnType<typeof holdSeats> | undefined;
    // A fan's hold of N2-A-1 reaches the block just after its dry run said yes.
    vi.spyOn(SeatBlock.prototype, "setBlocked").mockImplementation(async function (
      this: SeatBlock,
      block: string[],
      unblock: string[],
      dryRun?: boolean,
      fence?: string,
    ) {
      const answer = await setBlocked.call(this, block, unblock, dryRun, fence);
      if (dryRun && block.includes("N2-A-1") && !hold) {
        hold = holdSeats({ user_id: 5, ticket_id: ticket.id, seats: ["N2-A-1"] });
        await scheduler.wait(50); // the hold is at the block, waiting
      }
      return answer;
    });
    const res = await api(`/games/${game}/seats`, {
      method: "PATCH",
      headers: { ...asAdmin, "Content-Type": "application/json" },
      body: JSON.stringify({ block: ["N1-A-1", "N2-A-1"] }),
    });
    expect([res.status, await res.json()]).toEqual([200, { blocked: 2, unblocked: 0 }]);
    const held = await hold!;
    expect([held.status, (held.body as unknown as Problem).code]).toEqual([409, "seat_taken"]);
    const states = [...(await seatsIn(game, "N1")), ...(await seatsIn(game, "N2"))].filter((s) => s.state !== "free");
    expect(states.map((s) => [s.id, s.state])).toEqual([
      ["N1-A-1", "blocked"],
      ["N2-A-1", "blocked"],
    ]);
  });

  it("waits for the change: PUT /seatmap replaces every block, and the hold takes a seat of the new map", async () => {
    const { game, ticket } = await seatedGame([gridBlock("N1", 1, 4), gridBlock("N2", 1, 4)]);
    const load = SeatBlock.prototype.load;
    let hold: ReturnType<typeof holdSeats> | undefined;
    vi.spyOn(SeatBlock.prototype, "load").mockImplementation(async function (
      this: SeatBlock,
      input: Parameters<SeatBlock["load"]>[0],
      dryRun?: boolean,
      fence?: string,
    ) {
      const answer = await load.call(this, input, dryRun, fence);
      if (dryRun && input.game_id === game && input.block_id === "N2" && !hold) {
        hold = holdSeats({ user_id: 5, ticket_id: ticket.id, seats: ["N2-A-1"] });
        await scheduler.wait(50);
      }
      return answer;
    });
    // The new map: N1 with two rows of 2 seats.
    const res = await putMap(game, { blocks: [gridBlock("N1", 2, 2), gridBlock("N2", 1, 4)] });
    expect(res.status).toBe(200);
    expect((await hold!).status).toBe(201);
    expect((await seatsIn(game, "N1")).map((s) => s.id)).toEqual(["N1-A-1", "N1-A-2", "N1-B-1", "N1-B-2"]);
    expect((await seatsIn(game, "N2")).filter((s) => s.state !== "free").map((s) => s.id)).toEqual(["N2-A-1"]);
  });

  it("goes on at once when the change is refused by another block's check", async () => {
    const { game, ticket } = await seatedGame([gridBlock("N1", 1, 4), gridBlock("N2", 1, 4)]);
    expect((await holdSeats({ user_id: 5, ticket_id: ticket.id, seats: ["N2-A-1"] })).status).toBe(201);
    const res = await api(`/games/${game}/seats`, {
      method: "PATCH",
      headers: { ...asAdmin, "Content-Type": "application/json" },
      body: JSON.stringify({ block: ["N1-A-1", "N2-A-1"] }),
    });
    expect([res.status, ((await res.json()) as Problem).code]).toEqual([409, "seat_taken"]);
    // N1 said yes to the check: its fence is lifted, so a hold there does not wait for it to run out.
    const started = Date.now();
    expect((await holdSeats({ user_id: 6, ticket_id: ticket.id, seats: ["N1-A-1"] })).status).toBe(201);
    expect(Date.now() - started).toBeLessThan(4_000);
  });
});
