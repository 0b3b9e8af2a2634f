// Starts the API under wrangler dev on a free loopback port, and stops it by
// its process id. Used by the benchmark and the end-to-end smoke.
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ensureDevVars } from "./dev-vars.ts";

export interface Server {
  url: string;
  /** The process group's leader: wrangler, with workerd below it. */
  pid: number;
  stop(): Promise<void>;
  /** SIGKILL to the whole process group (wrangler and workerd): a crash. */
  kill(): Promise<void>;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once("error", reject);
    probe.listen(0, "127.0.0.1", () => {
      const address = probe.address();
      probe.close(() =>
        typeof address === "object" && address ? resolve(address.port) : reject(new Error("no port")),
      );
    });
  });
}

/**
 * Runs `command args` (which must accept `--port` and `--ip`) in its own
 * process group, waits until GET /health answers, and returns the URL.
 * A port taken between choosing and binding it is retried with another.
 */
export async function startServer(command: string, args: string[], timeoutMs = 90_000): Promise<Server> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOnce(command, args, timeoutMs);
    } catch (err) {
      if (!(err instanceof PortTaken) || attempt === 3) throw err;
    }
  }
}

class PortTaken extends Error {}

async function startOnce(command: string, args: string[], timeoutMs: number): Promise<Server> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const child = spawn(command, [...args, "--port", String(port), "--ip", "127.0.0.1"], {
    detached: true, // own process group, so stop() ends wrangler and workerd together
    stdio: ["ignore", "pipe", "pipe"],
    // No Request.cf lookup at workers.cloudflare.com: offline it only prints DNS errors.
    env: { ...process.env, WRANGLER_SEND_METRICS: "false", CI: "true", CLOUDFLARE_CF_FETCH_ENABLED: "false" },
  });
  // Keep the start-up output for the error message; once up, only drain it.
  const chunks: Buffer[] = [];
  const keep = (chunk: Buffer) => chunks.push(chunk);
  child.stdout?.on("data", keep);
  child.stderr?.on("data", keep);
  const stop = () => stopProcess(child);
  const kill = () => stopProcess(child, "SIGKILL");
  // Even when this process is interrupted, the server does not outlive it.
  const killGroup = () => {
    try {
      if (child.pid !== undefined && child.exitCode === null && child.signalCode === null)
        process.kill(-child.pid, "SIGTERM");
    } catch {
      // already gone
    }
  };
  process.once("exit", killGroup);
  for (const signal of ["SIGINT", "SIGTERM"] as const) process.once(signal, () => process.exit(130));
  const up = () => {
    child.stdout?.off("data", keep);
    child.stderr?.off("data", keep);
    child.stdout?.resume();
    child.stderr?.resume();
    return { url, pid: child.pid!, stop, kill };
  };

  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) break;
    if (Buffer.concat(chunks).includes("Address already in use")) {
      await stop();
      throw new PortTaken(`port ${port} was taken`);
    }
    try {
      const res = await fetch(`${url}/health`, { signal: AbortSignal.timeout(2_000) });
      if (res.ok) return up();
    } catch {
      // not up yet
    }
    await new Promise((r) => setTimeout(r, 300));
  }
  await stop();
  throw new Error(
    `server did not answer on ${url} within ${timeoutMs} ms:\n${Buffer.concat(chunks).toString().slice(-20_000)}`,
  );
}

async function stopProcess(child: ChildProcess, first: NodeJS.Signals = "SIGTERM"): Promise<void> {
  // A child ended by a signal has signalCode set and exitCode still null.
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const signal = (sig: NodeJS.Signals) => {
    try {
      process.kill(-child.pid!, sig);
    } catch {
      // already gone
    }
  };
  signal(first);
  const timer = setTimeout(() => signal("SIGKILL"), 5_000);
  await exited;
  clearTimeout(timer);
}

/** wrangler dev on a throwaway, freshly migrated local D1: runs neither see nor leave data in .wrangler/. */
export async function startLocalServer(devArgs: string[] = []): Promise<Server> {
  ensureDevVars();
  const dir = mkdtempSync(join(tmpdir(), "tickets-api-"));
  const migrate = spawnSync("wrangler", ["d1", "migrations", "apply", "DB", "--local", "--persist-to", dir], {
    stdio: ["ignore", "ignore", "inherit"],
    env: { ...process.env, CI: "true" },
  });
  if (migrate.status !== 0) throw new Error("applying migrations failed");
  const server = await startServer("wrangler", ["dev", "--persist-to", dir, ...devArgs]);
  return {
    ...server,
    stop: async () => {
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function answers(url: string): Promise<boolean> {
  try {
    return (await fetch(`${url}/health`, { signal: AbortSignal.timeout(2_000) })).ok;
  } catch {
    return false;
  }
}

/** Runs `work` against the API at `url` if it answers, else against `npm run dev` started for the time it takes. */
export async function withApi<T>(url: string, work: (url: string) => Promise<T>): Promise<T> {
  if (await answers(url)) return work(url);
  console.log("no API at", url, "- starting npm run dev for this");
  const server = await startServer("npm", ["run", "dev", "--"]);
  try {
    return await work(server.url);
  } finally {
    await server.stop();
  }
}

/**
 * CPU time (ms) and bytes written to disk by a server's process group so far
 * (Linux /proc; zeros elsewhere). The CPU a request costs the server is a
 * figure a shared, noisy machine barely moves, unlike its rate.
 */
export function usageOf(pgid: number): { cpuMs: number; writtenBytes: number } {
  let cpuMs = 0;
  let writtenBytes = 0;
  let pids: string[] = [];
  try {
    pids = readdirSync("/proc").filter((d) => /^\d+$/.test(d));
  } catch {
    return { cpuMs, writtenBytes };
  }
  for (const pid of pids) {
    try {
      // Fields after the command's closing parenthesis: state, ppid, pgrp, ... utime (14th), stime (15th).
      const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
      const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (Number(f[2]) !== pgid) continue;
      cpuMs += ((Number(f[11]) + Number(f[12])) * 1000) / CLOCK_TICKS;
      const io = /write_bytes: (\d+)/.exec(readFileSync(`/proc/${pid}/io`, "utf8"));
      writtenBytes += Number(io?.[1] ?? 0);
    } catch {
      // gone meanwhile
    }
  }
  return { cpuMs, writtenBytes };
}
const CLOCK_TICKS = 100; // USER_HZ on Linux
