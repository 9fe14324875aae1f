import 'reflect-metadata';
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Duplex } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import pino from 'pino';
import { DaemonConfigSchema, type DaemonPaths } from '../../core/daemon/src/config/schema.js';
import type { AuditLog } from '../../core/daemon/src/audit/audit-log.js';
import { SshGateway } from '../../core/daemon/src/ssh-gateway/gateway.js';
import type { NodeBackend } from '../../core/daemon/src/ssh-gateway/node-backend.js';

/** A socket whose far end nobody speaks on: the tunnel stays open until the gateway ends it. */
function quietSocket(): Duplex {
  const incoming = new PassThrough();
  return Duplex.from({ readable: incoming, writable: new PassThrough() });
}

const backend = { close: () => Promise.resolve() } as unknown as NodeBackend;

async function withGateway(run: (gateway: SshGateway) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'sky-gateway-'));
  const paths: DaemonPaths = { stateDir: dir, storePath: join(dir, 'state'), logFile: join(dir, 'log'), pidFile: join(dir, 'pid') };
  const audited: string[] = [];
  const audit = { record: (entry: { action: string; detail?: string }) => (audited.push(`${entry.action} ${entry.detail ?? ''}`), Promise.resolve()) } as unknown as AuditLog;
  const config = DaemonConfigSchema.parse({ ssh_gateway: { recheck_seconds: 1 } });
  const gateway = new SshGateway(config, paths, pino({ level: 'silent' }), { now: () => Date.now() }, audit);
  try {
    await run(gateway);
  } finally {
    gateway.closeAll();
    rmSync(dir, { recursive: true, force: true });
  }
}

function open(gateway: SshGateway, stillAllowed: () => Promise<boolean>): void {
  const slot = gateway.reserve({ id: 'u-carol', name: 'carol' });
  gateway.serve(quietSocket(), Buffer.alloc(0), { user: { id: 'u-carol', name: 'carol' }, cluster: 'c', rank: 0, from: '127.0.0.1', backend, stillAllowed }, slot);
}

async function until(check: () => boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (check()) return true;
    await sleep(50);
  }
  return check();
}

describe('SSH gateway: asking again while a tunnel is open', () => {
  it('keeps the tunnel through two failed checks in a row, and ends it on the third', async () => {
    await withGateway(async (gateway) => {
      const answers: Array<'fail' | 'yes'> = ['fail', 'fail', 'yes', 'fail', 'fail', 'fail'];
      let asked = 0;
      open(gateway, () => {
        const answer = answers[asked++] ?? 'fail';
        return answer === 'yes' ? Promise.resolve(true) : Promise.reject(new Error('the store is away'));
      });
      assert.equal(gateway.openTunnels, 1);
      assert.ok(await until(() => asked >= 3, 10_000), 'three checks ran');
      assert.equal(gateway.openTunnels, 1, 'two failures, then a yes: still open');
      assert.ok(await until(() => gateway.openTunnels === 0, 10_000), 'three failures in a row end it');
      assert.equal(asked, 6);
    });
  });

  it('ends the tunnel on the first definite refusal', async () => {
    await withGateway(async (gateway) => {
      let asked = 0;
      open(gateway, () => {
        asked += 1;
        return Promise.resolve(false);
      });
      assert.ok(await until(() => gateway.openTunnels === 0, 10_000));
      assert.equal(asked, 1);
    });
  });

  it('never runs two checks at once when one is slow', async () => {
    await withGateway(async (gateway) => {
      let running = 0;
      let most = 0;
      let asked = 0;
      open(gateway, async () => {
        asked += 1;
        running += 1;
        most = Math.max(most, running);
        await sleep(2500);
        running -= 1;
        return true;
      });
      assert.ok(await until(() => asked >= 2, 10_000));
      assert.equal(most, 1);
      assert.equal(gateway.openTunnels, 1);
    });
  });
});
