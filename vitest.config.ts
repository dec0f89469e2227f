import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Each e2e file starts its own Envoy and mock providers on its own ports; two cores.
    maxWorkers: 2,
  },
});
