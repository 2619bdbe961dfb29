import { defineConfig } from 'vitest/config';
import { svelte } from '@sveltejs/vite-plugin-svelte';

// The Tauri shell loads `dist/` from disk (hence relative `base`) and, in development, the dev
// server on a fixed port (hence `strictPort`: a silently moved port would show a blank window).
export default defineConfig({
  plugins: [svelte()],
  base: './',
  clearScreen: false,
  server: {
    port: 1420,
    strictPort: true,
    watch: { ignored: ['**/src-tauri/**'] },
  },
  envPrefix: ['VITE_', 'TAURI_ENV_'],
  build: {
    // WebKitGTK on Linux and WKWebView on macOS are Safari-class engines.
    target: 'safari15',
    outDir: 'dist',
    emptyOutDir: true,
    sourcemap: false,
  },
  test: {
    // UI logic lives in plain TS modules, so tests need no DOM.
    include: ['src/**/*.test.ts'],
    environment: 'node',
  },
});
