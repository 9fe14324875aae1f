// A task given as a bare command. Kept apart from the YAML reader so that running a command
// loads neither the YAML parser nor the task schema.
import { SkyError } from '../wire/errors.js';
import type { Task } from './types.js';

/** `sky launch 'echo hi'` and `sky launch -- echo hi`: a one-node task that runs the command. */
export function taskFromCommand(command: string | readonly string[]): Task {
  const run = typeof command === 'string' ? command : command.join(' ');
  if (run.trim().length === 0) {
    throw new SkyError('TASK_INVALID', '<command line>: the command is empty; give a task YAML file or a command to run', {
      hint: "Example: sky launch 'echo hi', or sky launch task.yaml.",
      details: { source: '<command line>', issues: [{ path: 'run', message: 'the command is empty' }] },
    });
  }
  return { num_nodes: 1, resources: {}, envs: {}, secrets: {}, file_mounts: {}, run };
}
