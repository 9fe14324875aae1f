#!/usr/bin/env node
// Bundles the dashboard (dashboard-static/src) into dashboard-static/dist: index.html, app.js
// (with app.js.gz, gzip level 9, for the server to send pre-compressed) and app.css.
// Run by scripts/build.mjs; runnable alone while working on the dashboard.
import { copyFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { gzipSync, constants } from 'node:zlib';
import { build } from 'esbuild';

/** Most the dashboard's JavaScript may weigh, gzipped. */
const JS_BUDGET_BYTES = 150 * 1024;

export async function buildDashboard(root = resolve(import.meta.dirname, '..')) {
  const src = join(root, 'dashboard-static/src');
  const dist = join(root, 'dashboard-static/dist');
  rmSync(dist, { recursive: true, force: true });
  mkdirSync(dist, { recursive: true });
  await build({
    entryPoints: { app: join(src, 'main.tsx') },
    outdir: dist,
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: ['chrome110', 'firefox110', 'safari16'],
    jsx: 'automatic',
    jsxImportSource: 'preact',
    minify: true,
    legalComments: 'none',
    logLevel: 'warning',
  });
  copyFileSync(join(src, 'app.css'), join(dist, 'app.css'));
  copyFileSync(join(src, 'index.html'), join(dist, 'index.html'));
  copyFileSync(join(src, 'favicon.svg'), join(dist, 'favicon.svg'));
  const js = readFileSync(join(dist, 'app.js'));
  const gz = gzipSync(js, { level: constants.Z_BEST_COMPRESSION });
  writeFileSync(join(dist, 'app.js.gz'), gz);
  const kb = (n) => `${(n / 1024).toFixed(1)} KB`;
  console.log(`dashboard: app.js ${kb(js.length)}, ${kb(gz.length)} gzipped (budget ${kb(JS_BUDGET_BYTES)})`);
  if (gz.length > JS_BUDGET_BYTES) throw new Error(`dashboard: app.js is ${kb(gz.length)} gzipped, over the ${kb(JS_BUDGET_BYTES)} budget`);
}

if (import.meta.url === `file://${process.argv[1]}`) await buildDashboard();
