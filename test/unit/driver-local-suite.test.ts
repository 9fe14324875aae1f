// The driver conformance suite must fail drivers that break the contract: each fault below is
// injected into a working local driver (test/fixtures/driver-conformance-broken.ts) and the suite,
// run in a child process, must fail exactly the tests that cover it.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join, resolve } from 'node:path';
import { describe, it } from 'node:test';

const repo = process.env.SKY_REPO_ROOT ?? resolve(import.meta.dirname, '../..');
const FIXTURE = join(repo, 'test/fixtures/driver-conformance-broken.ts');

const T = {
  provisions: 'provisions N UP nodes with distinct ids, ranks 0..N-1, addresses and a reach',
  satisfies: 'gives every node resources that satisfy the request',
  lifecycle: 'stops (STOPPED), starts again with the same nodes (UP), terminates (gone); each step repeatable',
  noCapacity: 'answers NO_CAPACITY for a request that cannot fit, naming what is left, and creates nothing',
  holds: 'holds capacity while provisioned and gives it all back after terminate',
  abort: 'honours an aborted signal: provision rejects with CANCELLED and leaves nothing behind',
  restart: 'finds its clusters again from the persisted state after a restart',
};

/** The environment of a test run of its own: without NODE_TEST_CONTEXT, which would make the child report to this runner. */
function childEnv(fault: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, SKY_BROKEN: fault };
  delete env['NODE_TEST_CONTEXT'];
  return env;
}

/** Run the suite on one fault; the names of the tests that failed and the total count. */
function runSuite(fault: string): Promise<{ failed: string[]; passed: number; output: string }> {
  return new Promise((resolveRun, reject) => {
    const child = spawn(
      process.execPath,
      ['--conditions=sky-source', '--import', 'tsx', '--test', '--test-reporter=tap', FIXTURE],
      { cwd: repo, env: childEnv(fault), stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let output = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (output += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (output += d));
    child.on('error', reject);
    child.on('close', () => {
      // Subtests are indented under the suite; the suite line itself is not a test of the contract.
      const failed = [...output.matchAll(/^ {4}not ok \d+ - (.+)$/gm)].map((m) => m[1] ?? '');
      const passed = [...output.matchAll(/^ {4}ok \d+ - (.+)$/gm)].length;
      resolveRun({ failed: failed.sort(), passed, output });
    });
  });
}

describe('driver conformance suite catches broken drivers', () => {
  const cases: Array<[string, string[]]> = [
    ['none', []],
    ['ignores-abort', [T.abort]],
    ['plain-error', [T.noCapacity, T.abort]],
    ['vague-no-capacity', [T.noCapacity]],
    ['frozen-capacity', [T.holds]],
    ['undersized', [T.satisfies]],
    ['reversed-ranks', [T.provisions, T.lifecycle]],
    ['stop-does-nothing', [T.lifecycle, T.restart]],
  ];
  for (const [fault, expected] of cases) {
    it(fault === 'none' ? 'passes the unbroken driver' : `fails a driver whose fault is: ${fault}`, async () => {
      const { failed, passed, output } = await runSuite(fault);
      assert.deepEqual(failed, [...expected].sort(), output.slice(-3000));
      assert.equal(passed + failed.length, 11, `the suite has 11 tests:\n${output.slice(-3000)}`);
    });
  }
});
