import { execFileSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect, inject, it } from "vitest";
import { adminHeader } from "../../scripts/lib/dev-vars.ts";

// A code checks out offline, with nothing but the published public keys:
// scripts/verify-code.ts, a separate implementation, on a code from the API.

const verify = (...args: string[]) => {
  try {
    const out = execFileSync("node", ["scripts/verify-code.ts", ...args], { encoding: "utf8", stdio: "pipe" });
    return { status: 0, out, err: "" };
  } catch (err) {
    const e = err as { status: number; stdout: string; stderr: string };
    return { status: e.status, out: e.stdout, err: e.stderr };
  }
};

it("verifies an entry code with only the published keys, and refuses a tampered one", async () => {
  const url = inject("apiUrl");
  const headers = { Authorization: adminHeader(), "Content-Type": "application/json" };
  const game = 7_000 + Math.floor(Math.random() * 1e6);
  const ticket = (await (
    await fetch(`${url}/tickets`, {
      method: "POST",
      headers,
      body: JSON.stringify({ game_id: game, name: "Gate", price: 5, stock: 5 }),
    })
  ).json()) as { id: number };
  const purchase = (await (
    await fetch(`${url}/tickets/buy`, {
      method: "POST",
      headers,
      body: JSON.stringify({ user_id: 3, ticket_id: ticket.id }),
    })
  ).json()) as { id: number };
  const { entries } = (await (await fetch(`${url}/purchases/${purchase.id}`, { headers })).json()) as {
    entries: { id: number; code: string }[];
  };
  const keys = join(mkdtempSync(join(tmpdir(), "gate-keys-")), "keys.json");
  writeFileSync(keys, await (await fetch(`${url}/games/${game}/gate-keys`)).text()); // saved once, then offline

  const ok = verify(entries[0]!.code, "--keys", keys);
  expect(ok.status).toBe(0);
  expect(JSON.parse(ok.out)).toMatchObject({
    valid: true,
    entry_id: entries[0]!.id,
    ticket_id: ticket.id,
    game_id: game,
  });
  const code = entries[0]!.code;
  const tampered = code.slice(0, 30) + (code[30] === "A" ? "B" : "A") + code.slice(31);
  const bad = verify(tampered, "--keys", keys);
  expect(bad.status).toBe(1);
  expect(JSON.parse(bad.out)).toMatchObject({ valid: false });

  // Just the array of keys does too; anything else is a clear refusal, not a stack trace.
  writeFileSync(keys, JSON.stringify(JSON.parse(await (await fetch(`${url}/games/${game}/gate-keys`)).text()).keys));
  expect(verify(entries[0]!.code, "--keys", keys).status).toBe(0);
  writeFileSync(keys, '{"kid": "dev-1"}');
  const junk = verify(entries[0]!.code, "--keys", keys);
  expect(junk.status).toBe(2);
  expect(junk.err).toMatch(/does not hold gate keys/);
  expect(junk.err).not.toMatch(/\bat .*\.ts:\d+/);
});
