import { createRoute } from "@hono/zod-openapi";
import { database } from "../../db/queries";
import * as hooks from "../../db/webhooks";
import { newSecret } from "../../events/signing";
import { webhookUrlProblem } from "../../events/urls";
import { auth, keysUnavailable } from "../auth";
import { bearer, json, openApiRouter, problems } from "../openapi";
import { invalid, notFound, outcomeUnknown } from "../problem";
import { read } from "../read-model";
import {
  deliveriesQuery,
  deliveryIdParam,
  deliverySchema,
  webhookCreatedSchema,
  webhookCreateSchema,
  webhookIdParam,
  webhookPatchSchema,
  webhookSchema,
} from "../schemas";
import { jsonBody } from "../validate";

// Admin endpoints for webhooks: where events go, and how their deliveries went.

const admin = { tags: ["webhooks"], security: bearer };
const gone = () => notFound("No webhook has this id.");
const noDelivery = () => notFound("No such delivery.");
const writeFailed = (retry: string) =>
  outcomeUnknown(`D1 did not answer; this may or may not have been done. ${retry}`);
const CREATE_RETRY = "GET /webhooks shows whether it exists.";
const SAFE_TO_RETRY = "Retrying it is safe.";
const TOKEN_UNCHECKED = "`unavailable`: a user's token could not be checked; nothing was done.";
const RETRY_RETRY = "Retrying it is safe: a delivery sent twice has the same webhook-id.";
const body = <T>(schema: T, description: string) => ({
  body: { content: { "application/json": { schema } }, description, required: true },
});

const createWebhook = createRoute({
  ...admin,
  operationId: "createWebhook",
  method: "post",
  path: "/",
  summary: "Register an endpoint for events",
  description:
    "Deliveries are signed (Standard Webhooks: webhook-id, webhook-timestamp, webhook-signature) with the secret in " +
    "this answer, which is not shown again. At least once: de-duplicate by webhook-id.",
  middleware: [auth("admin"), jsonBody] as const,
  request: body(webhookCreateSchema, "The endpoint"),
  responses: {
    201: json(webhookCreatedSchema, "Registered; the secret is shown only here"),
    ...problems([400, 401, 403, 413, 415, 503], {
      503: {
        description: `${TOKEN_UNCHECKED} \`outcome_unknown\`: D1 did not answer; the endpoint may or may not exist (GET /webhooks shows it)`,
        examples: [keysUnavailable(), writeFailed(CREATE_RETRY)],
      },
    }),
  },
});

const listWebhooks = createRoute({
  ...admin,
  operationId: "listWebhooks",
  method: "get",
  path: "/",
  summary: "The registered endpoints",
  middleware: [auth("admin")] as const,
  responses: { 200: json(webhookSchema.array(), "The endpoints, oldest first"), ...problems([401, 403, 503]) },
});

const getWebhook = createRoute({
  ...admin,
  operationId: "getWebhook",
  method: "get",
  path: "/{webhook_id}",
  summary: "One endpoint",
  middleware: [auth("admin")] as const,
  request: { params: webhookIdParam },
  responses: {
    200: json(webhookSchema, "The endpoint"),
    ...problems([400, 401, 403, 404, 503], { 404: { examples: [gone()] } }),
  },
});

const patchWebhook = createRoute({
  ...admin,
  operationId: "updateWebhook",
  method: "patch",
  path: "/{webhook_id}",
  summary: "Change an endpoint: its URL, its events, enabled or not",
  middleware: [auth("admin"), jsonBody] as const,
  request: { params: webhookIdParam, ...body(webhookPatchSchema, "The fields to change") },
  responses: {
    200: json(webhookSchema, "The endpoint as changed"),
    ...problems([400, 401, 403, 404, 413, 415, 503], {
      404: { examples: [gone()] },
      503: {
        description: `${TOKEN_UNCHECKED} \`outcome_unknown\`: the change may or may not have been made; retrying it is safe`,
        examples: [keysUnavailable(), writeFailed(SAFE_TO_RETRY)],
      },
    }),
  },
});

const deleteWebhook = createRoute({
  ...admin,
  operationId: "deleteWebhook",
  method: "delete",
  path: "/{webhook_id}",
  summary: "Remove an endpoint and its deliveries' records",
  middleware: [auth("admin")] as const,
  request: { params: webhookIdParam },
  responses: {
    204: { description: "Removed: queued deliveries to it stop" },
    ...problems([400, 401, 403, 404, 503], {
      404: { examples: [gone()] },
      503: {
        description: `${TOKEN_UNCHECKED} \`outcome_unknown\`: retrying is safe`,
        examples: [keysUnavailable(), writeFailed(SAFE_TO_RETRY)],
      },
    }),
  },
});

