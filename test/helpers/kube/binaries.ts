/**
 * Where the control plane's binaries are: `SKY_KUBE_BIN` when set, else the folder
 * `scripts/kube-build.sh` prints (it builds once per version and caches). Under CI=true (or with
 * SKY_KUBE_BUILD=1) the script may build, and any failure is an error; elsewhere only an already
 * cached build is used (`--check`), and a missing one makes the tests skip with a message saying
 * how to build it.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';

const REPO_ROOT = resolve(import.meta.dirname, '../../..');
const NEEDED = ['kube-apiserver', 'kube-controller-manager', 'kube-scheduler'];

export type KubeBinaries = { binDir: string; etcd: string; skip?: undefined } | { skip: string; binDir?: undefined };

function which(cmd: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(':')) {
    if (dir !== '' && existsSync(join(dir, cmd))) return join(dir, cmd);
  }
  return undefined;
}

function checked(binDir: string, origin: string): KubeBinaries {
  const missing = NEEDED.filter((b) => !existsSync(join(binDir, b)));
  const etcd = which('etcd');
  if (missing.length > 0) throw new Error(`${origin} (${binDir}) lacks ${missing.join(', ')}: run 'bash scripts/kube-build.sh' or point SKY_KUBE_BIN at a folder holding them`);
  if (!etcd) throw new Error(`etcd is not on PATH: install Debian's etcd-server (scripts/kube-build.sh does it)`);
  return { binDir, etcd };
}

/** Find (under CI: build) the binaries; see the file comment. Never skips under CI=true. */
export function kubeBinaries(): KubeBinaries {
  const ci = process.env.CI === 'true';
  const fromEnv = process.env.SKY_KUBE_BIN;
  if (fromEnv) return checked(fromEnv, 'SKY_KUBE_BIN');
  const mayBuild = ci || process.env.SKY_KUBE_BUILD === '1';
  const script = join(REPO_ROOT, 'scripts/kube-build.sh');
  const run = spawnSync('bash', mayBuild ? [script] : [script, '--check'], { encoding: 'utf8', stdio: ['ignore', 'pipe', mayBuild ? 'inherit' : 'pipe'] });
  const lines = (run.stdout ?? '').trim().split('\n');
  const binDir = lines[lines.length - 1] ?? '';
  if (run.status === 0 && binDir !== '') return checked(binDir, 'scripts/kube-build.sh');
  const why = `${(run.stderr ?? '').trim() || run.error?.message || `exit ${run.status}`}`;
  if (ci) throw new Error(`the Kubernetes control plane could not be built (CI=true never skips): ${why}`);
  return {
    skip: `${why} (or run the tests with SKY_KUBE_BUILD=1 to build it now, or set SKY_KUBE_BIN to a folder holding the binaries)`,
  };
}
