// `... | npm run -s json -- .entries[0].code`: reads a JSON answer on stdin,
// shows it (indented, on stderr, so a person still sees it), and prints the
// value at the path on stdout, for the shell to keep: strings as they are,
// anything else as JSON. The walk-through's stand-in for jq. Exits 1, saying
// why, when the input is not JSON or has nothing at the path (a problem
// document, say: it is shown above the message).
import { text } from "node:stream/consumers";

const path = process.argv[2] ?? ".";
const input = await text(process.stdin);
let value: unknown;
try {
  value = JSON.parse(input);
} catch {
  process.stderr.write(`${input}\njson: this is not JSON\n`);
  process.exit(1);
}
process.stderr.write(`${JSON.stringify(value, null, 2)}\n`);

// ".a.b[0].c" or ".a.b.0.c"
const steps = path.match(/[^.[\]]+/g) ?? [];
for (const step of steps) {
  const here = value as Record<string, unknown> | null;
  if (typeof here !== "object" || here === null || !(step in here)) {
    process.stderr.write(`json: nothing at ${path}\n`);
    process.exit(1);
  }
  value = here[step];
}
console.log(typeof value === "string" ? value : JSON.stringify(value));
