import { defineConfig } from "drizzle-kit";

// The ticket object's own SQLite. drizzle-kit writes the migrations and a
// migrations.js that imports them; the object applies them when it starts.
export default defineConfig({
  dialect: "sqlite",
  driver: "durable-sqlite",
  schema: "./src/ticket/schema.ts",
  out: "./src/ticket/migrations",
});
