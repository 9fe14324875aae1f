import { createServer } from 'node:net';
import { isLoopbackHost } from '../listen/policy.js';

/** What a replica's run command is told: the service, its replica id and the port to serve on. */
export interface ReplicaEnv {
  service: string;
  replica: number;
  port: number;
}

function isMapping(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * The task as a replica's cluster runs it, in two steps: first provisioned and set up without
 * its run command (`env` undefined), then the run command alone with the replica's variables
 * (SKY_SERVICE_NAME, SKY_SERVE_REPLICA_ID, SKY_SERVE_PORT), without setup, workdir or file
 * mounts, which the first step already did.
 */
export function replicaTask(task: unknown, env: ReplicaEnv | undefined): unknown {
  if (!isMapping(task)) return task;
  if (env === undefined) {
    const { run: _run, ...rest } = task;
    return rest;
  }
  const { setup: _setup, workdir: _workdir, file_mounts: _mounts, ...rest } = task;
  const envs = isMapping(task.envs) ? task.envs : {};
  return { ...rest, envs: { ...envs, SKY_SERVICE_NAME: env.service, SKY_SERVE_REPLICA_ID: String(env.replica), SKY_SERVE_PORT: String(env.port) } };
}

/** A free TCP port on this machine's loopback (the OS picks it; the replica binds it moments later). */
function freeLoopbackPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/**
 * The port a replica serves on: the service's port on a node of its own; on nodes that share
 * this machine's network (the local driver, all on loopback) each replica gets a free port of
 * its own, passed in SKY_SERVE_PORT, or the second replica could not bind.
 */
export async function replicaPort(address: string, servicePort: number): Promise<number> {
  return isLoopbackHost(address) ? freeLoopbackPort() : servicePort;
}
