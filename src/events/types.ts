// What other systems hear of: the events, and the messages on the queue that
// carries them to webhook endpoints.

export const EVENT_TYPES = [
  "ticket.created",
  "ticket.updated",
  "ticket.sold_out",
  "purchase.held",
  "purchase.confirmed",
  "purchase.cancelled",
  "purchase.expired",
  "purchase.refunded",
  "entry.checked_in",
  "entry.check_in_undone",
  "entry.cancelled",
  "entry.reissued",
] as const;
export type EventType = (typeof EVENT_TYPES)[number];

/** An event as delivered: `data` is the object (ticket, purchase, entry) as of the change. */
export interface WebhookEvent {
  id: string; // evt_...: receivers de-duplicate by it (delivery is at least once)
  type: EventType;
  created_at: string;
  data: unknown;
}

/** An event being written, inside the transaction of its change. */
export interface EventDraft {
  type: EventType;
  data: unknown;
}

export type QueueMessage =
  | { kind: "event"; event: WebhookEvent } // to be fanned out to the endpoints that want it
  | { kind: "delivery"; delivery_id: string }; // to one endpoint: its attempts are this message's

export const newId = (prefix: "evt" | "dlv") => `${prefix}_${crypto.randomUUID().replaceAll("-", "")}`;
