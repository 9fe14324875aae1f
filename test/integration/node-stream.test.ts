/**
 * NodeTransport.stream on a local node: output arrives while the command runs, the iteration
 * ends with the command, a failure names its code and stderr, and stopping the stream — abort,
 * leaving the loop, or the death of the process holding it — leaves no process behind.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile, appendFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SkyError } from '@sky/protocol';
import { streamScript } from '@sky/runtime';
import { LocalTransport } from '../../core/daemon/src/nodes/local-transport.js';
import { alive, waitFor } from '../helpers/processes.js';

let root: string;
let local: LocalTransport;

before(async () => {
  root = await mkdtemp(join(tmpdir(), 'sky-stream-'));
  local = new LocalTransport(root);
});

after(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('streaming a command on a local node', () => {
  it('yields output as it is written and ends when the command exits 0', async () => {
    await writeFile(join(root, 'log'), 'one\n');
    const ac = new AbortController();
    const seen: string[] = [];
    let text = '';
    for await (const chunk of local.stream('tail -c +1 -f log & t=$!; while [ ! -e stop ]; do sleep 0.05; done; kill $t', { signal: ac.signal })) {
      text += chunk.toString();
      if (text === 'one\n' && !seen.includes('one')) {
        seen.push('one');
        await appendFile(join(root, 'log'), 'two\n');
      } else if (text === 'one\ntwo\n' && !seen.includes('two')) {
        seen.push('two');
        await writeFile(join(root, 'stop'), '');
      }
    }
    assert.deepEqual(seen, ['one', 'two']);
    assert.equal(text, 'one\ntwo\n');
  });

  it('passes every byte of a large output, in order', async () => {
    let total = 0;
    let ok = true;
    let expect = 0;
    for await (const chunk of local.stream('i=0; while [ $i -lt 20000 ]; do printf "%07d\\n" $i; i=$((i+1)); done', { signal: new AbortController().signal })) {
      total += chunk.length;
      for (const line of chunk.toString().split('\n').filter((l) => l !== '')) {
        if (Number(line) !== expect) ok = false;
        expect += 1;
      }
    }
    assert.equal(total, 20000 * 8);
    assert.ok(ok && expect === 20000, 'lines in order, none lost');
  });

  it('a command that fails is NODE_RUNTIME_ERROR with its exit code and stderr', async () => {
    await assert.rejects(
      async () => {
        for await (const _ of local.stream('echo partial; echo "no such thing" >&2; exit 3', { signal: new AbortController().signal })) void _;
      },
      (err: unknown) => err instanceof SkyError && err.code === 'NODE_RUNTIME_ERROR' && /exited with code 3: no such thing/.test(err.message),
    );
  });

  it('abort ends the command and everything it started, and the iteration quietly', async () => {
    const ac = new AbortController();
    const pids: number[] = [];
    for await (const chunk of local.stream('sleep 300 & echo $!; sh -c \'echo $$; exec sleep 301\'', { signal: ac.signal })) {
      pids.push(...chunk.toString().trim().split('\n').map(Number));
      if (pids.length === 2) ac.abort();
    }
    assert.equal(pids.length, 2);
    await waitFor(async () => !pids.some(alive), 10_000, 'the streamed processes to end');
  });

  it('leaving the loop early ends the command', async () => {
    let pid = 0;
    for await (const chunk of local.stream('sh -c \'echo $$; exec sleep 302\'', { signal: new AbortController().signal })) {
      pid = Number(chunk.toString().trim());
      break;
    }
    assert.ok(pid > 0);
    await waitFor(async () => !alive(pid), 10_000, 'the streamed process to end');
  });

  it('the stream script ends the command when the connection to it closes (its holder died)', async () => {
    const child = spawn('/bin/sh', ['-c', streamScript("sh -c 'echo $$; exec sleep 303'")], { stdio: ['pipe', 'pipe', 'ignore'], detached: true });
    const pid = await new Promise<number>((resolve) => child.stdout.once('data', (c: Buffer) => resolve(Number(c.toString().trim()))));
    assert.ok(alive(pid));
    child.stdin.destroy();
    await waitFor(async () => !alive(pid), 10_000, 'the command to end once its stdin closed');
    await new Promise((resolve) => (child.exitCode !== null || child.signalCode !== null ? resolve(undefined) : child.once('exit', resolve)));
  });

  it('an aborted signal starts nothing', async () => {
    const ac = new AbortController();
    ac.abort();
    const chunks: Buffer[] = [];
    for await (const chunk of local.stream(`echo ran > ran`, { signal: ac.signal })) chunks.push(chunk);
    assert.equal(chunks.length, 0);
    await assert.rejects(appendFile(join(root, 'ran'), '', { flag: 'r+' }));
  });
});
