// SkyPilot's git workdir (`workdir: {url, ref}`), done on the client: the repository is cloned
// here with the user's own git and credentials, and the clone is uploaded like any workdir.
// Nodes need no git, and no credential ever leaves this machine.
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SkyError } from '@sky/protocol/wire';
import type { GitWorkdir } from '@sky/protocol/task-core';

interface GitResult {
  code: number | null;
  stderr: string;
}

function git(args: readonly string[], cwd?: string): Promise<GitResult> {
  return new Promise((resolve, reject) => {
    // No prompt for credentials (it would hang a non-interactive launch); no pager. Only network
    // and file transports: a task file must not run commands here through `ext::` or `fd::`
    // URLs, whatever the user's git config allows.
    const child = spawn('git', args, {
      cwd,
      stdio: ['ignore', 'ignore', 'pipe'],
      env: { ...process.env, GIT_TERMINAL_PROMPT: '0', GIT_PAGER: 'cat', GIT_ALLOW_PROTOCOL: 'file:git:http:https:ssh' },
    });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') reject(new SkyError('TASK_INVALID', 'workdir: a git workdir ({url, ref}) is cloned on this machine, and git is not installed here', { hint: 'Install git, or give a local directory as workdir.' }));
      else reject(err);
    });
    child.on('close', (code) => resolve({ code, stderr }));
  });
}

function lastLine(stderr: string): string {
  return stderr.trim().split('\n').filter((l) => l.trim() !== '').pop() ?? 'no message from git';
}

function describe(workdir: GitWorkdir): string {
  return workdir.ref === undefined ? workdir.url : `${workdir.url} at ${workdir.ref}`;
}

/** For --dryrun: the repository answers (the launch would clone it), nothing is fetched. */
export async function checkGitWorkdir(workdir: GitWorkdir): Promise<void> {
  const r = await git(['ls-remote', '--quiet', '--', workdir.url, 'HEAD']);
  if (r.code !== 0) {
    throw new SkyError('TASK_INVALID', `workdir: cannot reach the git repository ${workdir.url}: ${lastLine(r.stderr)}`, {
      hint: 'Check the URL and that your git can read it (credentials, network), or give a local directory as workdir.',
    });
  }
}

/** Clone the repository at its ref into a fresh directory; `remove` deletes it. */
export async function cloneGitWorkdir(workdir: GitWorkdir): Promise<{ dir: string; remove: () => Promise<void> }> {
  const parent = await mkdtemp(join(tmpdir(), 'sky-git-workdir-'));
  const dir = join(parent, 'workdir');
  const remove = () => rm(parent, { recursive: true, force: true });
  try {
    const clone = await git(['clone', '--quiet', ...(workdir.ref === undefined ? ['--depth', '1'] : []), '--', workdir.url, dir]);
    if (clone.code !== 0) {
      throw new SkyError('TASK_INVALID', `workdir: cannot clone ${workdir.url}: ${lastLine(clone.stderr)}`, {
        hint: 'Check the URL and that your git can read it (credentials, network), or give a local directory as workdir.',
      });
    }
    if (workdir.ref !== undefined) {
      const checkout = await git(['checkout', '--quiet', workdir.ref, '--'], dir);
      if (checkout.code !== 0) {
        throw new SkyError('TASK_INVALID', `workdir: ${describe(workdir)}: no such branch, tag or commit: ${lastLine(checkout.stderr)}`, {
          hint: 'Give a ref that exists in the repository (a branch, tag or commit), or leave ref out for the default branch.',
        });
      }
    }
    return { dir, remove };
  } catch (err) {
    await remove();
    throw err;
  }
}
