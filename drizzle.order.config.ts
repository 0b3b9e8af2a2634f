import { defineConfig } from "drizzle-kit";

// The order's object's own SQLite: migrations and their migrations.js, applied when the object starts.
export default defineConfig({
  dialect: "sqlite",
  driver: "durable-sqlite",
  schema: "./src/order/schema.ts",
  out: "./src/order/migrations",
});
