// Where webhooks may point: public https endpoints. A URL naming a private
// address (loopback, RFC 1918, link-local, cloud metadata, ...) is refused,
// so the API cannot be turned against the network it runs in. In
// development, http(s)://localhost and loopback literals are allowed.

/** IPv4 ranges that are not the public internet: [first octets, prefix length]. */
const PRIVATE_V4: [number[], number][] = [
  [[0], 8], // "this" network
  [[10], 8], // RFC 1918
  [[100, 64], 10], // carrier-grade NAT
  [[127], 8], // loopback
  [[169, 254], 16], // link-local, with the cloud metadata address 169.254.169.254
  [[172, 16], 12], // RFC 1918
  [[192, 0, 0], 24], // IETF protocol assignments
  [[192, 0, 2], 24], // documentation
  [[192, 168], 16], // RFC 1918
  [[198, 18], 15], // benchmarking
  [[198, 51, 100], 24], // documentation
  [[203, 0, 113], 24], // documentation
  [[224], 3], // multicast, reserved, broadcast
];

function ipv4(host: string): number | null {
  const parts = host.split(".");
  if (parts.length !== 4 || !parts.every((p) => /^\d{1,3}$/.test(p) && Number(p) <= 255)) return null;
  return parts.reduce((n, p) => n * 256 + Number(p), 0);
}

function privateV4(address: number): boolean {
  return PRIVATE_V4.some(([octets, bits]) => {
    const start = [...octets, 0, 0, 0, 0].slice(0, 4).reduce((n, o) => n * 256 + o, 0);
    const size = 2 ** (32 - bits);
    return address >= start && address < start + size;
  });
}

/** The 16-bit groups of an IPv6 literal (the URL parser has already normalized it), or null. */
function ipv6(host: string): number[] | null {
  if (!host.startsWith("[") || !host.endsWith("]")) return null;
  const text = host.slice(1, -1);
  const [head = "", tail] = text.split("::");
  const groups = (s: string) => (s ? s.split(":").map((g) => Number.parseInt(g, 16)) : []);
  const front = groups(head);
  const back = tail === undefined ? [] : groups(tail);
  return [...front, ...Array(8 - front.length - back.length).fill(0), ...back];
}

/**
 * Only global unicast (2000::/3) is public: that leaves out loopback, ULA (with AWS's metadata fd00:ec2::254),
 * link- and site-local, multicast, and every form that carries an IPv4 address (mapped, compatible,
 * translated, NAT64). Inside it, Teredo, documentation and 6to4 (an IPv4 address again) are refused too.
 */
function privateV6(g: number[]): boolean {
  const [a = 0, b = 0] = g;
  if ((a & 0xe000) !== 0x2000) return true;
  if (a === 0x2001 && (b === 0 || b === 0x0db8)) return true;
  return a === 0x2002;
}

const LOCAL_NAMES = /(^|\.)(localhost|local|internal|localdomain|home\.arpa)$/;

/** Why `url` may not receive webhooks, or null when it may. */
export function webhookUrlProblem(url: string, development: boolean): string | null {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return "must be an absolute URL";
  }
  const host = u.hostname.toLowerCase().replace(/\.+$/, ""); // "localhost." is localhost
  const v4 = ipv4(host);
  const v6 = ipv6(host);
  const loopback = host === "localhost" || (v4 !== null && v4 >>> 24 === 127) || host === "[::1]";
  if (u.username || u.password) return "must not carry credentials: the signature authenticates deliveries";
  if (development && loopback && (u.protocol === "http:" || u.protocol === "https:")) return null;
  if (u.protocol !== "https:") return "must use https";
  if (v4 !== null ? privateV4(v4) : v6 !== null ? privateV6(v6) : LOCAL_NAMES.test(host) || !host.includes(".")) {
    return "must not point to a private, loopback, link-local or metadata address";
  }
  return null;
}
