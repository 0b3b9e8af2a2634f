import { describe, expect, it } from "vitest";
import { describeFailure } from "../src/events/failure";

// The words a delivery records for a request that got no HTTP answer. The
// errors are the ones workerd throws (seen under wrangler dev); the e2e test
// test/e2e/delivery-failure.test.ts provokes each for real.

const internal = new Error("internal error; reference = 25gcf03mi04inolcav6bm4kb");
const probed: string[] = [];
const probe = (opens: boolean) => async (host: string, port: number) => {
  probed.push(`${host}:${port}`);
  return opens;
};

describe("describeFailure", () => {
  it("names a timeout, a refused connection, a DNS failure and a TLS failure", async () => {
    const timeout = new DOMException("The operation was aborted due to timeout", "TimeoutError");
    expect(await describeFailure(timeout, "https://crm.club.example/hooks", 10_000)).toBe(
      "timeout: no answer within 10 s",
    );
    expect(await describeFailure(new Error("Network connection lost."), "http://localhost:9/hooks", 10_000)).toMatch(
      /^connection refused or dropped: .* at localhost:9/,
    );
    expect(await describeFailure(internal, "https://crm.club.example/hooks", 10_000, probe(false))).toBe(
      "DNS: crm.club.example did not resolve (or cannot be reached)",
    );
    expect(await describeFailure(internal, "https://crm.club.example:8443/hooks", 10_000, probe(true))).toBe(
      "TLS handshake failed with crm.club.example:8443: its certificate or TLS setup was refused",
    );
    expect(probed).toEqual(["crm.club.example:443", "crm.club.example:8443"]);
  });

  it("never reports the runtime's bare reference, and keeps other errors as they are", async () => {
    expect(await describeFailure(internal, "http://crm.club.example/hooks", 10_000, probe(true))).not.toMatch(
      /internal error/,
    );
    expect(await describeFailure(new TypeError("Invalid URL"), "https://a.example/", 10_000)).toBe(
      "TypeError: Invalid URL",
    );
  });
});
