import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { afterEach, expect, it, vi } from "vitest";
import type { SeatBlock } from "../src/seating/seat-block";
import { purchases } from "../src/ticket/schema";
import { desiredOf } from "../src/ticket/seats";
import * as store from "../src/ticket/store";
import { api, asAdmin, postJson, sellerOf } from "./helpers";
import { blockOf, gridBlock, seatedGame } from "./seating-helpers";

// A seeded, randomised seat rush on one block (and a second one for the
// user limit): rounds of concurrent pickers mixing exact picks and best
// available, holds and buys, confirms, cancels, blocking and unblocking,
// with the clock jumped past holds' ends between rounds. After every round
// the blocks' truth is checked against every ticket's purchases: no seat
// held or sold twice, no blocked seat sold, counts per category exact, and
// max_per_user kept across both blocks. Replay a failure with its seed.

afterEach(() => vi.useRealTimers());

const ROUNDS = 5;
const PICKERS = 90; // concurrent requests a round
const MAX_PER_USER = 6;

function prng(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type SeatView = Awaited<ReturnType<SeatBlock["seats"]>>[number];

it.each([7, 4242])(
  "seed %i: no seat twice, no blocked seat sold, exact counts, max_per_user across blocks",
  { timeout: 120_000 },
  async (seed) => {
    const rand = prng(seed);
    const pickOf = <T>(xs: T[]) => xs[Math.floor(rand() * xs.length)]!;
    // N1: 20 rows of 25, the first three premium; N2: 4 rows of 25, standard.
    const blocks = [gridBlock("N1", 20, 25, (r) => (r < 3 ? "premium" : "standard")), gridBlock("N2", 4, 25)];
    const { game, ticket: adult } = await seatedGame(blocks, {
      max_per_user: MAX_PER_USER,
      max_per_order: 8,
      hold_seconds: 60,
    });
    const mk = async (categories: string[], extra: Record<string, unknown>) => {
      const res = await postJson("/tickets", {
        game_id: game,
        name: "N",
        price: 10,
        seating: { categories },
        hold_seconds: 60,
        ...extra,
      });
      return (await res.json()) as { id: number };
    };
    const child = await mk(["standard"], { type: "child", price: 5 });
    const premium = await mk(["premium"], { type: "premium", price: 50 });
    const tickets = [adult.id, child.id, premium.id];
    const seatIds = blocks.flatMap((b) => b.rows.flatMap((r) => r.seats.map((s) => `${b.id}-${r.id}-${s.id}`)));
    const n1Rows = blocks[0]!.rows.map((r) => r.id);
    const known: { id: number; ticket: number }[] = [];
    let now = Date.now();
    const statuses: Record<string, number> = {};
    let inBoth = 0;

    for (let round = 0; round < ROUNDS; round++) {
      const ops = Array.from({ length: PICKERS }, async () => {
        const r = rand();
        const ticket = rand() < 0.6 ? adult.id : rand() < 0.5 ? child.id : premium.id;
        const user = 1 + Math.floor(rand() * 40);
        const kind = rand() < 0.6 ? "hold" : "buy";
        let res: Response;
        if (r < 0.35) {
          // Exact seats: a few side by side in a random row of N1.
          const row = pickOf(ticket === premium.id ? n1Rows.slice(0, 3) : n1Rows.slice(3));
          const from = 1 + Math.floor(rand() * 22);
          const seats = Array.from({ length: 1 + Math.floor(rand() * 3) }, (_, k) => `N1-${row}-${from + k}`);
          res = await postJson(`/tickets/${kind}`, { user_id: user, ticket_id: ticket, seats });
        } else if (r < 0.7) {
          const quantity = 1 + Math.floor(rand() * 6);
          const b = rand();
          const block = b < 0.6 ? { block: "N1" } : b < 0.85 ? { block: "N2" } : {};
          res = await postJson(`/tickets/${kind}`, {
            user_id: user,
            ticket_id: ticket,
            quantity,
            best_available: { together: rand() < 0.9, ...block },
          });
        } else if (r < 0.82 && known.length > 0) {
          const p = pickOf(known);
          res = await api(`/purchases/${p.id}/cancel`, { method: "POST", headers: asAdmin });
        } else if (r < 0.9 && known.length > 0) {
          const p = pickOf(known);
          res = await api(`/purchases/${p.id}/confirm`, { method: "POST", headers: asAdmin });
        } else {
          const ids = Array.from({ length: 1 + Math.floor(rand() * 4) }, () => pickOf(seatIds.slice(0, 500)));
          res = await api(`/games/${game}/seats`, {
            method: "PATCH",
            headers: { ...asAdmin, "Content-Type": "application/json" },
            body: JSON.stringify(rand() < 0.6 ? { block: [...new Set(ids)] } : { unblock: [...new Set(ids)] }),
          });
        }
        const body = (await res.json()) as { id?: number; code?: string; ticket_id?: number };
        const label = `${res.status}${body.code ? ` ${body.code}` : ""}`;
        statuses[label] = (statuses[label] ?? 0) + 1;
        expect(res.status, JSON.stringify(body)).toBeLessThan(500);
        if ((res.status === 200 || res.status === 201) && body.id && body.ticket_id)
          known.push({ id: body.id, ticket: body.ticket_id });
      });
      await Promise.all(ops);
      if (round % 2 === 1) {
        // Past every hold's end and its block's grace: holds expire on both sides.
        now += 130_000;
        vi.useFakeTimers({ toFake: ["Date"], now });
        for (const t of tickets) await api(`/tickets/${t}/resync`, { method: "POST", headers: asAdmin });
        for (const b of ["N1", "N2"]) await runDurableObjectAlarm(blockOf(game, b));
      }
      await check();
    }
    // Every kind of step happened, and fans held seats in both blocks at once.
    expect(inBoth).toBeGreaterThan(0);
    for (const label of ["201", "200", "409 seat_taken", "409 user_limit"])
      expect(statuses[label], JSON.stringify(statuses)).toBeGreaterThan(0);

    async function check() {
      // Each ticket's object acts on due holds and tells its blocks first (any call does).
      for (const t of tickets) await api(`/tickets/${t}/resync`, { method: "POST", headers: asAdmin });
      const claims = new Map<string, { purchase: number; state: string }>();
      const units = new Map<number, number>();
      const blocksOf = new Map<number, Set<string>>();
      for (const t of tickets) {
        const live = await runInDurableObject(sellerOf(t), (_, state) => {
          const db = store.openStore(state.storage);
          return db
            .select()
            .from(purchases)
            .all()
            .filter((p) => p.status === "held" || p.status === "confirmed")
            .map((p) => ({ p, want: desiredOf(db, p) }));
        });
        for (const { p, want } of live) {
          const seats = want.state === "sold" ? want.seats : (JSON.parse(p.seats!) as string[]);
          for (const s of seats) {
            expect(
              claims.get(s),
              `seat ${s} claimed by ${claims.get(s)?.purchase} and ${p.id} (seed ${seed})`,
            ).toBeUndefined();
            claims.set(s, { purchase: p.id, state: want.state });
          }
          if (t === adult.id) {
            units.set(p.user_id, (units.get(p.user_id) ?? 0) + p.quantity - p.returned);
            blocksOf.set(p.user_id, (blocksOf.get(p.user_id) ?? new Set()).add(p.block!));
          }
        }
      }
      for (const [user, n] of units) expect(n, `user ${user}'s units (seed ${seed})`).toBeLessThanOrEqual(MAX_PER_USER);
      inBoth = Math.max(inBoth, [...blocksOf.values()].filter((b) => b.size === 2).length);
      for (const b of ["N1", "N2"]) {
        const [seats, counts] = await runInDurableObject(
          blockOf(game, b),
          (o: SeatBlock) => [o.seats(), o.counts()] as const,
        );
        const recount: Record<string, Record<string, number>> = {};
        for (const s of seats as SeatView[]) {
          const claim = claims.get(s.id);
          // The block and the tickets agree seat by seat: held or sold to that purchase, else free or blocked.
          if (claim) expect([s.id, s.state, s.holder]).toEqual([s.id, claim.state, claim.purchase]);
          else expect(["free", "blocked"], `${s.id} ${s.state} by ${s.holder} (seed ${seed})`).toContain(s.state);
          if (s.state === "blocked") expect(s.holder).toBeNull();
          const c = recount[s.category] ?? { free: 0, held: 0, sold: 0, blocked: 0 };
          recount[s.category] = c;
          c[s.state]!++;
        }
        expect(counts).toEqual(recount);
      }
    }
  },
);
