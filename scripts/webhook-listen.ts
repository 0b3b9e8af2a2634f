// `npm run webhook:listen [-- --api http://127.0.0.1:8787 --port 8788 --events purchase.confirmed,...]`:
// a tiny local endpoint for trying webhooks. It registers itself with the
// API running under `npm run dev` (as the development admin), prints every
// event it receives with whether its signature verified, and removes its
// registration when stopped (Ctrl-C).
import { parseArgs } from "node:util";
import { adminHeader } from "./lib/dev-vars.ts";
import { startReceiver } from "./lib/webhook-receiver.ts";

const { values } = parseArgs({
  options: {
    api: { type: "string", default: "http://127.0.0.1:8787" },
    port: { type: "string", default: "8788" },
    events: { type: "string", default: "*" },
  },
});
const receiver = await startReceiver(Number(values.port), (e) =>
  console.log(JSON.stringify({ verified: e.verified, id: e.id, type: e.type, data: e.data })),
);
const headers = { Authorization: adminHeader(), "Content-Type": "application/json" };
const res = await fetch(`${values.api}/webhooks`, {
  method: "POST",
  headers,
  body: JSON.stringify({ url: receiver.url, event_types: values.events.split(",") }),
}).catch((err: unknown) => {
  console.error(`cannot reach the API at ${values.api} (is \`npm run dev\` running?): ${err}`);
  process.exit(1);
});
const hook = (await res.json()) as { id: number; secret: string; detail?: string };
if (res.status !== 201) {
  console.error(`registering ${receiver.url} failed: ${res.status} ${hook.detail ?? ""}`);
  process.exit(1);
}
receiver.useSecret(hook.secret);
console.error(`listening on ${receiver.url} as webhook ${hook.id}; events print below, one JSON line each`);

const stop = async () => {
  await fetch(`${values.api}/webhooks/${hook.id}`, { method: "DELETE", headers }).catch(() => {});
  await receiver.close();
  process.exit(0);
};
process.on("SIGINT", stop);
process.on("SIGTERM", stop);
