import { Resvg } from "@resvg/resvg-js";
import jsqr from "jsqr";
import { expect, inject, it } from "vitest";
import { adminHeader, userBearer } from "../../scripts/lib/dev-vars.ts";

// The QR image of an entry decodes back to its code: the worker's SVG is
// rasterized by a real SVG renderer (resvg) and read by a QR decoder of
// another implementation (jsQR), as a scanner's camera would.

// A CommonJS package whose types describe an ES module's default export.
const jsQR = jsqr.default;

function decode(svg: string, width: number): string | undefined {
  const image = new Resvg(svg, { fitTo: { mode: "width", value: width } }).render();
  return jsQR(new Uint8ClampedArray(image.pixels), image.width, image.height)?.data;
}

it("decodes an entry's QR image to its code", async () => {
  const url = inject("apiUrl");
  const admin = { Authorization: adminHeader(), "Content-Type": "application/json" };
  const user = 5_000 + Math.floor(Math.random() * 1e6);
  const ticket = (await (
    await fetch(`${url}/tickets`, {
      method: "POST",
      headers: admin,
      body: JSON.stringify({ game_id: 8_000_000 + user, name: "QR Stand", price: 5, stock: 5 }),
    })
  ).json()) as { id: number };
  const purchase = (await (
    await fetch(`${url}/tickets/buy`, {
      method: "POST",
      headers: admin,
      body: JSON.stringify({ user_id: user, ticket_id: ticket.id, quantity: 2 }),
    })
  ).json()) as { id: number };
  const fan = { Authorization: await userBearer(user) };
  const { entries } = (await (await fetch(`${url}/purchases/${purchase.id}`, { headers: fan })).json()) as {
    entries: { id: number; code: string }[];
  };
  expect(entries).toHaveLength(2);
  const decoded = [];
  for (const entry of entries) {
    const res = await fetch(`${url}/entries/${entry.id}/qr.svg`, { headers: fan });
    expect(res.status).toBe(200);
    expect(res.headers.get("Content-Type")).toBe("image/svg+xml");
    const svg = await res.text();
    expect(decode(svg, 400)).toBe(entry.code);
    decoded.push(decode(svg, 160)); // a small screen: under 4 pixels a module
  }
  expect(decoded).toEqual(entries.map((e) => e.code));
});
