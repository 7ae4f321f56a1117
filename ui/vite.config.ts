import { copyFileSync, mkdirSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import react from "@vitejs/plugin-react";
import { defineConfig, type Plugin } from "vite";

const outDir = "../src/dockyard/server/ui";

// The API docs page (/docs) must work air-gapped: ship Swagger UI's own files beside the UI
// instead of loading them from a CDN (the server serves them at /docs/static).
function apiDocsAssets(): Plugin {
  const dist = dirname(createRequire(import.meta.url).resolve("swagger-ui-dist/package.json"));
  const files = ["swagger-ui-bundle.js", "swagger-ui.css", "favicon-32x32.png", "LICENSE", "NOTICE"];
  return {
    name: "dockyard-api-docs-assets",
    apply: "build",
    writeBundle() {
      const target = join(outDir, "docs");
      mkdirSync(target, { recursive: true });
      for (const file of files) copyFileSync(join(dist, file), join(target, file));
    },
  };
}

// The built UI ships inside the Python package: dockyard's server serves it at "/".
// `npm run dev` proxies the API to a running `dockyard server` (DOCKYARD_URL, default :8080).
export default defineConfig({
  plugins: [react(), apiDocsAssets()],
  build: {
    outDir,
    emptyOutDir: true,
    chunkSizeWarningLimit: 2000,
    rollupOptions: {
      output: {
        manualChunks(id: string) {
          if (id.includes("node_modules/echarts") || id.includes("node_modules/zrender")) return "echarts";
          if (id.includes("node_modules")) return "vendor";
          return undefined;
        },
      },
    },
  },
  server: {
    proxy: { "/api": process.env.DOCKYARD_URL ?? "http://127.0.0.1:8080" },
  },
});
