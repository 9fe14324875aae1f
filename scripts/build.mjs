#!/usr/bin/env node
// Compiles every workspace (tsc -b), records the version and commit the daemon reports, and bundles the daemon.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve, sep } from 'node:path';

const root = resolve(import.meta.dirname, '..');
const tsc = spawnSync(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-b', join(root, 'tsconfig.json')], {
  stdio: 'inherit',
});
if (tsc.status !== 0) process.exit(tsc.status ?? 1);

let commit = process.env.SKY_COMMIT ?? 'unknown';
try {
  commit = execFileSync('git', ['rev-parse', '--short=12', 'HEAD'], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
} catch {
  // not a git checkout: keep SKY_COMMIT or 'unknown'
}
const { version } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const dist = join(root, 'core/daemon/dist');
mkdirSync(dist, { recursive: true });
writeFileSync(join(dist, 'build-info.json'), JSON.stringify({ version, commit }) + '\n');

// The daemon ships as one bundled file: fewer modules to load means a faster start and a
// smaller idle footprint (bench/README.md). Native addons stay external; plugins are
// still resolved from node_modules at run time.
//
// @sky/protocol (with zod and yaml) stays a package too: @sky/runtime and the plugins import
// it from node_modules, and a second copy inside the bundle would hold every schema twice.
const { build } = await import('esbuild');

/**
 * koa finds content types through mime-types, which loads all of mime-db (two copies, ~440 KB
 * of JSON kept in memory). The daemon answers JSON, event streams, plain text and the
 * dashboard's few file types: this table is what it needs of mime-db.
 */
const MIME_TYPES = {
  'application/json': { charset: 'UTF-8', compressible: true, extensions: ['json', 'map'] },
  'application/octet-stream': { compressible: false, extensions: ['bin'] },
  'application/javascript': { charset: 'UTF-8', compressible: true },
  'application/x-www-form-urlencoded': { compressible: true },
  'application/xml': { compressible: true, extensions: ['xml'] },
  'multipart/form-data': { compressible: false },
  'text/css': { charset: 'UTF-8', compressible: true, extensions: ['css'] },
  'text/event-stream': { compressible: true },
  'text/html': { compressible: true, extensions: ['html', 'htm'] },
  'text/javascript': { charset: 'UTF-8', compressible: true, extensions: ['js', 'mjs'] },
  'text/plain': { compressible: true, extensions: ['txt', 'text', 'log'] },
  'image/png': { compressible: false, extensions: ['png'] },
  'image/svg+xml': { compressible: true, extensions: ['svg'] },
};
const smallMimeDb = {
  name: 'small-mime-db',
  setup(b) {
    b.onResolve({ filter: /^mime-db$/ }, () => ({ path: 'mime-db', namespace: 'small-mime-db' }));
    b.onLoad({ filter: /.*/, namespace: 'small-mime-db' }, () => ({ contents: `module.exports = ${JSON.stringify(MIME_TYPES)};`, loader: 'js' }));
  },
};

const daemonBundle = join(dist, 'sky-daemon.mjs');
await build({
  entryPoints: [join(dist, 'main.js')],
  outfile: daemonBundle,
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  // @sky/runtime reads its shell script next to its own files, so it stays a package.
  // The PostgreSQL store (with pg) is imported only by daemons configured for it.
  external: ['classic-level', '@sky/runtime', '@sky/protocol', '@sky/protocol/*', '@sky/store-postgres', 'zod', 'yaml'],
  plugins: [smallMimeDb],
  banner: { js: "import { createRequire as __skyCreateRequire } from 'node:module'; const require = __skyCreateRequire(import.meta.url);" },
  logLevel: 'warning',
});
// V8 keeps a script's source in memory, two bytes a character once one character is not
// Latin-1. esbuild escapes such characters in code but leaves some comments as they are:
// escape those too (an escape in a comment is still a comment), so the source is kept at one
// byte a character.
const bundled = readFileSync(daemonBundle, 'utf8');
writeFileSync(daemonBundle, bundled.replace(/[\u0080-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`));

/**
 * The protocol's modules have no side effects a CLI command depends on (they define schemas,
 * tables and functions), so a module no command uses is left out of the CLI bundle and one a
 * command imports only for a function loads no schemas (zod) with it.
 */
const protocolWithoutSideEffects = {
  name: 'protocol-without-side-effects',
  setup(b) {
    const protocolDist = `${join(root, 'core/protocol/dist')}${sep}`;
    b.onResolve({ filter: /.*/ }, async (args) => {
      if (args.pluginData?.resolved === true) return undefined;
      const result = await b.resolve(args.path, { kind: args.kind, importer: args.importer, resolveDir: args.resolveDir, pluginData: { resolved: true } });
      if (result.errors.length > 0 || !result.path.startsWith(protocolDist)) return undefined;
      return { path: result.path, external: result.external, sideEffects: false };
    });
  },
};

rmSync(join(root, 'cli/dist/chunks'), { recursive: true, force: true });
// The CLI too: one file for what every command needs, with each command's own code (and zod,
// which only some commands load) in chunks imported on demand. Saves ~10 ms per `sky` call.
await build({
  entryPoints: { sky: join(root, 'cli/dist/index.js') },
  outdir: join(root, 'cli/dist'),
  entryNames: '[name]',
  chunkNames: 'chunks/[name]-[hash]',
  bundle: true,
  splitting: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  // yaml is imported on demand (only when ~/.sky/config.yaml exists); bundled, its CommonJS
  // build would arrive as a default export, so it is loaded from node_modules as a package.
  external: ['yaml'],
  plugins: [protocolWithoutSideEffects],
  banner: { js: "import { createRequire as __skyCreateRequire } from 'node:module'; const require = __skyCreateRequire(import.meta.url);" },
  logLevel: 'warning',
});

// The dashboard: a static single-page app bundled into dashboard-static/dist (served at /dashboard/).
const { buildDashboard } = await import('./build-dashboard.mjs');
await buildDashboard(root);
