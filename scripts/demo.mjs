#!/usr/bin/env node
// The main job on the embedded defaults (LevelDB + the local driver): the first `sky` command
// starts the local API server by itself, then a 2-node task is launched, its ranks' output
// streamed, the cluster listed, and torn down again.
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

const cluster = 'sky-demo';
run(['api', 'info']);
run(['launch', '-y', '-c', cluster, join(root, 'examples/two-node.yaml')]);
run(['status']);
run(['queue', cluster]);
run(['down', '-y', cluster]);
run(['api', 'status', '-a', '-l', '5']);
process.stdout.write('\nThe API server keeps running in the background; stop it with: npx sky api stop\n');
