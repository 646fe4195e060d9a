// Vite and Vitest configuration for the Hallmark UI (built into dist/, which the app embeds).
import { svelte } from '@sveltejs/vite-plugin-svelte';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  plugins: [svelte()],
  // Tauri serves the build from its own protocol; relative asset paths keep it location-independent.
  base: './',
  clearScreen: false,
  server: {
    port: 5173,
    strictPort: true,
    // The app icon lives in ../icons and is imported by the sidebar.
    fs: { allow: ['..'] },
  },
  build: {
    target: 'safari16',
    outDir: 'dist',
    emptyOutDir: true,
  },
  test: {
    include: ['src/**/*.test.ts'],
    environment: 'node',
  },
});
