import { defineConfig } from "vitest/config";

// End-to-end tests: a real `dockyard server` over a seeded home, driven in headless Chromium.
export default defineConfig({
  test: {
    include: ["e2e/**/*.e2e.ts"],
    globalSetup: ["e2e/global-setup.ts"],
    fileParallelism: false,
    testTimeout: 120_000,
    hookTimeout: 600_000,
  },
});
