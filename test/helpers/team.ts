import assert from 'node:assert/strict';
import { join } from 'node:path';
import { http, startDaemon, tempHome, type DaemonHandle } from './daemon-process.js';
import { startNodeHelper, type NodeHelperHandle } from './node-helper.js';

/** The first admin of a team daemon; every other test user's password is `<name>-password`. */
export const TEAM_ADMIN = { name: 'admin', password: 'admin-pass-1' };

/** Headers of a JSON call with basic auth (and, when given, a workspace). */
export function basicAuth(name: string, password: string, workspace?: string): Record<string, string> {
  return {
    authorization: `Basic ${Buffer.from(`${name}:${password}`).toString('base64')}`,
    'content-type': 'application/json',
    ...(workspace === undefined ? {} : { 'x-sky-workspace': workspace }),
  };
}

export const asAdmin = (): Record<string, string> => basicAuth(TEAM_ADMIN.name, TEAM_ADMIN.password);
export const asUser = (name: string, workspace?: string): Record<string, string> => basicAuth(name, `${name}-password`, workspace);

/** Submit an operation (expecting 202) and long-poll its request until it has finished. */
export async function runOperation<R extends { status: string }>(url: string, name: string, body: unknown, headers: Record<string, string>): Promise<R> {
  const res = await http(`${url}/api/v1/${name}`, { method: 'POST', headers, body: JSON.stringify(body) });
  assert.equal(res.status, 202, res.text);
  const id = (res.json() as { requestId: string }).requestId;
  for (;;) {
    const rec = (await http(`${url}/api/v1/requests/${id}/wait?timeout=30`, { headers })).json() as R;
    if (!['PENDING', 'RUNNING'].includes(rec.status)) return rec;
  }
}

export function errorOf(text: string): { code: string; message: string } {
  return (JSON.parse(text) as { error: { code: string; message: string } }).error;
}

/** A team daemon and the sky-node-helper its local driver runs jobs through. */
export type TeamDaemonHandle = DaemonHandle & { helper: NodeHelperHandle };

/**
 * The `node_helper` and `drivers.local` blocks of a team daemon config: the local driver runs
 * each sky user's jobs as an OS account `<helper prefix><name>-<hash>`, created on first use.
 */
export function teamDriverConfig(home: string, helper: NodeHelperHandle, size = { cpus: 8, memoryGb: 16 }): string {
  return (
    `node_helper:\n  socket: ${helper.socket}\n` +
    `drivers:\n  local:\n    root: ${join(home, 'nodes')}\n    cpus: ${size.cpus}\n    memory_gb: ${size.memoryGb}\n` +
    `    accounts:\n      create: true\n      prefix: ${helper.prefix}\n`
  );
}

/**
 * A basic-auth daemon with the local driver (8 CPUs, 16 GB) in a temp HOME, its first admin
 * from the environment, and the given users created by that admin. Jobs run as OS accounts made
 * for each user by a sky-node-helper started for this daemon; stop() also stops the helper and
 * removes those accounts. `authExtra`: more lines under `auth:` (indented two spaces);
 * `driversExtra`: more drivers under `drivers:` (indented two spaces); `configExtra`: more
 * top-level blocks.
 */
export async function startTeamDaemon(users: readonly string[], authExtra = '', driversExtra = '', configExtra = ''): Promise<TeamDaemonHandle> {
  const home = tempHome();
  const helper = await startNodeHelper();
  let d: DaemonHandle;
  try {
    d = await startDaemon({
      home,
      config: `auth:\n  mode: basic\n${authExtra}${teamDriverConfig(home, helper)}${driversExtra}${configExtra}`,
      env: { SKY_ADMIN_USERNAME: TEAM_ADMIN.name, SKY_ADMIN_PASSWORD: TEAM_ADMIN.password },
    });
  } catch (err) {
    await helper.stop();
    throw err;
  }
  for (const name of users) {
    const res = await http(`${d.url}/api/v1/users`, { method: 'POST', headers: asAdmin(), body: JSON.stringify({ name, password: `${name}-password` }) });
    assert.equal(res.status, 201, res.text);
  }
  const stopDaemon = d.stop.bind(d);
  return Object.assign(d, {
    helper,
    async stop(timeoutMs?: number) {
      try {
        return await stopDaemon(timeoutMs);
      } finally {
        await helper.stop();
      }
    },
  });
}
