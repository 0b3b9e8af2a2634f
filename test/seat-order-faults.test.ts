import { exports } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { SeatBlock } from "../src/seating/seat-block";
import { asUser, BASE, postJson } from "./helpers";
import { gridBlock, seatedGame, seatsIn } from "./seating-helpers";

// An order of seats in two blocks whose second block's answer is lost (it held the seats).

afterEach(() => vi.restoreAllMocks());

// Straight to the worker, as a client retrying after a 503 would.
const place = (body: unknown, headers: Record<string, string>) =>
  exports.default.fetch(
    new Request(`${BASE}/orders`, {
      method: "POST",
      headers: { ...headers, "Content-Type": "application/json" },
      body: JSON.stringify(body),
    }),
  );

describe("an order line whose block answer is lost", () => {
  it("503 says the order releases what was held, and a retry with the same key places it again", async () => {
    const { game, ticket } = await seatedGame([gridBlock("N1", 1, 4), gridBlock("N2", 1, 4)]);
    const take = SeatBlock.prototype.take;
    let lost = 1;
    vi.spyOn(SeatBlock.prototype, "take").mockImplementation(async function (
      this: SeatBlock,
      req: Parameters<SeatBlock["take"]>[0],
    ) {
      const answer = await take.call(this, req);
      if (req.seats?.[0]?.startsWith("N2-") && lost > 0) {
        lost--;
        throw new Error("injected: the block's answer was lost");
      }
      return answer;
    });
    const headers = { ...(await asUser(21)), "Idempotency-Key": `order-lost-${ticket.id}` };
    const body = {
      lines: [
        { ticket_id: ticket.id, seats: ["N1-A-1", "N1-A-2"] },
        { ticket_id: ticket.id, seats: ["N2-A-1", "N2-A-2"] },
      ],
    };
    const first = await place(body, headers);
    const problem = (await first.json()) as { code: string; detail: string };
    expect([first.status, problem.code]).toEqual([503, "outcome_unknown"]);
    // "the order releases what was held by itself": nothing of it stays held.
    const heldN2 = (await seatsIn(game, "N2")).filter((s) => s.state !== "free").map((s) => s.id);
    // "a retry with the same key places it again"
    const again = await place(body, headers);
    const answer = (await again.json()) as { code?: string; lines?: unknown };
    expect({ status: again.status, code: answer.code, heldN2 }).toEqual({ status: 201, code: undefined, heldN2: [] });
  });

  it("POST /orders' 503 outcome_unknown (a line's block did not answer) is an answer the OpenAPI document lists", async () => {
    const { ticket } = await seatedGame([gridBlock("N1", 1, 4), gridBlock("N2", 1, 4)]);
    const take = SeatBlock.prototype.take;
    vi.spyOn(SeatBlock.prototype, "take").mockImplementation(async function (
      this: SeatBlock,
      req: Parameters<SeatBlock["take"]>[0],
    ) {
      await take.call(this, req);
      throw new Error("injected: the block's answer was lost");
    });
    // postJson checks the answer against the document.
    const res = await postJson(
      "/orders",
      { lines: [{ ticket_id: ticket.id, seats: ["N1-A-1"] }] },
      { ...(await asUser(22)), "Idempotency-Key": `order-doc-${ticket.id}` },
    );
    expect(res.status).toBe(503);
  });
});
