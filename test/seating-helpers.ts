import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { expect } from "vitest";
import type { SeatBlock } from "../src/seating/seat-block";
import { api, asAdmin, createTicket, freshGameId, postJson } from "./helpers";

// Seat maps made for tests, and looks at the blocks' objects (the truth).

export interface Seat {
  id: string;
  category: string;
  rank?: number;
  accessible?: boolean;
}
export interface Block {
  id: string;
  name: string;
  rows: { id: string; seats: Seat[] }[];
}

/** A block of `rows` rows of `perRow` seats, numbered 1.., of `category` (or per seat). */
export function gridBlock(
  id: string,
  rows: number,
  perRow: number,
  category: string | ((row: number, seat: number) => string) = "standard",
): Block {
  return {
    id,
    name: `Block ${id}`,
    rows: Array.from({ length: rows }, (_, r) => ({
      id: String.fromCharCode(65 + (r % 26)) + (r >= 26 ? String(Math.floor(r / 26)) : ""),
      seats: Array.from({ length: perRow }, (_, s) => ({
        id: String(s + 1),
        category: typeof category === "string" ? category : category(r, s),
      })),
    })),
  };
}

export const putMap = (gameId: number, body: unknown, type = "application/json") =>
  api(`/games/${gameId}/seatmap`, {
    method: "PUT",
    headers: { ...asAdmin, "Content-Type": type },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });

/** A game with this map, and a seated ticket of `categories` on it. */
export async function seatedGame(blocks: Block[], ticket: Record<string, unknown> = {}, categories = ["standard"]) {
  const game = freshGameId();
  const res = await putMap(game, { blocks });
  expect(res.status, await res.clone().text()).toBe(200);
  const t = await createTicket({ game_id: game, stock: undefined, seating: { categories }, ...ticket });
  return { game, ticket: t };
}

export const blockOf = (game: number, block: string) => env.SEAT_BLOCKS.getByName(`${game}:${block}`);

/** The block's seats as its object holds them. */
export const seatsIn = (game: number, block: string) =>
  runInDurableObject(blockOf(game, block), (o: SeatBlock) => o.seats());

export interface SeatPurchase {
  id: number;
  user_id: number;
  status: string;
  quantity: number;
  seats?: string[];
  expires_at: string | null;
  code?: string;
}

export async function holdSeats(body: Record<string, unknown>, headers: Record<string, string> = asAdmin) {
  const res = await postJson("/tickets/hold", body, headers);
  return { res, status: res.status, body: (await res.clone().json()) as SeatPurchase & Record<string, unknown> };
}

export async function buySeats(body: Record<string, unknown>, headers: Record<string, string> = asAdmin) {
  const res = await postJson("/tickets/buy", body, headers);
  return { res, status: res.status, body: (await res.clone().json()) as SeatPurchase & Record<string, unknown> };
}

/** Free seats per row, decoded from the availability bitmap. */
export function freeSeats(rows: { row: string; seats: number; free: string }[]): Record<string, number[]> {
  return Object.fromEntries(
    rows.map((r) => {
      const bytes = Uint8Array.from(atob(r.free), (ch) => ch.charCodeAt(0));
      const free = [];
      for (let i = 0; i < r.seats; i++) if (bytes[i >> 3]! & (1 << (i & 7))) free.push(i + 1);
      return [r.row, free];
    }),
  );
}
