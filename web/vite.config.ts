// Builds the Write With Transformer app into web/dist, which `genlab serve` hosts. In development
// (`npx vite web`), API calls are proxied to a server on port 8080.
import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

export default defineConfig({
  root: import.meta.dirname,
  base: './',
  plugins: [react()],
  // The Scaling tab's chunk (loaded only when opened) carries ECharts, ~540 kB; the main bundle is ~260 kB.
  build: { outDir: 'dist', emptyOutDir: true, target: 'es2022', chunkSizeWarningLimit: 600 },
  server: {
    proxy: { '/v1': 'http://127.0.0.1:8080', '/api': 'http://127.0.0.1:8080', '/health': 'http://127.0.0.1:8080' },
  },
});
