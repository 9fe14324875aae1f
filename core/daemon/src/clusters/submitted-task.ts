import { assertResolved, parseTask, substituteEnvs, substituteEnvText, type Task, type TaskUploads } from '@sky/protocol';

/**
 * A task as a client submitted it to launch or exec, made ready to run: parsed, every env and
 * secret given a value, and the task's envs substituted into workdir and file_mounts (both
 * destinations and sources) as SkyPilot does. The sky CLI substitutes before it uploads; any
 * other client (Python, curl) gets the same substitution here, so `${MODEL}` never reaches a
 * node as a file name. Sources still have to be uploads (or server paths the caller may name).
 */
export function submittedTask(raw: unknown, field = 'body.task'): Task {
  return assertResolved(substituteEnvs(parseTask(raw, field)), field);
}

/** The uploads of a submitted task, keyed by the substituted destinations its file_mounts now have. */
export function submittedUploads(uploads: TaskUploads | undefined, task: Pick<Task, 'envs'>): TaskUploads | undefined {
  if (uploads?.file_mounts === undefined) return uploads;
  const fileMounts: Record<string, string> = {};
  for (const [dest, id] of Object.entries(uploads.file_mounts)) fileMounts[substituteEnvText(dest, task.envs)] = id;
  return { ...uploads, file_mounts: fileMounts };
}