const listDeliveries = createRoute({
  ...admin,
  operationId: "listWebhookDeliveries",
  method: "get",
  path: "/{webhook_id}/deliveries",
  summary: "Recent deliveries to an endpoint",
  description: "Newest first: each delivery's status, attempts, last response code and duration, and next retry.",
  middleware: [auth("admin")] as const,
  request: { params: webhookIdParam, query: deliveriesQuery },
  responses: {
    200: json(deliverySchema.array(), "The deliveries"),
    ...problems([400, 401, 403, 404, 503], { 404: { examples: [gone()] } }),
  },
});

const retryDelivery = createRoute({
  ...admin,
  operationId: "retryWebhookDelivery",
  method: "post",
  path: "/{webhook_id}/deliveries/{delivery_id}/retry",
  summary: "Deliver an event again now",
  description: "Whatever its status (a receiver that lost it may ask again): queued at once, with its retries afresh.",
  middleware: [auth("admin")] as const,
  request: { params: deliveryIdParam },
  responses: {
    202: json(deliverySchema, "Queued"),
    ...problems([400, 401, 403, 404, 503], {
      404: { examples: [noDelivery()] },
      503: {
        description: "`unavailable`: nothing was done. `outcome_unknown`: it may be queued; retrying is safe",
        examples: ["unavailable", writeFailed(RETRY_RETRY)],
      },
    }),
  },
});

/** An admin write to D1: no answer means it may or may not have been made. */
async function write<T>(query: Promise<T>, retry: string): Promise<T> {
  try {
    return await query;
  } catch (err) {
    console.error(JSON.stringify({ level: "error", message: "webhook write failed", error: String(err) }));
    throw writeFailed(retry);
  }
}

const shown = ({ secret: _, ...webhook }: hooks.WebhookRow) => webhook;

function checkUrl(url: string | undefined, env: Env): void {
  const problem = url === undefined ? null : webhookUrlProblem(url, env.ENVIRONMENT === "development");
  if (problem) throw invalid([{ field: "url", message: problem }]);
}

export const webhooksRouter = openApiRouter()
  .openapi(createWebhook, async (c) => {
    const input = c.req.valid("json");
    checkUrl(input.url, c.env);
    const row = await write(hooks.createWebhook(database(c.get("d1").primary), input, newSecret()), CREATE_RETRY);
    return c.json({ ...shown(row), secret: row.secret }, 201, { Location: `/webhooks/${row.id}` });
  })
  .openapi(listWebhooks, async (c) => c.json((await read(c, hooks.listWebhooks)).map(shown), 200))
  .openapi(getWebhook, async (c) => {
    const row = await read(c, (db) => hooks.getWebhook(db, c.req.valid("param").webhook_id));
    if (!row) throw gone();
    return c.json(shown(row), 200);
  })
  .openapi(patchWebhook, async (c) => {
    const patch = c.req.valid("json");
    checkUrl(patch.url, c.env);
    const row = await write(
      hooks.updateWebhook(database(c.get("d1").primary), c.req.valid("param").webhook_id, patch),
      SAFE_TO_RETRY,
    );
    if (!row) throw gone();
    return c.json(shown(row), 200);
  })
  .openapi(deleteWebhook, async (c) => {
    const deleted = await write(
      hooks.deleteWebhook(database(c.get("d1").primary), c.req.valid("param").webhook_id),
      SAFE_TO_RETRY,
    );
    if (!deleted) throw gone();
    return c.body(null, 204);
  })
  .openapi(listDeliveries, async (c) => {
    const { webhook_id } = c.req.valid("param");
    if (!(await read(c, (db) => hooks.getWebhook(db, webhook_id)))) throw gone();
    return c.json(await read(c, (db) => hooks.listDeliveries(db, webhook_id, c.req.valid("query").limit)), 200);
  })
  .openapi(retryDelivery, async (c) => {
    const { webhook_id, delivery_id } = c.req.valid("param");
    const before = await read(c, (db) => hooks.getDelivery(db, webhook_id, delivery_id));
    if (!before) throw noDelivery();
    const db = database(c.get("d1").primary);
    const retried = await write(
      (async () => {
        await hooks.setDeliveryStatus(db, delivery_id, "pending");
        try {
          await c.env.EVENTS.send({ kind: "delivery", delivery_id });
        } catch (err) {
          // Not queued: put its status back, or it would stay "pending" with nothing to attempt it.
          await hooks.setDeliveryStatus(db, delivery_id, before.status, before.next_retry_at).catch(() => {});
          throw err;
        }
        return hooks.getDelivery(db, webhook_id, delivery_id);
      })(),
      RETRY_RETRY,
    );
    if (!retried) throw noDelivery(); // its endpoint was deleted meanwhile
    return c.json(retried, 202);
  });
