// The README's walk-through as steps to run and answers to check. The
// walk-through is the README's "## Walk-through" section: its ```sh blocks are
// the commands, run in order in one shell. A comment line shows what a step
// answers, and ends the step:
//   # 201 {"id": 1, "status": "held", ...}   status and body of the step's last curl
//   # Idempotent-Replayed: true              a header of that answer (right below its status line)
//   # {"valid": true, ...}                   the JSON the step printed (a command other than curl)
// and a ```json block right after a ```sh block is the body of its last curl.
// In a pattern `...` stands for the rest (of an object or an array) or for a
// value that varies, a string ending in "..." for any string so beginning, and
// an ISO 8601 instant for any instant.

export interface Expect {
  status?: number;
  headers: [string, string][];
  body?: string; // a pattern, for the last curl's body
  stdout?: string; // a pattern, for the JSON the step printed last
}

export interface Step {
  line: number; // in the README, for the failure message
  commands: string;
  expect?: Expect;
}

export function walkthrough(readme: string): Step[] {
  const lines = readme.split("\n");
  const start = lines.indexOf("## Walk-through");
  if (start < 0) throw new Error("the README has no ## Walk-through section");
  const end = lines.findIndex((l, i) => i > start && l.startsWith("## "));
  const steps: Step[] = [];
  let previousFence = "";
  for (let i = start + 1; i < (end < 0 ? lines.length : end); i++) {
    const fence = /^```(\w*)$/.exec(lines[i]!);
    if (!fence) continue;
    const body: string[] = [];
    const first = i + 1;
    for (i++; lines[i] !== "```"; i++) body.push(lines[i]!);
    if (fence[1] === "sh") steps.push(...stepsOf(body, first));
    const last = steps.at(-1);
    if (fence[1] === "json" && previousFence === "sh" && last && !last.expect) {
      last.expect = { headers: [], body: body.join("\n") };
    }
    previousFence = fence[1]!;
  }
  return steps;
}

function stepsOf(lines: string[], firstLine: number): Step[] {
  const steps: Step[] = [];
  let commands: string[] = [];
  let line = firstLine;
  let expect: Expect | undefined;
  const close = () => {
    if (commands.some((c) => c.trim() && !c.startsWith("#")))
      steps.push({ line, commands: commands.join("\n"), expect });
    commands = [];
    expect = undefined;
  };
  lines.forEach((text, i) => {
    const status = /^# (\d{3})(?: (.*))?$/.exec(text);
    const header = /^# ([A-Za-z][\w-]*): (.*)$/.exec(text);
    const printed = /^# ([[{].*)$/.exec(text);
    if (status) {
      expect = { status: Number(status[1]), headers: [], body: status[2] };
    } else if (header && expect?.status !== undefined) {
      expect.headers.push([header[1]!, header[2]!]);
    } else if (printed) {
      expect = { headers: [], stdout: printed[1] };
    } else {
      if (expect) close();
      if (commands.length === 0) line = firstLine + i;
      commands.push(text);
    }
  });
  close();
  return steps;
}

const ANY = "...";
const INSTANT = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/;

/** A README pattern as JSON: `...` as the string "...", or as a key "..." in an object. */
export function parsePattern(text: string): unknown {
  return JSON.parse(
    text
      .replace(/\[\s*\.\.\.\s*\]|\{\s*\.\.\.\s*\}/g, `"${ANY}"`)
      .replace(/,\s*\.\.\.\s*\}/g, `, "${ANY}": "${ANY}"}`)
      .replace(/,\s*\.\.\.\s*\]/g, `, "${ANY}"]`),
  );
}

/** Where `actual` differs from `pattern`, as "path: why" lines; none when it matches. */
export function mismatches(pattern: unknown, actual: unknown, path = "$"): string[] {
  if (pattern === ANY) return [];
  if (typeof pattern === "string" && INSTANT.test(pattern)) {
    return typeof actual === "string" && INSTANT.test(actual)
      ? []
      : [`${path}: ${JSON.stringify(actual)} is no instant`];
  }
  if (typeof pattern === "string" && pattern.endsWith(ANY)) {
    const prefix = pattern.slice(0, -ANY.length);
    return typeof actual === "string" && actual.startsWith(prefix)
      ? []
      : [`${path}: ${JSON.stringify(actual)} does not start with ${JSON.stringify(prefix)}`];
  }
  if (Array.isArray(pattern)) {
    if (!Array.isArray(actual)) return [`${path}: ${JSON.stringify(actual)} is no array`];
    const open = pattern.at(-1) === ANY;
    const items = open ? pattern.slice(0, -1) : pattern;
    if (open ? actual.length < items.length : actual.length !== items.length) {
      return [`${path}: ${actual.length} items, not ${open ? "at least " : ""}${items.length}`];
    }
    return items.flatMap((p, i) => mismatches(p, actual[i], `${path}[${i}]`));
  }
  if (pattern !== null && typeof pattern === "object") {
    if (actual === null || typeof actual !== "object" || Array.isArray(actual)) {
      return [`${path}: ${JSON.stringify(actual)} is no object`];
    }
    const keys = Object.keys(pattern).filter((k) => k !== ANY);
    const extra = ANY in pattern ? [] : Object.keys(actual).filter((k) => !keys.includes(k));
    return [
      ...keys.flatMap((k) =>
        k in actual
          ? mismatches((pattern as Record<string, unknown>)[k], (actual as Record<string, unknown>)[k], `${path}.${k}`)
          : [`${path}.${k}: missing`],
      ),
      ...extra.map((k) => `${path}.${k}: not in the README`),
    ];
  }
  return pattern === actual ? [] : [`${path}: ${JSON.stringify(actual)}, not ${JSON.stringify(pattern)}`];
}
