import { DurableObject } from "cloudflare:workers";
import { drizzle } from "drizzle-orm/durable-sqlite";
import { migrate } from "drizzle-orm/durable-sqlite/migrator";
import type { SeatCounts } from "../db/schema";
import { Backoff, logError, withTimeout } from "../ticket/backoff";
import { type MapRow, seatId } from "./map";
import migrations from "./migrations/migrations.js";
import { BLOCKED, effectiveRanks, FREE, HELD, type Picked, pick, type SeatModel, SOLD } from "./pick";
import type { HoldState, SeatState } from "./schema";

// One object per block of a game (named `${game_id}:${block_id}`): the one
// owner of its seats' truth. Every decision (which seats, whether they are
// free) is made on the seats kept in memory and written to its SQLite in one
// synchronous transaction before anything is awaited. A ticket's purchase
// holds seats here as escrow, keyed by the purchase, with its own end: the
// block lets them go by itself if the ticket never says more, so it never
// waits on a ticket. D1 gets the block's layout when loaded and, after each
// change, which seats are free (one small row, version-guarded).

/** How long a checked admin change may take to be written before takes go on without it. */
const FENCE_MS = 5_000; // under the ticket's call timeout (BLOCK_CALL_MS), so a waiting take still answers

export interface BlockLoad {
  game_id: number;
  block_id: string;
  name: string;
  position: number;
  map_version: string;
  rows: MapRow[];
}

/** What a ticket asks of a block for one purchase (its key). */
export interface TakeRequest {
  key: number; // the purchase id
  ticket_id: number;
  categories: string[];
  /** Exactly these seats (ids), all or none; or the best `quantity`. */
  seats?: string[];
  best?: { quantity: number; together: boolean; accessible?: boolean };
  /** The escrow's end; null: sold at once (a confirmed purchase). */
  ends_at: string | null;
}

export type BlockRefusal =
  | { ok: false; code: "no_seatmap" }
  | { ok: false; code: "seat_taken"; seats: string[] }
  | { ok: false; code: "seat_not_found"; seats: string[] }
  | { ok: false; code: "wrong_category"; seats: string[] }
  | { ok: false; code: "sold_out"; available: number }
  | { ok: false; code: "released" } // the key was released before it held anything: it never will
  | { ok: false; code: "seats_gone"; seats: string[] }
  | { ok: false; code: "seatmap_in_use"; seats: string[] };

export interface TakeAnswer {
  ok: true;
  seats: string[];
  state: HoldState;
  /** For best available: whether the group leaves a single empty seat beside it, and whether one without existed. */
  pick?: { lone: boolean; alternative: boolean };
  /** Time spent deciding and writing inside this object, ms. */
  ms: number;
}

/** A purchase's state as its ticket holds it, for the block to follow (newer versions only). */
export type Desired =
  | { version: number; state: "held"; ends_at: string }
  | { version: number; state: "sold"; seats: string[] }
  | { version: number; state: "released" };

export type SettleAnswer = { ok: true; state: HoldState; seats: string[] } | BlockRefusal;

/** Per row, a bitmap of its free seats (bit i of the row: its i-th seat), base64. */
export interface Availability {
  block: string;
  version: number;
  rows: { row: string; seats: number; free: string }[];
}

const STATE_NAMES: SeatState[] = ["free", "held", "sold", "blocked"];
const STATE_OF: Record<SeatState, number> = { free: FREE, held: HELD, sold: SOLD, blocked: BLOCKED };
/** A writer's D1 flush waits this long for other changes first (group commit). */
const GATHER_MS = 10;

type HoldRecord = {
  key: number;
  ticket_id: number;
  state: HoldState;
  seats: string;
  ends_at: string | null;
  version: number;
};

/** A block's methods as its callers see them (RPC stubs type unions poorly). */
export interface BlockApi {
  take(req: TakeRequest): Promise<TakeAnswer | BlockRefusal>;
  settle(key: number, ticketId: number, want: Desired): Promise<SettleAnswer>;
  load(
    input: BlockLoad | { game_id: number; block_id: string; remove: true },
    dryRun?: boolean,
    fence?: string,
  ): Promise<{ ok: true } | BlockRefusal>;
  setBlocked(
    block: string[],
    unblock: string[],
    dryRun?: boolean,
    fence?: string,
  ): Promise<{ ok: true; blocked: number; unblocked: number } | BlockRefusal>;
  unfence(fence: string): Promise<void>;
  availability(): Promise<Availability>;
  counts(): Promise<SeatCounts>;
}

