import { existsSync, mkdirSync } from "node:fs";
import { type Browser, chromium } from "playwright-core";
import { afterAll, beforeAll, expect, inject, it } from "vitest";
import { adminHeader } from "../../scripts/lib/dev-vars.ts";

// Debian's chromium (.ci/run installs it). Without it a developer's run
// skips this file; CI, which must prove the page, fails instead.
const CHROMIUM = "/usr/bin/chromium";
const available = existsSync(CHROMIUM);
if (!available && process.env.CI) throw new Error(`${CHROMIUM} is missing: apt-get install chromium`);

let browser: Browser;
beforeAll(async () => {
  if (!available) return;
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
});
afterAll(() => browser?.close());

it.skipIf(!available)(
  "renders /docs: every operation and webhook, each error with its own examples, try-it on this server",
  async () => {
    const url = inject("apiUrl");
    const doc = (await (await fetch(`${url}/openapi.json`)).json()) as {
      paths: Record<string, Record<string, unknown>>;
      webhooks: Record<string, unknown>;
    };
    // Every operation, and every webhook (Swagger UI lists them after the operations).
    const operations =
      Object.values(doc.paths).reduce((n, item) => n + Object.keys(item).length, 0) + Object.keys(doc.webhooks).length;

    const page = await browser.newPage();
    const offsite: string[] = [];
    page.on("request", (r) => {
      if (!r.url().startsWith(url)) offsite.push(r.url());
    });
    await page.goto(`${url}/docs`);
    await page.waitForSelector(".opblock", { timeout: 20_000 });
    expect(await page.locator(".opblock").count()).toBe(operations);
    const listed = await page
      .locator(".opblock-summary-path")
      .evaluateAll((els) => els.map((e) => e.getAttribute("data-path")));
    expect(listed).toEqual(
      expect.arrayContaining([
        "/tickets/buy",
        "/tickets/{ticket_id}",
        "/tickets/game/{game_id}",
        "/tickets/user/{user_id}",
      ]),
    );

    // Try it: read a real ticket from the local server through the page.
    const created = await fetch(`${url}/tickets`, {
      method: "POST",
      headers: { Authorization: adminHeader(), "Content-Type": "application/json" },
      body: JSON.stringify({ game_id: 7, name: "Docs Stand", price: 20, stock: 9 }),
    });
    const ticket = (await created.json()) as { id: number };
    const op = page.locator(".opblock-get", {
      has: page.locator('.opblock-summary-path[data-path="/tickets/{ticket_id}"]'),
    });
    await op.locator(".opblock-summary").click();
    await op.locator("button.try-out__btn").click();
    await op.locator('input[placeholder="ticket_id"]').fill(String(ticket.id));
    await op.locator("button.execute").click();
    const status = op.locator(".live-responses-table tbody .response-col_status");
    await expect.poll(() => status.first().textContent(), { timeout: 10_000 }).toContain("200");
    await expect
      .poll(() => op.locator(".live-responses-table tbody .response-col_description").first().textContent())
      .toContain("Docs Stand");

    // Each error answer shows its own example: a 401 renders as a 401, not as the 409 every answer once showed.
    const buy = page.locator(".opblock-post", {
      has: page.locator('.opblock-summary-path[data-path="/tickets/buy"]'),
    });
    await buy.locator(".opblock-summary").click();
    const answer = (code: number) => buy.locator(`tr.response[data-code="${code}"]`);
    await expect.poll(() => answer(401).textContent()).toContain('"status": 401');
    expect(await answer(401).textContent()).toContain('"code": "unauthorized"');
    const named = await answer(503)
      .locator(".examples-select-element option")
      .evaluateAll((els) => els.map((e) => e.getAttribute("value")));
    expect(named).toEqual(["unavailable", "overloaded", "outcome_unknown"]);
    // "Try it out" leaves the Idempotency-Key empty: no one fixed key that would make a second try a replay.
    await buy.locator("button.try-out__btn").click();
    expect(await buy.locator('tr[data-param-name="idempotency-key"] input').inputValue()).toBe("");

    mkdirSync("test-artifacts", { recursive: true });
    await page.screenshot({ path: "test-artifacts/docs.png", fullPage: true });
    expect(offsite).toEqual([]); // no CDN: everything came from the API itself
  },
);
