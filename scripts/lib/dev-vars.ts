// The development secrets in .dev.vars (copied from .dev.vars.example when absent).
import { copyFileSync, existsSync, readFileSync } from "node:fs";
import { sign } from "hono/jwt";

const root = new URL("../../", import.meta.url);

export function ensureDevVars(): void {
  const vars = new URL(".dev.vars", root);
  if (!existsSync(vars)) {
    copyFileSync(new URL(".dev.vars.example", root), vars);
    console.error("created .dev.vars from .dev.vars.example (development-only secrets)");
  }
}

export function devVars(): Record<string, string> {
  ensureDevVars();
  const vars: Record<string, string> = {};
  for (const line of readFileSync(new URL(".dev.vars", root), "utf8").split("\n")) {
    const m = /^\s*([A-Z0-9_]+)\s*=\s*["']?(.*?)["']?\s*$/.exec(line);
    if (m) vars[m[1]!] = m[2]!;
  }
  return vars;
}

export const adminHeader = () => `Bearer ${devVars().ADMIN_TOKEN}`;

async function bearer(claims: Record<string, unknown>, ttlSeconds: number): Promise<string> {
  const secret = devVars().JWT_SECRET;
  if (!secret) throw new Error("JWT_SECRET is missing from .dev.vars");
  const now = Math.floor(Date.now() / 1000);
  return `Bearer ${await sign({ ...claims, iat: now, exp: now + ttlSeconds }, secret, "HS256")}`;
}

/** A user's HS256 token signed with the development JWT_SECRET. */
export const userBearer = (userId: number, ttlSeconds = 3600) => bearer({ sub: String(userId) }, ttlSeconds);

/** Gate staff's token: may scan the entries of `games`, nothing else. */
export const gateBearer = (scanner: string, games: number[], ttlSeconds = 3600) =>
  bearer({ sub: scanner, role: "gate", games }, ttlSeconds);