export class SeatBlock extends DurableObject<Env> {
  #sql = this.ctx.storage.sql;
  #info: { game_id: number; block_id: string; name: string; position: number; map_version: string } | null = null;
  #clock = 0;
  #model!: SeatModel;
  #ids: string[] = [];
  #rowIds: string[] = [];
  #byId = new Map<string, number>();
  #holder!: Float64Array;
  #nextEnd: string | null = null;
  #projected = 0;
  #flushing: Promise<void> | null = null;
  #backoff = new Backoff();
  // Admin changes checked here (a dry run) and not yet written, by their token: until each is written, given
  // up or past its end, takes wait, so the change is never refused half-applied.
  #fences = new Map<string, number>();
  #unfenced: (() => void)[] = [];

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    void ctx.blockConcurrencyWhile(async () => {
      migrate(drizzle(ctx.storage), migrations);
      this.#loadMemory();
    });
  }

  /** Replaces the block's seats (or, without rows, empties it) unless any is held or sold. */
  async load(
    input: BlockLoad | { game_id: number; block_id: string; remove: true },
    dryRun = false,
    fence?: string,
  ): Promise<{ ok: true } | BlockRefusal> {
    this.#expireDue();
    if (fence && !dryRun) this.#lift(fence);
    const taken = this.#info
      ? this.#ids.filter((_, i) => this.#model.state[i] === HELD || this.#model.state[i] === SOLD)
      : [];
    if (taken.length > 0) return { ok: false, code: "seatmap_in_use", seats: taken.slice(0, 50) };
    if (dryRun) return this.#fence(fence);
    const now = new Date().toISOString();
    this.ctx.storage.transactionSync(() => {
      // Keys of earlier maps name seats of theirs: none may be taken again.
      this.#sql.exec("UPDATE holds SET seats = '[]'");
      this.#sql.exec("DELETE FROM seats");
      this.#sql.exec("DELETE FROM block");
      if ("remove" in input) return;
      this.#sql.exec(
        "INSERT INTO block (game_id, block_id, name, position, map_version, clock, projected) VALUES (?, ?, ?, ?, ?, ?, 0)",
        input.game_id,
        input.block_id,
        input.name,
        input.position,
        input.map_version,
        this.#clock + 1,
      );
      const rows = input.rows.flatMap((r) =>
        r.seats.map((s) => [
          seatId(input.block_id, r.id, s.id),
          r.id,
          s.id,
          s.category,
          s.rank ?? null,
          s.accessible ? 1 : 0,
          s.x ?? null,
          s.y ?? null,
        ]),
      );
      // One statement per thousand seats: the rows go as one JSON parameter.
      for (let i = 0; i < rows.length; i += 1_000) {
        this.#sql.exec(
          `INSERT INTO seats (idx, id, row, seat, category, rank, accessible, x, y, state)
           SELECT ? + key, value ->> 0, value ->> 1, value ->> 2, value ->> 3, value ->> 4, value ->> 5, value ->> 6, value ->> 7, 'free'
           FROM json_each(?)`,
          i,
          JSON.stringify(rows.slice(i, i + 1_000)),
        );
      }
    });
    this.#loadMemory();
    const d1 = this.env.DB;
    if ("remove" in input) {
      await d1
        .prepare("DELETE FROM seat_blocks WHERE game_id = ? AND block_id = ?")
        .bind(input.game_id, input.block_id)
        .run();
      return { ok: true };
    }
    const layout = JSON.stringify(input.rows);
    await d1
      .prepare(
        `INSERT INTO seat_blocks (game_id, block_id, name, position, map_version, layout, seats, availability, counts, version, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (game_id, block_id) DO UPDATE SET name = excluded.name, position = excluded.position,
           map_version = excluded.map_version, layout = excluded.layout, seats = excluded.seats,
           availability = excluded.availability, counts = excluded.counts, version = excluded.version,
           updated_at = excluded.updated_at`,
      )
      .bind(
        input.game_id,
        input.block_id,
        input.name,
        input.position,
        input.map_version,
        layout,
        this.#ids.length,
        JSON.stringify(this.availability().rows),
        JSON.stringify(this.counts()),
        this.#clock,
        now,
      )
      .run();
    this.#markProjected(this.#clock);
    return { ok: true };
  }

  /**
   * Holds (or sells) seats for a purchase, once per key: asked again, the
   * same answer. Exactly the seats named, all or none; or the best free ones.
   */
  async take(req: TakeRequest): Promise<TakeAnswer | BlockRefusal> {
    await this.#fencesLifted();
    const started = performance.now();
    if (!this.#info) return { ok: false, code: "no_seatmap" };
    this.#expireDue();
    const earlier = this.#hold(req.key);
    if (earlier) {
      if (earlier.state === "released") return { ok: false, code: "released" };
      return { ok: true, seats: this.#names(JSON.parse(earlier.seats)), state: earlier.state, ms: 0 };
    }
    const m = this.#model;
    let chosen: number[];
    let picked: Picked | undefined;
    if (req.seats) {
      const missing = req.seats.filter((id) => !this.#byId.has(id));
      if (missing.length > 0) return { ok: false, code: "seat_not_found", seats: missing };
      chosen = req.seats.map((id) => this.#byId.get(id)!);
      const foreign = chosen.filter((i) => !req.categories.includes(m.categories[m.category[i]!]!));
      if (foreign.length > 0) return { ok: false, code: "wrong_category", seats: this.#names(foreign) };
      const taken = chosen.filter((i) => m.state[i] !== FREE);
      if (taken.length > 0) return { ok: false, code: "seat_taken", seats: this.#names(taken) };
    } else {
      const best = req.best!;
      const request = { ...best, categories: req.categories };
      const found = pick(m, request);
      if (!found) return { ok: false, code: "sold_out", available: this.#eligibleFree(request) };
      picked = found;
      chosen = found.seats;
    }
    const state: HoldState = req.ends_at === null ? "sold" : "held";
    this.#change((now) => {
      this.#setSeats(chosen, state === "sold" ? SOLD : HELD, req.key, req.ticket_id);
      this.#sql.exec(
        "INSERT INTO holds (key, ticket_id, state, seats, ends_at, version, created_at, updated_at) VALUES (?, ?, ?, ?, ?, 0, ?, ?)",
        req.key,
        req.ticket_id,
        state,
        JSON.stringify(chosen),
        req.ends_at,
        now,
        now,
      );
    });
    if (req.ends_at) this.#endsAt(req.ends_at);
    const ms = Math.round((performance.now() - started) * 1000) / 1000;
    return {
      ok: true,
      seats: this.#names(chosen),
      state,
      ...(picked ? { pick: { lone: picked.lone, alternative: picked.alternative } } : {}),
      ms,
    };
  }

  /**
   * Follows a purchase's state as its ticket holds it (held until a new end,
   * sold with the seats it keeps, or released): only a version newer than
   * the last applied. A hold whose escrow ended is taken again only if its
   * seats are all still free.
   */
  async settle(key: number, ticketId: number, want: Desired): Promise<SettleAnswer> {
    this.#expireDue();
    const rec = this.#hold(key);
    if (!rec) {
      // Never held here: released, it never will be (a late take of this key is refused).
      if (want.state !== "released") return { ok: false, code: "seats_gone", seats: [] };
      this.#change((now) =>
        this.#sql.exec(
          "INSERT INTO holds (key, ticket_id, state, seats, ends_at, version, created_at, updated_at) VALUES (?, ?, 'released', '[]', NULL, ?, ?, ?)",
          key,
          ticketId,
          want.version,
          now,
          now,
        ),
      );
      return { ok: true, state: "released", seats: [] };
    }
    const mine: number[] = JSON.parse(rec.seats);
    if (rec.version >= want.version) return { ok: true, state: rec.state, seats: this.#names(mine) };
    const m = this.#model;
    if (rec.state === "released" && want.state !== "released") {
      const gone = mine.filter((i) => m.state[i] !== FREE);
      if (gone.length > 0 || mine.length === 0) return { ok: false, code: "seats_gone", seats: this.#names(gone) };
    }
    let kept = mine;
    if (want.state === "sold") kept = want.seats.map((id) => this.#byId.get(id)).filter((i) => i !== undefined);
    if (want.state === "released") kept = [];
    const dropped = mine.filter((i) => !kept.includes(i) && this.#holder[i] === key);
    this.#change((now) => {
      if (dropped.length > 0) this.#setSeats(dropped, FREE, null, null);
      if (want.state === "held") this.#setSeats(kept, HELD, key, rec.ticket_id);
      if (want.state === "sold") this.#setSeats(kept, SOLD, key, rec.ticket_id);
      this.#sql.exec(
        "UPDATE holds SET state = ?, seats = ?, ends_at = ?, version = ?, updated_at = ? WHERE key = ?",
        want.state,
        JSON.stringify(want.state === "released" ? mine : kept),
        want.state === "held" ? want.ends_at : null,
        want.version,
        now,
        key,
      );
    });
    if (want.state === "held") this.#endsAt(want.ends_at);
    return { ok: true, state: want.state, seats: this.#names(want.state === "released" ? [] : kept) };
  }

  /** Takes seats off sale, or puts them back; a held or sold seat cannot be blocked (nothing is changed). */
  async setBlocked(
    block: string[],
    unblock: string[],
    dryRun = false,
    fence?: string,
  ): Promise<{ ok: true; blocked: number; unblocked: number } | BlockRefusal> {
    if (fence && !dryRun) this.#lift(fence);
    if (!this.#info) return { ok: false, code: "no_seatmap" };
    this.#expireDue();
    const missing = [...block, ...unblock].filter((id) => !this.#byId.has(id));
    if (missing.length > 0) return { ok: false, code: "seat_not_found", seats: missing };
    const m = this.#model;
    const toBlock = block.map((id) => this.#byId.get(id)!);
    const taken = toBlock.filter((i) => m.state[i] === HELD || m.state[i] === SOLD);
    if (taken.length > 0) return { ok: false, code: "seat_taken", seats: this.#names(taken) };
    const blocking = toBlock.filter((i) => m.state[i] === FREE);
    const unblocking = unblock.map((id) => this.#byId.get(id)!).filter((i) => m.state[i] === BLOCKED);
    if (dryRun) this.#fence(fence);
    if (!dryRun && blocking.length + unblocking.length > 0) {
      this.#change(() => {
        this.#setSeats(blocking, BLOCKED, null, null);
        this.#setSeats(unblocking, FREE, null, null);
      });
    }
    return { ok: true, blocked: blocking.length, unblocked: unblocking.length };
  }

  /** An admin change given up after its dry run (another block refused it): takes go on. */
  async unfence(fence: string): Promise<void> {
    this.#lift(fence);
  }

  #fence(fence: string | undefined): { ok: true } {
    if (fence) this.#fences.set(fence, Date.now() + FENCE_MS);
    return { ok: true };
  }

  #lift(fence: string): void {
    if (!this.#fences.delete(fence) || this.#fences.size > 0) return;
    for (const wake of this.#unfenced.splice(0)) wake();
  }

  /** Waits while an admin change is between its check and its write (at most until its fence ends). */
  async #fencesLifted(): Promise<void> {
    for (;;) {
      const now = Date.now();
      for (const [fence, until] of this.#fences) if (until <= now) this.#lift(fence);
      if (this.#fences.size === 0) return;
      const end = Math.min(...this.#fences.values());
      await Promise.race([new Promise<void>((wake) => this.#unfenced.push(wake)), scheduler.wait(end - now)]);
    }
  }

  /** Which seats are free now, per row (the truth; the API serves D1's copy of it). */
  availability(): Availability {
    this.#expireDue();
    const m = this.#model;
    const rows = m.rows.map((r, ri) => {
      const bytes = new Uint8Array(Math.ceil((r.end - r.start) / 8));
      for (let i = r.start; i < r.end; i++)
        if (m.state[i] === FREE) bytes[(i - r.start) >> 3]! |= 1 << ((i - r.start) & 7);
      return { row: this.#rowIds[ri]!, seats: r.end - r.start, free: btoa(String.fromCharCode(...bytes)) };
    });
    return { block: this.#info?.block_id ?? "", version: this.#clock, rows };
  }

  /** Seats per category by state. */
  counts(): SeatCounts {
    const m = this.#model;
    const out: SeatCounts = {};
    for (const c of m.categories) out[c] = { free: 0, held: 0, sold: 0, blocked: 0 };
    for (let i = 0; i < m.state.length; i++) out[m.categories[m.category[i]!]!]![STATE_NAMES[m.state[i]!]! as "free"]++;
    return out;
  }

  /** The seats as this object holds them: for tests and repairs. */
  seats(): { id: string; state: SeatState; holder: number | null; ticket_id: number | null; category: string }[] {
    return this.#sql
      .exec<{ id: string; state: SeatState; holder: number | null; ticket_id: number | null; category: string }>(
        "SELECT id, state, holder, ticket_id, category FROM seats ORDER BY idx",
      )
      .toArray();
  }

  /** Ends due escrows and projects; re-armed for the next end or a flush retry. */
  override async alarm(): Promise<void> {
    this.#expireDue();
    await this.#flush();
    const next: number[] = [];
    if (this.#nextEnd) next.push(Date.parse(this.#nextEnd));
    if (this.#projected < this.#clock) next.push(this.#backoff.waiting ? this.#backoff.retryAt : Date.now() + 5_000);
    if (next.length > 0) await this.ctx.storage.setAlarm(Math.min(...next));
  }

  #loadMemory(): void {
    const info = this.#sql
      .exec<{
        game_id: number;
        block_id: string;
        name: string;
        position: number;
        map_version: string;
        clock: number;
        projected: number;
      }>("SELECT * FROM block")
      .toArray()[0];
    this.#info = info
      ? {
          game_id: info.game_id,
          block_id: info.block_id,
          name: info.name,
          position: info.position,
          map_version: info.map_version,
        }
      : null;
    this.#clock = Math.max(this.#clock, info?.clock ?? 0);
    this.#projected = info?.projected ?? 0;
    const rows = this.#sql
      .exec<{
        idx: number;
        id: string;
        row: string;
        category: string;
        rank: number | null;
        accessible: number;
        state: SeatState;
        holder: number | null;
      }>("SELECT idx, id, row, category, rank, accessible, state, holder FROM seats ORDER BY idx")
      .toArray();
    const categories: string[] = [];
    const catIndex = new Map<string, number>();
    const n = rows.length;
    const model: SeatModel = {
      state: new Uint8Array(n),
      category: new Uint16Array(n),
      categories,
      rank: new Float64Array(n),
      accessible: new Uint8Array(n),
      rows: [],
    };
    this.#holder = new Float64Array(n);
    this.#ids = [];
    this.#rowIds = [];
    this.#byId = new Map();
    rows.forEach((s, i) => {
      if (i === 0 || s.row !== rows[i - 1]!.row) {
        model.rows.push({ start: i, end: i + 1 });
        this.#rowIds.push(s.row);
      } else model.rows.at(-1)!.end = i + 1;
      let c = catIndex.get(s.category);
      if (c === undefined) {
        c = categories.push(s.category) - 1;
        catIndex.set(s.category, c);
      }
      model.category[i] = c;
      model.accessible[i] = s.accessible;
      model.state[i] = STATE_OF[s.state];
      this.#holder[i] = s.holder ?? 0;
      this.#ids.push(s.id);
      this.#byId.set(s.id, i);
    });
    model.rank = effectiveRanks(
      model.rows,
      rows.map((s) => s.rank),
    );
    this.#model = model;
    this.#nextEnd =
      this.#sql.exec<{ at: string | null }>("SELECT min(ends_at) AS at FROM holds WHERE state = 'held'").one().at ??
      null;
  }

  #hold(key: number): HoldRecord | undefined {
    return this.#sql
      .exec<HoldRecord>("SELECT key, ticket_id, state, seats, ends_at, version FROM holds WHERE key = ?", key)
      .toArray()[0];
  }

  #names = (idx: number[]) => idx.map((i) => this.#ids[i]!);

  #eligibleFree(req: { categories: string[]; accessible?: boolean }): number {
    const m = this.#model;
    let n = 0;
    for (let i = 0; i < m.state.length; i++) {
      if (m.state[i] !== FREE || !req.categories.includes(m.categories[m.category[i]!]!)) continue;
      if (req.accessible && m.accessible[i] !== 1) continue;
      n++;
    }
    return n;
  }

  /** Inside a change: seats to a state, in storage and in memory. */
  #setSeats(idx: number[], state: number, holder: number | null, ticketId: number | null): void {
    if (idx.length === 0) return;
    this.#sql.exec(
      "UPDATE seats SET state = ?, holder = ?, ticket_id = ? WHERE idx IN (SELECT value FROM json_each(?))",
      STATE_NAMES[state]!,
      holder,
      ticketId,
      JSON.stringify(idx),
    );
    for (const i of idx) {
      this.#model.state[i] = state;
      this.#holder[i] = holder ?? 0;
    }
  }

  /** One transaction under the next clock; memory follows only if it commits. Then a flush to D1 is due. */
  #change(write: (now: string) => void): void {
    const before = this.#model.state.slice();
    const holders = this.#holder.slice();
    const clock = this.#clock + 1;
    try {
      this.ctx.storage.transactionSync(() => {
        write(new Date().toISOString());
        this.#sql.exec("UPDATE block SET clock = ?", clock);
      });
    } catch (err) {
      this.#model.state = before;
      this.#holder = holders;
      throw err;
    }
    this.#clock = clock;
    void this.#armAlarm(Date.now() + 5_000); // projected even if this instance dies now
    void this.#flush(GATHER_MS);
  }

  /** Ends every escrow whose time is up: its seats are free again. */
  #expireDue(): void {
    const now = new Date().toISOString();
    if (this.#nextEnd === null || this.#nextEnd > now) return;
    const due = this.#sql
      .exec<{ key: number; seats: string }>("SELECT key, seats FROM holds WHERE state = 'held' AND ends_at <= ?", now)
      .toArray();
    if (due.length > 0) {
      this.#change((at) => {
        for (const h of due) {
          const mine = (JSON.parse(h.seats) as number[]).filter((i) => this.#holder[i] === h.key);
          this.#setSeats(mine, FREE, null, null);
        }
        this.#sql.exec(
          "UPDATE holds SET state = 'released', ends_at = NULL, updated_at = ? WHERE state = 'held' AND ends_at <= ?",
          at,
          now,
        );
      });
    }
    this.#nextEnd =
      this.#sql.exec<{ at: string | null }>("SELECT min(ends_at) AS at FROM holds WHERE state = 'held'").one().at ??
      null;
    if (this.#nextEnd) void this.#armAlarm(Date.parse(this.#nextEnd));
  }

  #endsAt(at: string): void {
    if (this.#nextEnd === null || at < this.#nextEnd) {
      this.#nextEnd = at;
      void this.#armAlarm(Date.parse(at));
    }
  }

  async #armAlarm(at: number): Promise<void> {
    const current = await this.ctx.storage.getAlarm();
    if (current === null || at < current) await this.ctx.storage.setAlarm(at);
  }

  /** Carries the block's free seats and counts to D1: one flush at a time, each the latest state. */
  #flush(gather = 0): Promise<void> {
    if (this.#flushing || !this.#info) return this.#flushing ?? Promise.resolve();
    if (this.#backoff.waiting && gather > 0) return Promise.resolve();
    this.#flushing = (async () => {
      while (this.#projected < this.#clock && this.#info) {
        if (gather > 0) await scheduler.wait(gather);
        const clock = this.#clock;
        const info = this.#info;
        try {
          await withTimeout(
            this.env.DB.prepare(
              `UPDATE seat_blocks SET availability = ?, counts = ?, version = ?, updated_at = ?
               WHERE game_id = ? AND block_id = ? AND version < ?`,
            )
              .bind(
                JSON.stringify(this.availability().rows),
                JSON.stringify(this.counts()),
                clock,
                new Date().toISOString(),
                info.game_id,
                info.block_id,
                clock,
              )
              .run(),
          );
        } catch (err) {
          this.#backoff.failed();
          logError("projecting a block to D1 failed", { block: info.block_id }, err);
          await this.#armAlarm(this.#backoff.retryAt);
          return;
        }
        this.#backoff.succeeded();
        this.#markProjected(clock);
      }
    })().finally(() => {
      this.#flushing = null;
    });
    return this.#flushing;
  }

  #markProjected(clock: number): void {
    this.#projected = Math.max(this.#projected, clock);
    this.#sql.exec("UPDATE block SET projected = ? WHERE projected < ?", this.#projected, this.#projected);
  }
}
