import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, openSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pino from 'pino';
import { guardHandlers, isEnvironmentFailure, SafeLogDestination } from '@sky/daemon';
import { SkyError } from '@sky/protocol';
import { mountTmpfs, tmpfsUnavailable, type Tmpfs } from '../helpers/tmpfs.js';

const mounts: Tmpfs[] = [];
after(() => mounts.forEach((m) => m.unmount()));

describe('SafeLogDestination', () => {
  it('drops lines without throwing when the descriptor refuses them (/dev/full answers ENOSPC)', () => {
    const fd = openSync('/dev/full', 'w');
    const drops: string[] = [];
    try {
      const dest = new SafeLogDestination(fd, (code) => drops.push(code));
      const logger = pino({ level: 'info' }, dest);
      for (let i = 0; i < 50; i++) logger.error({ i }, 'cannot be written');
      assert.equal(dest.dropping, 50);
      assert.deepEqual(drops, ['ENOSPC'], 'the listener hears about the first drop only');
    } finally {
      closeSync(fd);
    }
  });

  it('survives a descriptor that is not open (EBADF)', () => {
    const dest = new SafeLogDestination(987_654);
    assert.equal(dest.write('{"msg":"x"}\n'), true);
    assert.equal(dest.dropping, 1);
  });

  it('creates the log file 0600 and fixes an existing one', () => {
    const file = join(process.env.TMPDIR ?? '/tmp', `sky-log-${process.pid}-${Date.now()}.log`);
    writeFileSync(file, '', { mode: 0o644 });
    try {
      const dest = SafeLogDestination.file(file);
      dest.write('line\n');
      assert.equal(statSync(file).mode & 0o777, 0o600);
      assert.equal(readFileSync(file, 'utf8'), 'line\n');
    } finally {
      rmSync(file, { force: true });
    }
  });

  it('on a full disk counts what it dropped and says so once the disk has room again', { skip: process.env.CI === 'true' ? false : tmpfsUnavailable() }, () => {
    const disk = mountTmpfs(1, 'logfull');
    mounts.push(disk);
    const file = join(disk.dir, 'server.log');
    const dest = SafeLogDestination.file(file);
    const logger = pino({ level: 'info', base: null }, dest);
    logger.info('before the disk filled');
    const filler = join(disk.dir, 'filler');
    try {
      writeFileSync(filler, Buffer.alloc(2 * 1024 * 1024));
    } catch {
      // filled to the last byte
    }
    const line = 'x'.repeat(2000);
    for (let i = 0; i < 20; i++) logger.info({ i, line }, 'while full');
    assert.ok(dest.dropping > 0, 'lines were dropped');
    const dropped = dest.dropping;
    rmSync(filler);
    logger.info('after the disk was freed');
    assert.equal(dest.dropping, 0);
    const lines = readFileSync(file, 'utf8').split('\n').filter((l) => l !== '');
    const notice = lines.find((l) => l.includes('"droppedLines"'));
    assert.ok(notice, lines.join('\n'));
    const parsed = JSON.parse(notice) as { droppedLines: number; reason: string; level: number };
    assert.equal(parsed.droppedLines, dropped);
    assert.equal(parsed.reason, 'ENOSPC');
    assert.equal(parsed.level, 40);
    assert.match(lines.at(-1)!, /after the disk was freed/);
  });
});

describe('process guards', () => {
  const enospc = Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });

  it('tell failures of the environment from bugs', () => {
    assert.equal(isEnvironmentFailure(enospc), true);
    assert.equal(isEnvironmentFailure(new SkyError('DISK_FULL', 'full')), true);
    assert.equal(isEnvironmentFailure(new Error('wrapped', { cause: Object.assign(new Error('EIO'), { code: 'EIO' }) })), true);
    assert.equal(isEnvironmentFailure(new TypeError("Cannot read properties of undefined (reading 'x')")), false);
    assert.equal(isEnvironmentFailure(new SkyError('INTERNAL', 'bug')), false);
    assert.equal(isEnvironmentFailure('a string'), false);
  });

  it('survive an unhandled rejection from a full disk, and exit 1 on a bug, logging both', () => {
    const lines: string[] = [];
    const stderr: string[] = [];
    const exits: number[] = [];
    const logger = pino({ level: 'info' }, { write: (l: string) => void lines.push(l) });
    let failing = true;
    const guards = guardHandlers({ logger, logFailing: () => failing, stderr: (t) => void stderr.push(t), exit: (c) => void exits.push(c) });
    guards.rejection(enospc);
    assert.deepEqual(exits, []);
    assert.match(lines.join(''), /carries on/);
    assert.equal(stderr.length, 1, 'said on stderr while the log drops lines');
    failing = false;
    guards.rejection(enospc);
    assert.equal(stderr.length, 1, 'not on stderr while the log works');
    guards.exception(new TypeError('a real bug'));
    assert.deepEqual(exits, [1]);
    assert.match(lines.join(''), /"level":60.*this is a bug in sky/);
    assert.match(stderr.join(''), /TypeError: a real bug/);
  });
});
