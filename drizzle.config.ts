import { defineConfig } from "drizzle-kit";

export default defineConfig({
  dialect: "sqlite",
  schema: "./src/db/schema.ts",
  // Flat *.sql files in the folder wrangler applies and readD1Migrations reads.
  out: "./migrations",
});
