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
const { build } = await import('esbuild');
await build({
  entryPoints: [join(dist, 'main.js')],
  outfile: join(dist, 'sky-daemon.mjs'),
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  // @sky/runtime reads its shell script next to its own files, so it stays a package.
  external: ['classic-level', '@sky/runtime'],
  banner: { js: "import { createRequire as __skyCreateRequire } from 'node:module'; const require = __skyCreateRequire(import.meta.url);" },
  logLevel: 'warning',
});

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
