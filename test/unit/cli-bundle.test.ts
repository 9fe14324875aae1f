// The CLI bundle keeps zod out of the commands that do not validate anything themselves: a
// `sky exec -d` or `sky status` is a short-lived process, and zod with the protocol's schemas
// costs more to load than the rest of such a command. Checked on the built CLI (cli/dist): the
// chunks each command's entry reaches through static imports, none of which may hold zod.
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, it } from 'node:test';

const DIST = resolve(import.meta.dirname, '../../cli/dist');
const CHUNKS = join(DIST, 'chunks');
/** Commands that may load zod: they read task YAML or user records with their schemas. */
const ALLOWED = new Set(['task-yaml', 'users']);
const STATIC_IMPORT = /^(?:import|export)\b[^;]*?from\s*"\.\/(chunk-[A-Za-z0-9]+\.js)"|^import\s*"\.\/(chunk-[A-Za-z0-9]+\.js)"/gm;

function reached(entry: string): string[] {
  const seen = new Set([entry]);
  const queue = [entry];
  while (queue.length > 0) {
    const file = queue.shift()!;
    for (const m of readFileSync(file, 'utf8').matchAll(STATIC_IMPORT)) {
      const next = join(CHUNKS, (m[1] ?? m[2])!);
      if (!seen.has(next)) {
        seen.add(next);
        queue.push(next);
      }
    }
  }
  return [...seen];
}

const holdsZod = (file: string): boolean => /^\/\/ node_modules\/zod\//m.test(readFileSync(file, 'utf8'));

describe('CLI bundle', { skip: existsSync(CHUNKS) ? false : 'cli/dist is not built (npm run build)' }, () => {
  it('loads no zod for the job commands (exec, launch, status, queue, logs, cancel, jobs and the rest)', () => {
    const entries = readdirSync(CHUNKS).filter((f) => !f.startsWith('chunk-'));
    const commands = entries.map((f) => ({ name: f.replace(/-[A-Z0-9]+\.js$/, ''), file: join(CHUNKS, f) }));
    for (const name of ['launch', 'status', 'queue', 'logs', 'cancel', 'jobs', 'jobs-launch']) {
      assert.ok(commands.some((c) => c.name === name), `the bundle has a chunk for ${name}: ${entries.join(' ')}`);
    }
    const withZod = [{ name: 'sky', file: join(DIST, 'sky.js') }, ...commands]
      .filter((c) => !ALLOWED.has(c.name))
      .filter((c) => reached(c.file).some(holdsZod))
      .map((c) => c.name);
    assert.deepEqual(withZod, [], 'these commands load zod at start');
  });

  it('the check sees zod where it is loaded (the task YAML reader)', () => {
    const taskYaml = readdirSync(CHUNKS).find((f) => f.startsWith('task-yaml-'));
    assert.ok(taskYaml !== undefined);
    const files = reached(join(CHUNKS, taskYaml));
    assert.ok(files.some(holdsZod), 'the task YAML reader reaches zod');
    assert.ok(files.reduce((n, f) => n + statSync(f).size, 0) > 500_000);
  });
});
