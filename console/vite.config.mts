import { defineConfig } from 'vite';

/** `vite build console` (npm run build:console) writes console/dist, which the gateway serves under /console/. */
export default defineConfig({
  base: '/console/',
  build: { outDir: 'dist', emptyOutDir: true },
  // Vite transforms TSX itself: no plugin needed for React's automatic runtime.
  oxc: { jsx: { runtime: 'automatic' } },
  // `npx vite console` serves the console alone, with the admin API of a gateway started by `npm start`.
  server: { proxy: { '/admin': 'http://127.0.0.1:3000' } },
});
