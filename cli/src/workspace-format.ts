import type { CreateWorkspaceBody, UpdateWorkspaceBody, WorkspaceView } from '@sky/protocol';
import { table } from './format.js';
import { UsageError, type CliOptions } from './usage.js';

/** `sky workspace list`: NAME  PRIVATE  USERS  INFRA ("-" for everyone / any infra). */
export function workspaceTable(workspaces: readonly WorkspaceView[]): string[] {
  const rows = workspaces.map((w) => [
    w.name,
    w.private ? 'yes' : 'no',
    w.private ? (w.allowedUserNames.length > 0 ? w.allowedUserNames.join(',') : '-') : 'all',
    w.allowedInfra !== undefined && w.allowedInfra.length > 0 ? w.allowedInfra.join(',') : 'any',
  ]);
  return table(['NAME', 'PRIVATE', 'USERS', 'INFRA'], rows);
}

/** The body of `sky workspace create NAME [--private] [--allow USER...] [--infra INFRA...]`. */
export function createBody(name: string, options: CliOptions): CreateWorkspaceBody {
  if (options.workspaceInfra?.includes('any')) throw new UsageError('--infra any is the default of a new workspace: leave --infra out', 'sky workspace create --help');
  return {
    name,
    ...(options.private === true ? { private: true } : {}),
    ...(options.allow !== undefined ? { allowed_users: [...new Set(options.allow)] } : {}),
    ...(options.workspaceInfra !== undefined ? { allowed_infra: [...new Set(options.workspaceInfra)] } : {}),
  };
}

/** The body of `sky workspace update NAME`: only what is given changes; `--infra any` lifts the restriction. */
export function updateBody(options: CliOptions): UpdateWorkspaceBody {
  const help = 'sky workspace update --help';
  if (options.private === true && options.public === true) throw new UsageError('--private and --public do not go together', help);
  const body: UpdateWorkspaceBody = {};
  if (options.private === true) body.private = true;
  if (options.public === true) body.private = false;
  if (options.allow !== undefined) body.allowed_users = [...new Set(options.allow)];
  if (options.workspaceInfra !== undefined) {
    const infra = [...new Set(options.workspaceInfra)];
    if (infra.includes('any') && infra.length > 1) throw new UsageError('--infra any lifts the restriction: give it alone', help);
    body.allowed_infra = infra.includes('any') ? null : infra;
  }
  if (Object.keys(body).length === 0) throw new UsageError('nothing to change: give --private, --public, --allow or --infra', help);
  return body;
}
