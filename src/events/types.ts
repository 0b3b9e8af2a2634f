// What other systems hear of: the events, and the messages on the queue that
// carries them to webhook endpoints.

export const EVENT_TYPES = [
  "ticket.created",
  "ticket.updated",
  "ticket.sold_out",
  "purchase.held",
  "purchase.updated",
  "purchase.confirmed",
  "purchase.cancelled",
  "purchase.expired",
  "purchase.refunded",
  "entry.checked_in",
  "entry.check_in_undone",
  "entry.cancelled",
  "entry.reissued",
  "order.held",
  "order.updated",
  "order.confirmed",
  "order.cancelled",
  "order.expired",
  "order.refunded",
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
  | { kind: "events"; events: WebhookEvent[] } // to be fanned out to the endpoints that want them
  | { kind: "delivery"; delivery_id: string }; // to one endpoint: its attempts are this message's

/** The queue takes at most 128 KB a message and 256 KB a send. */
const MESSAGE_BYTES = 100_000;
const SEND_BYTES = 200_000;
const utf8 = new TextEncoder();

/**
 * Events as queue sends: many to a message, so a rush's events make a few
 * messages rather than one each, within the queue's limits. In order.
 */
export function packEvents(events: WebhookEvent[]): QueueMessage[][] {
  const sends: QueueMessage[][] = [];
  let send: QueueMessage[] = [];
  let sendBytes = 0;
  let message: WebhookEvent[] = [];
  let messageBytes = 0;
  const close = () => {
    if (message.length === 0) return;
    if (sendBytes + messageBytes > SEND_BYTES) {
      sends.push(send);
      send = [];
      sendBytes = 0;
    }
    send.push({ kind: "events", events: message });
    sendBytes += messageBytes;
    message = [];
    messageBytes = 0;
  };
  for (const event of events) {
    const bytes = utf8.encode(JSON.stringify(event)).length + 1;
    if (messageBytes + bytes > MESSAGE_BYTES) close();
    message.push(event);
    messageBytes += bytes;
  }
  close();
  if (send.length > 0) sends.push(send);
  return sends;
}

export const newId = (prefix: "evt" | "dlv") => `${prefix}_${crypto.randomUUID().replaceAll("-", "")}`;
