// `sky status -u` timed from outside, as a user runs it, beside what any node process costs on
// this machine: `node -e 0` with the same environment. NODE_EXTRA_CA_CERTS, for one, makes
// Node 20 parse a CA bundle at every start (~90 ms here) before sky's first line runs, so a
// figure is read against the floor of the same run.
import { spawnSync } from 'node:child_process';
import { performance } from 'node:perf_hooks';

/** Wall milliseconds of `node -e 0` with `env`. */
export function nodeFloorOnce(env) {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, ['-e', '0'], { env, stdio: 'ignore' });
  const ms = performance.now() - t0;
  if (r.status !== 0) throw new Error(`node -e 0 exited ${r.status}`);
  return ms;
}

/** Wall milliseconds of `sky status -u` (the CLI at `bin`), checked to list `clusters` rows of names starting with c-. */
export function statusOnce(bin, env, clusters) {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, [bin, 'status', '-u'], { env, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, timeout: 120_000 });
  const ms = performance.now() - t0;
  if (r.status !== 0) throw new Error(`sky status -u exited ${r.status}: ${r.stderr}`);
  let rows = 0;
  for (let at = r.stdout.indexOf('\nc-'); at >= 0; at = r.stdout.indexOf('\nc-', at + 1)) rows += 1;
  if (rows !== clusters) throw new Error(`sky status -u listed ${rows} clusters, expected ${clusters}`);
  return ms;
}

/** Whether this run's environment makes node read a CA bundle at start. */
export function caNote(env) {
  return env.NODE_EXTRA_CA_CERTS ? `NODE_EXTRA_CA_CERTS=${env.NODE_EXTRA_CA_CERTS}` : 'NODE_EXTRA_CA_CERTS unset';
}
