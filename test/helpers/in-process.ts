import 'reflect-metadata';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import type { InjectionToken } from 'tsyringe';
import type { StateStore } from '@sky/plugin-api';
import { MemoryStateStore } from '@sky/plugin-api/testing';
import { compose, DaemonConfigSchema, RequestService, Scheduler, type DaemonConfigInput, type PluginRegistry } from '@sky/daemon';

export const noPlugins: PluginRegistry = {
  load: async () => undefined,
  states: () => [],
  drivers: () => new Map(),
  closeAll: async () => undefined,
  list: async () => ({ items: [] }),
  install: async () => {
    throw new Error('no plugins directory in an in-process test daemon');
  },
};

export interface InProcess {
  scheduler: Scheduler;
  service: RequestService;
  store: StateStore;
  dir: string;
  /** Any component of the graph. */
  resolve<T>(token: InjectionToken<T>): T;
  close(): Promise<void>;
}

/** The daemon's object graph without HTTP, on a given (default: in-memory) store. */
export async function inProcess(config: DaemonConfigInput = {}, store: StateStore = new MemoryStateStore()): Promise<InProcess> {
  const dir = mkdtempSync(join(tmpdir(), 'sky-inproc-'));
  const parsed = DaemonConfigSchema.parse({ state_dir: dir, ...config });
  await store.open();
  const container = compose({
    config: parsed,
    paths: { stateDir: dir, storePath: join(dir, 'state'), logFile: join(dir, 'server.log'), pidFile: join(dir, 'daemon.json') },
    logger: pino({ level: 'silent' }),
    store,
    plugins: noPlugins,
  });
  const scheduler = container.resolve(Scheduler);
  return {
    scheduler,
    service: container.resolve(RequestService),
    store,
    dir,
    resolve: (token) => container.resolve(token),
    async close() {
      await scheduler.drain(0);
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export const alice = { user: 'u-alice', userName: 'alice', workspace: 'default' };
export const bob = { user: 'u-bob', userName: 'bob', workspace: 'default' };

export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
