#!/usr/bin/env node
// Enforces the dependency direction (protocol <- plugin-api <- stores/plugins <- daemon; protocol <- client <- cli):
// every import in a package's sources must be a node builtin, a relative path, or a package that
// the package both declares and is allowed to use.
import { readFileSync, readdirSync, statSync, existsSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { join, relative, resolve } from 'node:path';

const root = resolve(import.meta.dirname, '..');
const DAEMON_ONLY = new Set(['koa', '@koa/router', 'tsyringe', 'ssh2', 'reflect-metadata']);
const ALLOWED_SKY = {
  '@sky/protocol': [],
  '@sky/plugin-api': ['@sky/protocol'],
  '@sky/store-level': ['@sky/protocol', '@sky/plugin-api'],
  '@sky/store-postgres': ['@sky/protocol', '@sky/plugin-api'],
  '@sky/runtime': ['@sky/protocol'],
  '@sky/client': ['@sky/protocol'],
  '@sky/daemon': ['@sky/protocol', '@sky/plugin-api', '@sky/store-level', '@sky/store-postgres', '@sky/runtime'],
  '@sky/cli': ['@sky/protocol', '@sky/client'],
};
const PLUGIN_SKY = ['@sky/protocol', '@sky/plugin-api'];

function files(dir) {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).flatMap((e) => {
    const full = join(dir, e);
    return statSync(full).isDirectory() ? files(full) : /\.(ts|mts|js|mjs)$/.test(e) && !e.endsWith('.d.ts') ? [full] : [];
  });
}

function packageOf(spec) {
  const parts = spec.split('/');
  return spec.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0];
}

const workspaces = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).workspaces.flatMap((w) =>
  w.endsWith('/*') ? readdirSync(join(root, w.slice(0, -2))).map((d) => join(w.slice(0, -2), d)) : [w],
);
const builtins = new Set(builtinModules);
const problems = [];
const IMPORT = /(?:import|export)\s[^'"]*?from\s*['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)|^\s*import\s*['"]([^'"]+)['"]/gm;

for (const ws of workspaces) {
  const pkgFile = join(root, ws, 'package.json');
  if (!existsSync(pkgFile)) continue;
  const pkg = JSON.parse(readFileSync(pkgFile, 'utf8'));
  const declared = new Set([...Object.keys(pkg.dependencies ?? {}), ...Object.keys(pkg.peerDependencies ?? {})]);
  const isPlugin = ws.startsWith('plugins/');
  const allowedSky = isPlugin ? PLUGIN_SKY : (ALLOWED_SKY[pkg.name] ?? []);
  for (const file of files(join(root, ws, 'src'))) {
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(IMPORT)) {
      const spec = m[1] ?? m[2] ?? m[3];
      if (!spec || spec.startsWith('.') || spec.startsWith('node:') || builtins.has(spec)) continue;
      const name = packageOf(spec);
      const where = relative(root, file);
      if (name.startsWith('@sky/') && !allowedSky.includes(name)) problems.push(`${where}: ${pkg.name} may not import ${name}`);
      else if (DAEMON_ONLY.has(name) && pkg.name !== '@sky/daemon') problems.push(`${where}: only @sky/daemon may import ${name}`);
      else if (!declared.has(name)) problems.push(`${where}: imports ${name}, which ${pkg.name} does not declare in package.json`);
    }
  }
}

if (problems.length > 0) {
  console.error(`dependency rules broken (${problems.length}):\n  ${problems.join('\n  ')}`);
  process.exit(1);
}
console.log(`dependency rules hold across ${workspaces.length} workspaces`);
