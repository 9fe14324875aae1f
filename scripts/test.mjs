#!/usr/bin/env node
// Runs the test suites with node's test runner. Usage: node scripts/test.mjs [unit|conformance|integration|security|e2e|FILE...]
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';

const root = resolve(import.meta.dirname, '..');
const KINDS = ['unit', 'conformance', 'integration', 'security', 'e2e'];

function testFiles(dir) {
  const out = [];
  if (!existsSync(dir)) return out;
  for (const entry of readdirSync(dir)) {
    const full = join(dir, entry);
    if (statSync(full).isDirectory()) {
      if (entry !== 'fixtures') out.push(...testFiles(full));
    } else if (entry.endsWith('.test.ts')) out.push(full);
  }
  return out.sort();
}

const args = process.argv.slice(2);
const kinds = args.filter((a) => KINDS.includes(a));
const explicit = args.filter((a) => !KINDS.includes(a));
const chosenKinds = kinds.length > 0 || explicit.length > 0 ? kinds : KINDS;
const files = [...chosenKinds.flatMap((k) => testFiles(join(root, 'test', k))), ...explicit.map((f) => resolve(f))];

const concurrency = process.env.SKY_TEST_CONCURRENCY ?? '2';
const result = spawnSync(
  process.execPath,
  ['--conditions=sky-source', '--import', 'tsx', '--test', `--test-concurrency=${concurrency}`, '--test-reporter=spec', ...files],
  { stdio: 'inherit', cwd: root, env: { ...process.env, SKY_REPO_ROOT: root, TSX_TSCONFIG_PATH: join(root, 'test/tsconfig.json') } },
);
process.exit(result.status ?? 1);
