import { SkyError, uploadPathProblem } from '@sky/protocol';

/** Refuse a file or directory path of a sync that could leave its destination (transports check it again). */
export function assertSyncPath(path: string): void {
  const problem = uploadPathProblem(path);
  if (problem !== undefined) {
    throw new SkyError('NODE_RUNTIME_ERROR', `refusing to sync ${JSON.stringify(path.slice(0, 200))}: the path ${problem}`, {
      hint: 'Paths synced to a node are relative to their destination.',
    });
  }
}
