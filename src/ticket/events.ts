import type { EventDraft, EventType } from "../events/types";
import { toPurchase, toScannedEntry, toTicket } from "../present";
import { available } from "./rules";
import type { EntryRow, PurchaseRow, TicketRow } from "./schema";

// A ticket's events, drafted by its writes in their transactions
// (src/events/publisher.ts sends them).

export const ticketEvent = (type: EventType, t: TicketRow): EventDraft => ({ type, data: toTicket(t) });

/** A purchase's event; a line of an order says which. */
export const purchaseEvent = (type: EventType, t: TicketRow, p: PurchaseRow): EventDraft => ({
  type,
  data: {
    ...toPurchase({ ...p, ticket_id: t.id, game_id: t.game_id }),
    ...(p.order_id ? { order_id: p.order_id } : {}),
  },
});

/** An entry's event: without its code, a credential that only its holder (and the gate) should see. */
export const entryEvent = (
  type: EventType,
  t: TicketRow,
  e: EntryRow,
  userId: number,
  extra: object = {},
): EventDraft => ({
  type,
  data: { ...toScannedEntry(e, { ticket_id: t.id, game_id: t.game_id }), user_id: userId, ...extra },
});

/** `ticket.sold_out` when moving these units takes the last free ones (`t` as before the move). */
export function soldOut(t: TicketRow, units: { sold?: number; held?: number }): EventDraft[] {
  const taken = (units.sold ?? 0) + (units.held ?? 0);
  const before = available(t);
  if (before <= 0 || before - taken > 0) return [];
  return [ticketEvent("ticket.sold_out", { ...t, sold: t.sold + (units.sold ?? 0), held: t.held + (units.held ?? 0) })];
}
