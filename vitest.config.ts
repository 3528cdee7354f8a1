import { defineConfig } from "vitest/config";

// Tests import the packages' TypeScript sources (the "source" export condition), so a
// test run never depends on a stale dist/; end-to-end tests spawn the built CLI instead.
export default defineConfig({
  resolve: { conditions: ["source"] },
  ssr: { resolve: { conditions: ["source"], externalConditions: ["source"] } },
  test: {
    include: ["packages/*/src/**/*.spec.ts", "services/*/src/**/*.spec.ts", "test/**/*.test.ts"],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: "forks",
  },
});
