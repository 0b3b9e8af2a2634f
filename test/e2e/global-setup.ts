// Starts the API under wrangler dev (on a throwaway local D1) for the
// tests that need real HTTP: the OpenAPI validator and the browser.
import type { TestProject } from "vitest/node";
import { startLocalServer } from "../../scripts/lib/server.ts";

export default async function setup(project: TestProject) {
  const server = await startLocalServer();
  project.provide("apiUrl", server.url);
  return () => server.stop();
}

declare module "vitest" {
  export interface ProvidedContext {
    apiUrl: string;
  }
}
