import { type ChildProcessWithoutNullStreams, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, expect, it } from "vitest";
import { freePort, type Server, startServer } from "../../scripts/lib/server.ts";
import { startStripeFake } from "../../scripts/lib/stripe-fake.ts";
import { type Expect, mismatches, parsePattern, type Step, walkthrough } from "./readme-walkthrough.ts";

// The README's walk-through, run as a newcomer runs it: its shell blocks in
// order, in one bash session in the project's folder, against `npm run dev`
// (on a fresh local database) and `npm run stripe:fake`'s stand-in, each
// answer checked against what the README shows. Only the addresses change:
// localhost:8787 and 127.0.0.1:12111 become the free ports used here.

const root = join(import.meta.dirname, "../..");
const steps = walkthrough(readFileSync(join(root, "README.md"), "utf8"));
const scratch = mkdtempSync(join(tmpdir(), "readme-"));
const state = join(scratch, "state");
const STEP_MS = 60_000;
const EVENTUALLY_MS = 30_000; // a read that shows queued work (a webhook delivery) may take a moment

let server: Server | undefined;
let stripe: { url: string; close(): Promise<void> } | undefined;
let shell: Shell | undefined;
afterAll(async () => {
  shell?.close();
  await server?.stop();
  await stripe?.close();
  rmSync(scratch, { recursive: true, force: true });
  // What the walk-through leaves in the project's folder.
  for (const file of ["keys.json", "entry.svg"]) rmSync(join(root, file), { force: true });
});

/** One bash process; `run` feeds it a step and collects what the step printed. */
class Shell {
  #bash: ChildProcessWithoutNullStreams;
  #out = "";
  #err = "";
  #steps = 0;
  constructor(env: Record<string, string>) {
    this.#bash = spawn("bash", ["--noprofile", "--norc"], { cwd: root, env: { ...process.env, ...env } });
    this.#bash.stdout.on("data", (d: Buffer) => {
      this.#out += d.toString();
    });
    this.#bash.stderr.on("data", (d: Buffer) => {
      this.#err += d.toString();
    });
  }
  async run(commands: string): Promise<{ code: number; stdout: string; stderr: string }> {
    const marker = `__step_${++this.#steps}_done__`;
    this.#out = "";
    this.#err = "";
    this.#bash.stdin.write(`rm -f "$W/headers" "$W/body"\n${commands}\nprintf '\\n${marker} %s\\n' "$?"\n`);
    const done = new RegExp(`\\n${marker} (\\d+)\\n`);
    for (let waited = 0; !done.test(this.#out); waited += 50) {
      if (waited > STEP_MS) throw new Error(`no end within ${STEP_MS} ms:\n${commands}\n${this.#out}\n${this.#err}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    const [whole, code] = done.exec(this.#out)!;
    return { code: Number(code), stdout: this.#out.slice(0, this.#out.indexOf(whole)), stderr: this.#err };
  }
  close() {
    this.#bash.stdin.end();
    this.#bash.kill();
  }
}

/** What the last curl of a step answered: recorded by the shell's `curl`, a wrapper of the real one. */
function lastAnswer() {
  const headersFile = join(scratch, "headers");
  if (!existsSync(headersFile)) return undefined;
  const lines = readFileSync(headersFile, "utf8").split(/\r?\n/);
  const at = lines.findLastIndex((l) => /^HTTP\/\S+ \d{3}/.test(l));
  const headers = new Headers();
  for (const l of lines.slice(at + 1)) {
    const colon = l.indexOf(":");
    if (colon > 0) headers.append(l.slice(0, colon), l.slice(colon + 1).trim());
  }
  const body = readFileSync(join(scratch, "body"), "utf8");
  return { status: Number(lines[at]!.split(" ")[1]), headers, body };
}

function problems(expected: Expect | undefined, ran: { code: number; stdout: string }): string[] {
  if (ran.code !== 0) return [`exit code ${ran.code}`];
  if (!expected) return [];
  const found: string[] = [];
  const json = (text: string, what: string) => {
    try {
      return JSON.parse(text) as unknown;
    } catch {
      found.push(`${what} is not JSON: ${text.slice(0, 300)}`);
    }
  };
  if (expected.stdout !== undefined) {
    const printed = ran.stdout.trim().split("\n").at(-1) ?? "";
    const actual = json(printed, "what it printed");
    if (actual !== undefined) found.push(...mismatches(parsePattern(expected.stdout), actual));
    return found;
  }
  const answer = lastAnswer();
  if (!answer) return ["no curl answered"];
  if (expected.status !== undefined && answer.status !== expected.status) found.push(`status ${answer.status}`);
  if (expected.status === undefined && answer.status >= 300) found.push(`status ${answer.status}`);
  for (const [name, value] of expected.headers) {
    if (answer.headers.get(name) !== value) found.push(`header ${name}: ${answer.headers.get(name)}`);
  }
  if (expected.body) {
    const actual = json(answer.body, "the body");
    if (actual !== undefined) found.push(...mismatches(parsePattern(expected.body), actual));
  }
  return found.length > 0 ? [...found, `the answer: ${answer.status} ${answer.body.slice(0, 1_500)}`] : [];
}

const readOnly = (step: Step) => !/-X (POST|PATCH|PUT|DELETE)\b|stripe:fake/.test(step.commands);

it("runs the README's walk-through top to bottom, every answer as the README shows it", async () => {
  expect(steps.length).toBeGreaterThan(20);
  const stripePort = await freePort();
  const vars = {
    STRIPE_API_BASE: `http://127.0.0.1:${stripePort}`,
    STRIPE_SECRET_KEY: "sk_test_readme",
    STRIPE_WEBHOOK_SECRET: "whsec_readme",
  };
  server = await startServer("npm", [
    "run",
    "dev",
    "--",
    "--persist-to",
    state,
    ...Object.entries(vars).flatMap(([name, value]) => ["--var", `${name}:${value}`]),
  ]);
  stripe = await startStripeFake({
    port: stripePort,
    secretKey: vars.STRIPE_SECRET_KEY,
    webhookSecret: vars.STRIPE_WEBHOOK_SECRET,
    forwardTo: `${server.url}/payments/stripe/webhook`,
  });
  const here = (text: string) =>
    text
      .replaceAll("localhost:8787", server!.url.slice("http://".length))
      .replaceAll("127.0.0.1:12111", `127.0.0.1:${stripePort}`);
  shell = new Shell({ W: scratch, STRIPE_API_BASE: vars.STRIPE_API_BASE });
  await shell.run(`curl() { command curl -D "$W/headers" "$@" | tee "$W/body"; return "\${PIPESTATUS[0]}"; }`);

  for (const step of steps) {
    const expected = step.expect && {
      ...step.expect,
      body: step.expect.body && here(step.expect.body),
      stdout: step.expect.stdout && here(step.expect.stdout),
    };
    const started = Date.now();
    let ran = await shell.run(here(step.commands));
    let found = problems(expected, ran);
    while (found.length > 0 && readOnly(step) && Date.now() - started < EVENTUALLY_MS) {
      await new Promise((r) => setTimeout(r, 500));
      ran = await shell.run(here(step.commands));
      found = problems(expected, ran);
    }
    expect(
      found,
      `README line ${step.line}:\n${step.commands}\nexpected ${JSON.stringify(step.expect)}\n` +
        `stdout: ${ran.stdout.slice(0, 1_500)}\nstderr: ${ran.stderr.slice(-1_500)}`,
    ).toEqual([]);
  }
}, 600_000);
