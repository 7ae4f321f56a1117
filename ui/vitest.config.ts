import { defineConfig } from "vitest/config";

// Unit tests of the UI's logic (no browser): src/**/*.test.ts
export default defineConfig({
  test: { include: ["src/**/*.test.ts"], environment: "node" },
});
