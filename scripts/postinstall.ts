// Runs after `npm install` / `npm ci`. Generates what the worker build needs
// from the installed packages, so it always matches them:
// 1. public/docs/assets: Swagger UI's browser files, so /docs needs no CDN.
// 2. build/zod-lean*.js: zod's public API minus its ~40 bundled locale packs
//    (English only is used), its schema compiler (z.compile) and its JSON
//    Schema importer (z.fromJSONSchema), which nothing here uses. wrangler.toml
//    aliases "zod" to it: the `z` namespace object keeps every export it has,
//    used or not.
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";

const root = new URL("../", import.meta.url);
const resolve = createRequire(import.meta.url).resolve;

const swagger = dirname(resolve("swagger-ui-dist/package.json"));
const assets = new URL("public/docs/assets/", root);
mkdirSync(assets, { recursive: true });
for (const file of ["swagger-ui-bundle.js", "swagger-ui.css"]) copyFileSync(join(swagger, file), new URL(file, assets));

// Rewrites a zod index module without those exports, with its own imports
// pointing back into node_modules/zod (or to the lean core).
const DROPPED = /export \* as locales|"\.\/compile\.js"|"\.\/from-json-schema\.js"/;
const DROPPED_NAMES = /\b(INVALID|compile|withParser|ZodCompileAsyncError|ZodCompileUnsupportedError), /g;
const zod = dirname(resolve("zod/package.json"));
const build = new URL("build/", root);
const lean = (file: string, replace: Record<string, string> = {}) =>
  readFileSync(join(zod, "v4", file), "utf8")
    .split("\n")
    .filter((line) => !DROPPED.test(line))
    .map((line) =>
      line.replace(DROPPED_NAMES, "").replace(/from "([^"]+)"/, (_, spec: string) => {
        const target = replace[spec] ?? join(zod, "v4", dirname(file), spec);
        return `from ${JSON.stringify(target)}`;
      }),
    )
    .join("\n");
mkdirSync(build, { recursive: true });
writeFileSync(new URL("zod-lean-core.js", build), lean("core/index.js"));
writeFileSync(
  new URL("zod-lean-external.js", build),
  lean("classic/external.js", { "../core/index.js": "./zod-lean-core.js" }),
);
writeFileSync(
  new URL("zod-lean.js", build),
  'import * as z from "./zod-lean-external.js";\nexport * from "./zod-lean-external.js";\nexport { z, z as default };\n',
);
