// sky-driver-ssh: the one-command host probe. Its script runs under a real /bin/sh here (with a
// stand-in nvidia-smi, a failing one, and none at all), its output is parsed with and without
// GPUs and around login noise, and probeHost turns the daemon's SSH failures into per-host answers.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync } from 'node:fs';
import { mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { canonicalGpuName, parseProbeOutput, PROBE_COMMAND, probeHost, shortReason } from 'sky-driver-ssh';
import { FakeSsh, probeOutput, type FakeHost } from 'sky-driver-ssh/testing';

/** From `nvidia-smi --query-gpu=name,memory.total --format=csv,noheader` on an 8-GPU A100 host, trimmed to four. */
const A100_SMI = 'NVIDIA A100-SXM4-80GB, 81920 MiB\nNVIDIA A100-SXM4-80GB, 81920 MiB\nNVIDIA A100-SXM4-80GB, 81920 MiB\nNVIDIA A100-SXM4-80GB, 81920 MiB\n';
const A100 = { name: 'A100-80GB', model: 'NVIDIA A100-SXM4-80GB', memoryMiB: 81920 };

describe('driver-ssh: probe output', () => {
  it('reads CPUs, memory, GPUs and free disk from a GPU host', () => {
    const out = [
      'sky-probe:cpus=96',
      'sky-probe:mem_kb=1056467948',
      ...A100_SMI.trim().split('\n').map((l) => `sky-probe:gpu=${l}`),
      'sky-probe:disk_kb=524288000',
      'sky-probe:ok',
    ].join('\n');
    assert.deepEqual(parseProbeOutput(out), { cpus: 96, memoryGb: 1007.5, gpus: [A100, A100, A100, A100], diskFreeGb: 500 });
  });

  it('reads a host without nvidia-smi as having no GPUs', () => {
    assert.deepEqual(parseProbeOutput('sky-probe:cpus=4\nsky-probe:mem_kb=16384000\nsky-probe:disk_kb=\nsky-probe:ok\n'), { cpus: 4, memoryGb: 15.6, gpus: [] });
  });

  it('offers no GPUs, with a note, when nvidia-smi fails', () => {
    const parsed = parseProbeOutput('sky-probe:cpus=8\nsky-probe:mem_kb=33554432\nsky-probe:gpu_error=exit 9: NVIDIA-SMI has failed because it could not communicate with the NVIDIA driver.\nsky-probe:ok\n');
    assert.deepEqual(parsed.gpus, []);
    assert.equal(parsed.gpuNote, 'nvidia-smi failed (exit 9: NVIDIA-SMI has failed because it could not communicate with the NVIDIA driver.), so no GPUs are offered');
  });

  it('ignores what login shells print around it, and reads macOS memory from sysctl', () => {
    const out = 'Last login: Mon\r\nconda activate base\nsky-probe:cpus=10\r\nsky-probe:mem_bytes=34359738368\nsky-probe:ok\nbye\n';
    assert.deepEqual(parseProbeOutput(out), { cpus: 10, memoryGb: 32, gpus: [] });
  });

  it('refuses output that is not a whole probe', () => {
    assert.throws(() => parseProbeOutput('sky-probe:cpus=4\nsky-probe:mem_kb=1000\n'), /the probe did not finish \(no "sky-probe:ok" line\)/);
    assert.throws(() => parseProbeOutput('sky-probe:cpus=\nsky-probe:mem_kb=1000\nsky-probe:ok\n'), /cannot read the CPU count \(nproc and getconf gave ""\)/);
    assert.throws(() => parseProbeOutput('sky-probe:cpus=2\nsky-probe:ok\n'), /cannot read the memory size/);
  });

  it('names GPUs as SkyPilot does', () => {
    const names = [
      ['NVIDIA A100-SXM4-40GB', 40960],
      ['NVIDIA A100-SXM4-80GB', 81920],
      ['NVIDIA H100 80GB HBM3', 81559],
      ['Tesla V100-SXM2-32GB', 32768],
      ['Tesla T4', 15360],
      ['NVIDIA GeForce RTX 4090', 24564],
      ['NVIDIA L4', 23034],
    ].map(([model, mib]) => canonicalGpuName(model as string, mib as number));
    assert.deepEqual(names, ['A100', 'A100-80GB', 'H100', 'V100-32GB', 'T4', 'RTX4090', 'L4']);
  });
});

describe('driver-ssh: the probe script under a real sh', () => {
  let dir: string;
  const tools = ['sh', 'nproc', 'getconf', 'df', 'tail', 'head'];

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sky-ssh-probe-'));
    // A PATH holding only what the probe may use, so a machine's own nvidia-smi cannot leak in.
    for (const variant of ['none', 'gpus', 'broken']) {
      const bin = join(dir, variant);
      execFileSync('mkdir', ['-p', bin]);
      for (const tool of tools) {
        const real = execFileSync('/bin/sh', ['-c', `command -v ${tool}`], { encoding: 'utf8' }).trim();
        await symlink(real, join(bin, tool));
      }
    }
    await writeFile(join(dir, 'gpus', 'nvidia-smi'), `#!/bin/sh\n[ "$1" = "--query-gpu=name,memory.total" ] || exit 2\nprintf '%s' '${A100_SMI}'\n`);
    await writeFile(join(dir, 'broken', 'nvidia-smi'), '#!/bin/sh\necho "NVIDIA-SMI has failed because it could not communicate with the NVIDIA driver." >&2\nexit 9\n');
    chmodSync(join(dir, 'gpus', 'nvidia-smi'), 0o755);
    chmodSync(join(dir, 'broken', 'nvidia-smi'), 0o755);
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const run = (variant: string): string =>
    execFileSync('/bin/sh', ['-c', PROBE_COMMAND], { encoding: 'utf8', env: { PATH: join(dir, variant), HOME: dir } });

  const cpus = Number(execFileSync('nproc', { encoding: 'utf8' }).trim());

  it('is one line without single quotes inside, so any login shell can pass it to sh', () => {
    assert.ok(!PROBE_COMMAND.includes('\n'));
    assert.equal(PROBE_COMMAND.split("'").length, 3, 'only the two quotes around the script');
  });

  it('finds this machine’s CPUs and memory, and no GPUs without nvidia-smi', () => {
    const parsed = parseProbeOutput(run('none'));
    assert.equal(parsed.cpus, cpus);
    assert.ok(parsed.memoryGb > 0.1, `memory ${parsed.memoryGb}`);
    assert.deepEqual(parsed.gpus, []);
    assert.ok(parsed.diskFreeGb !== undefined && parsed.diskFreeGb >= 0);
  });

  it('lists every GPU nvidia-smi reports', () => {
    assert.deepEqual(parseProbeOutput(run('gpus')).gpus, [A100, A100, A100, A100]);
  });

  it('carries nvidia-smi’s failure as a note', () => {
    const parsed = parseProbeOutput(run('broken'));
    assert.deepEqual(parsed.gpus, []);
    assert.match(parsed.gpuNote ?? '', /^nvidia-smi failed \(exit 9: NVIDIA-SMI has failed because it could not communicate/);
  });
});

describe('driver-ssh: probeHost', () => {
  const target = { host: '10.0.0.9', port: 22, user: 'sky', identityFile: '/keys/k' };
  const probe = (host: FakeHost, signal = new AbortController().signal) => probeHost(new FakeSsh(new Map([['10.0.0.9', host]])), target, signal, 1000);

  it('answers with the host’s resources in one command', async () => {
    const ssh = new FakeSsh(new Map<string, FakeHost>([['10.0.0.9', { kind: 'host', cpus: 16, memKb: 64 * 2 ** 20, gpus: ['NVIDIA L4, 23034 MiB', 'NVIDIA L4, 23034 MiB'] }]]));
    const found = await probeHost(ssh, target, new AbortController().signal);
    assert.deepEqual(found, {
      reachable: true,
      authOk: true,
      cpus: 16,
      memoryGb: 64,
      gpus: [
        { name: 'L4', model: 'NVIDIA L4', memoryMiB: 23034 },
        { name: 'L4', model: 'NVIDIA L4', memoryMiB: 23034 },
      ],
      accelerators: [{ name: 'L4', count: 2 }],
      diskFreeGb: 100,
    });
    assert.equal(ssh.calls.length, 1);
    assert.equal(ssh.calls[0]?.command, PROBE_COMMAND);
  });

  it('tells an unreachable host from one that refuses the key, and from one without sh', async () => {
    assert.deepEqual(await probe({ kind: 'refused' }), { reachable: false, authOk: false, cpus: 0, memoryGb: 0, gpus: [], accelerators: [], error: 'connection refused' });
    assert.deepEqual(await probe({ kind: 'auth' }), {
      reachable: true,
      authOk: false,
      cpus: 0,
      memoryGb: 0,
      gpus: [],
      accelerators: [],
      error: 'authentication failed: check the identity file (/keys/k)',
    });
    assert.equal((await probe({ kind: 'timeout' })).error, 'no answer within 1 s');
    const noShell = await probe({ kind: 'no-shell' });
    assert.equal(noShell.error, 'no POSIX shell: sh was not found on the host (exec: sh: not found)');
    assert.equal(noShell.authOk, true);
  });

  it('says what is wrong with output it cannot read', async () => {
    const found = await probe({ kind: 'answer', result: { code: 0, stdout: 'sky-probe:cpus=2\n', stderr: 'df: /home: Input/output error\n' } });
    assert.equal(found.error, 'unreadable probe output: the probe did not finish (no "sky-probe:ok" line) (stderr: df: /home: Input/output error)');
    const failed = await probe({ kind: 'answer', result: { code: 1, stdout: '', stderr: 'sh: 1: cannot create /tmp/x: No space left on device\n' } });
    assert.equal(failed.error, 'the probe exited with 1: sh: 1: cannot create /tmp/x: No space left on device');
  });

  it('rejects with CANCELLED only when its signal aborts', async () => {
    const controller = new AbortController();
    controller.abort(new Error('gone'));
    await assert.rejects(probe({ kind: 'host', cpus: 1, memKb: 1 << 20 }, controller.signal), { code: 'CANCELLED' });
  });

  it('shortens the daemon’s SSH messages for host listings', () => {
    assert.deepEqual(
      [
        'cannot connect to sky@10.0.0.1:22: connection refused',
        'cannot connect to sky@10.0.0.1:22 through jump host j@b:22: no answer within 10 s',
        'authentication failed for sky@10.0.0.1:2222: check the identity file (~/.ssh/id) and the keys in ssh-agent',
        'node 10.0.0.1 unreachable: lost the SSH connection to sky@10.0.0.1:22 (no answer to keepalives for 15 s)',
        'something else entirely',
      ].map(shortReason),
      [
        'connection refused',
        'no answer within 10 s',
        'authentication failed: check the identity file (~/.ssh/id) and the keys in ssh-agent',
        'lost the SSH connection to sky@10.0.0.1:22 (no answer to keepalives for 15 s)',
        'something else entirely',
      ],
    );
  });

  it('answers like a real host in the fake: the canned output parses back', () => {
    const out = probeOutput({ kind: 'host', cpus: 8, memKb: 32 * 2 ** 20, gpus: ['NVIDIA H100 80GB HBM3, 81559 MiB'], noise: 'motd\n' });
    assert.deepEqual(parseProbeOutput(out).gpus.map((g) => g.name), ['H100']);
  });
});
