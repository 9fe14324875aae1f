#!/usr/bin/env node
// Runs the test suites with node's test runner. Usage: node scripts/test.mjs [unit|conformance|integration|security|e2e|FILE...]
//
// Every test that sets no timeout of its own gets SKY_TEST_TIMEOUT_MS (default 240 s, through
// scripts/test-timeout.mjs), and every file SKY_TEST_FILE_TIMEOUT_MS (default 900 s, node's
// --test-timeout, which on node 20 bounds a whole file): a hang fails fast instead of holding the
// run until the CI job is killed. Under CI=true the shells the node runtime is tested under must
// be present, or the run stops before it starts.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

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
function milliseconds(name, fallback) {
  const value = process.env[name] ?? fallback;
  if (!/^[1-9][0-9]*$/.test(value)) {
    console.error(`test: ${name} must be a whole number of milliseconds, got '${value}'`);
    process.exit(2);
  }
  return value;
}
const testTimeoutMs = milliseconds('SKY_TEST_TIMEOUT_MS', '240000');
const fileTimeoutMs = milliseconds('SKY_TEST_FILE_TIMEOUT_MS', '900000');

if (process.env.CI === 'true') {
  // The runtime tests pick their shell variants from what is installed; on CI a missing one must fail, not vanish.
  const onPath = (name) => (process.env.PATH ?? '').split(':').some((dir) => dir !== '' && existsSync(join(dir, name)));
  const missing = ['dash', 'busybox'].filter((name) => !onPath(name));
  if (missing.length > 0) {
    console.error(`test: CI=true but ${missing.join(' and ')} ${missing.length > 1 ? 'are' : 'is'} not installed, so the node runtime would not be tested under ${missing.length > 1 ? 'them' : 'it'}; run: bash scripts/ci-setup.sh`);
    process.exit(1);
  }
}
const result = spawnSync(
  process.execPath,
  [
    '--conditions=sky-source',
    '--import',
    'tsx',
    '--import',
    pathToFileURL(join(root, 'scripts/test-timeout.mjs')).href,
    '--test',
    `--test-concurrency=${concurrency}`,
    `--test-timeout=${fileTimeoutMs}`,
    '--test-reporter=spec',
    ...files,
  ],
  {
    stdio: 'inherit',
    cwd: root,
    env: { ...process.env, SKY_REPO_ROOT: root, SKY_TEST_TIMEOUT_MS: testTimeoutMs, TSX_TSCONFIG_PATH: join(root, 'test/tsconfig.json') },
  },
);
process.exit(result.status ?? 1);
