import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";

// The built UI ships inside the Python package: dockyard's server serves it at "/".
// `npm run dev` proxies the API to a running `dockyard server` (DOCKYARD_URL, default :8080).
export default defineConfig({
  plugins: [react()],
  build: {
    outDir: "../src/dockyard/server/ui",
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
