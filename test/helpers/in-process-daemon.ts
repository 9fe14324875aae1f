import 'reflect-metadata';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { DependencyContainer } from 'tsyringe';
import { compose, createLogger, Daemon, daemonPaths, loadDaemonConfig } from '@sky/daemon';
import { removeHome, tempHome } from './daemon-process.js';
import { startNodeHelper } from './node-helper.js';
import { TEAM_ADMIN, teamDriverConfig } from './team.js';

export interface InProcessDaemon {
  url: string;
  home: string;
  stop(): Promise<void>;
}

/**
 * A team daemon (the config of startTeamDaemon: basic auth, the local driver running jobs as OS
 * accounts through a sky-node-helper started for it) composed in this process and serving HTTP
 * on a free port, so a test can change its object graph through the DI container before it
 * starts (e.g. register an access policy with a rule taken out).
 */
export async function startInProcessTeamDaemon(customize: (container: DependencyContainer) => void): Promise<InProcessDaemon> {
  const home = tempHome();
  const file = join(home, 'daemon.yaml');
  const helper = await startNodeHelper();
  // Room for the route walk and the fuzzer side by side (the local driver only counts it).
  writeFileSync(file, `auth:\n  mode: basic\n${teamDriverConfig(home, helper, { cpus: 32, memoryGb: 64 })}`);
  const config = loadDaemonConfig({
    configFile: file,
    userConfigFile: join(home, '.sky/config.yaml'),
    overrides: {
      state_dir: join(home, '.sky/api_server'),
      listen: { host: '127.0.0.1', port: 0 },
      auth: { admin: { username: TEAM_ADMIN.name, password: TEAM_ADMIN.password } },
      shutdown: { drain_seconds: 1 },
    },
  });
  const paths = daemonPaths(config);
  const container = compose({ config, paths, logger: createLogger(paths.logFile, 'warn', false).logger });
  customize(container);
  const daemon = container.resolve(Daemon);
  let listening;
  try {
    listening = await daemon.start();
  } catch (err) {
    await helper.stop();
    removeHome(home);
    throw err;
  }
  return {
    url: listening.url,
    home,
    async stop() {
      try {
        await daemon.stop();
      } finally {
        await helper.stop();
        removeHome(home);
      }
    },
  };
}
