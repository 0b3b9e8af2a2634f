// Copies Swagger UI's browser files into the worker's static assets, so /docs
// needs no CDN. Runs after `npm install` / `npm ci` (postinstall).
import { copyFileSync, mkdirSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";

const dist = dirname(createRequire(import.meta.url).resolve("swagger-ui-dist/package.json"));
const out = new URL("../public/docs/assets/", import.meta.url);
mkdirSync(out, { recursive: true });
for (const file of ["swagger-ui-bundle.js", "swagger-ui.css"]) copyFileSync(join(dist, file), new URL(file, out));
