import { strict as assert } from 'node:assert';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { INCLUDE_LINE, clusterSshConfig, ensureInclude, hostNames, removeClusterSsh, writeClusterSsh } from '../../cli/src/ssh-config.js';

const homes: string[] = [];
function home(): string {
  const dir = mkdtempSync(join(tmpdir(), 'sky-ssh-config-'));
  homes.push(dir);
  return dir;
}
after(() => {
  for (const dir of homes) rmSync(dir, { recursive: true, force: true });
});

const KEY = { publicKey: 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl', fingerprint: 'SHA256:x' };

describe('the SSH config sky writes for a cluster', () => {
  it('names the head after the cluster and the workers NAME-workerN, each tunnelled to its rank', () => {
    assert.deepEqual(hostNames('c', 3), ['c', 'c-worker1', 'c-worker2']);
    const text = clusterSshConfig('c', 2, '/h/known', ['/usr/bin/node', '/opt/sky 100%/sky.js']);
    assert.match(text, /^Host c\n {2}HostName c\n {2}ProxyCommand '\/usr\/bin\/node' '\/opt\/sky 100%%\/sky.js' ssh-proxy c 0$/m);
    assert.match(text, /^Host c-worker1$/m);
    assert.match(text, /ssh-proxy c 1$/m);
    assert.match(text, /UserKnownHostsFile "\/h\/known"/);
    assert.match(text, /StrictHostKeyChecking yes/);
    assert.match(text, /ForwardAgent no/);
  });

  it('adds the Include once, at the top, keeping the rest of ~/.ssh/config and its mode', () => {
    const h = home();
    const config = join(h, '.ssh', 'config');
    mkdirSync(join(h, '.ssh'), { mode: 0o700 });
    writeFileSync(config, 'Host *\n  ServerAliveInterval 60\n', { mode: 0o640 });
    assert.equal(ensureInclude(config), true);
    assert.equal(ensureInclude(config), false);
    const text = readFileSync(config, 'utf8');
    assert.equal(text.split('\n').filter((l) => l === INCLUDE_LINE).length, 1);
    assert.equal(text.split('\n')[1], INCLUDE_LINE);
    assert.ok(text.endsWith('\nHost *\n  ServerAliveInterval 60\n'));
    assert.equal(statSync(config).mode & 0o777, 0o640);
  });

  it('edits a symlinked ~/.ssh/config where it points, leaving the link in place', () => {
    const h = home();
    const real = join(h, 'dotfiles-ssh-config');
    writeFileSync(real, 'Host a\n');
    mkdirSync(join(h, '.ssh'));
    symlinkSync(real, join(h, '.ssh', 'config'));
    ensureInclude(join(h, '.ssh', 'config'));
    assert.match(readFileSync(real, 'utf8'), /Include ~\/\.sky\/generated\/ssh\/\*\n\nHost a\n$/);
  });

  it('creates ~/.ssh/config (0600) when there is none, and removes only the cluster files on down', () => {
    const h = home();
    const paths = writeClusterSsh('c', 1, KEY, h);
    assert.equal(statSync(join(h, '.ssh', 'config')).mode & 0o777, 0o600);
    assert.equal(readFileSync(paths.knownHosts, 'utf8'), `sky-c ${KEY.publicKey}\n`);
    removeClusterSsh('c', h);
    assert.equal(existsSync(paths.config), false);
    assert.equal(existsSync(paths.knownHosts), false);
    assert.match(readFileSync(join(h, '.ssh', 'config'), 'utf8'), /Include/);
  });

  it('refuses a cluster name that would not be one SSH host name', () => {
    assert.throws(() => writeClusterSsh('a b', 1, KEY, home()), /cannot be an SSH host name/);
  });
});
