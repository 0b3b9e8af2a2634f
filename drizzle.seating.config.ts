import { defineConfig } from "drizzle-kit";

// The block object's own SQLite (src/seating): migrations and their migrations.js, applied when the object starts.
export default defineConfig({
  dialect: "sqlite",
  driver: "durable-sqlite",
  schema: "./src/seating/schema.ts",
  out: "./src/seating/migrations",
});
