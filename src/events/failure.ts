import { connect } from "cloudflare:sockets";

// Why a delivery's request failed, in words an admin can act on. The runtime
// hides two causes: a name that does not resolve and a failed TLS handshake
// both reach the worker as "internal error; reference = …" (the cause is only
// in the runtime's own log). A plain TCP connection to the same host and port
// tells them apart: if it opens, the name resolved and TLS failed.

const PROBE_MS = 3_000;

/** Whether a TCP connection to `host:port` opens. */
export async function tcpOpens(host: string, port: number): Promise<boolean> {
  let socket: ReturnType<typeof connect> | undefined;
  try {
    socket = connect({ hostname: host, port });
    await Promise.race([
      socket.opened,
      new Promise((_, reject) => setTimeout(() => reject(new Error("probe timed out")), PROBE_MS)),
    ]);
    return true;
  } catch {
    return false;
  } finally {
    socket?.close().catch(() => {});
  }
}

export async function describeFailure(
  err: unknown,
  url: string,
  timeoutMs: number,
  probe: (host: string, port: number) => Promise<boolean> = tcpOpens,
): Promise<string> {
  const { name, message } = err as Error;
  const u = new URL(url);
  const port = Number(u.port || (u.protocol === "https:" ? 443 : 80));
  const where = `${u.hostname}:${port}`;
  if (name === "TimeoutError") return `timeout: no answer within ${timeoutMs / 1000} s`;
  if (message === "Network connection lost.") {
    return `connection refused or dropped: nothing accepted it at ${where}, or it closed before answering`;
  }
  if (/^internal error/.test(message)) {
    if (u.protocol === "https:" && (await probe(u.hostname, port))) {
      return `TLS handshake failed with ${where}: its certificate or TLS setup was refused`;
    }
    return `DNS: ${u.hostname} did not resolve (or cannot be reached)`;
  }
  return `${name}: ${message}`;
}
