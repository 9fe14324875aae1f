#!/usr/bin/env node
// The main job on the embedded defaults: the first `sky` command starts the local API server
// by itself, then a diagnostic request runs through it and shows up in the request list.
import { spawnSync } from 'node:child_process';
import { join, resolve } from 'node:path';

const root = resolve(import.meta.dirname, '..');
const sky = join(root, 'cli/bin/sky.js');

function run(args) {
  process.stdout.write(`\n$ sky ${args.join(' ')}\n`);
  const result = spawnSync(process.execPath, [sky, ...args], { stdio: 'inherit' });
  if (result.status !== 0) {
    process.stderr.write(`demo: 'sky ${args.join(' ')}' exited with ${result.status}\n`);
    process.exit(result.status ?? 1);
  }
}

run(['api', 'info']);
run(['api', 'ping', '--sleep', '2']);
run(['api', 'status', '-a', '-l', '5']);
process.stdout.write('\nThe API server keeps running in the background; stop it with: npx sky api stop\n');
