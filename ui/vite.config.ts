import { defineConfig } from "vite";
import react from "@vitejs/plugin-react";
import { fileURLToPath } from "node:url";

// The built app is served by `storm server` under /ui/ and shipped inside the Python
// package (src/stormflow/web/static), so a Python-only install serves it.
const outDir = fileURLToPath(new URL("../src/stormflow/web/static", import.meta.url));
const api = process.env.STORM_SERVER ?? "http://127.0.0.1:8765";

export default defineConfig({
  base: "/ui/",
  plugins: [react()],
  build: {
    outDir,
    emptyOutDir: true,
    chunkSizeWarningLimit: 1500,
  },
  server: {
    proxy: { "/api": { target: api, changeOrigin: true } },
  },
  test: {
    environment: "node",
    include: ["src/**/*.test.ts"],
  },
} as never);
