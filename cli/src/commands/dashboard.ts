import { connect, withServer } from '../context.js';
import { note, print } from '../output.js';
import type { Invocation } from '../usage.js';

/** The platform's command that opens a URL in the default browser. */
function opener(): { command: string; args: (url: string) => string[] } {
  if (process.platform === 'darwin') return { command: 'open', args: (url) => [url] };
  if (process.platform === 'win32') return { command: 'cmd', args: (url) => ['/c', 'start', '""', url] };
  return { command: 'xdg-open', args: (url) => [url] };
}

/** Start the browser on `url`, detached; false when it could not be started. */
async function openBrowser(url: string): Promise<boolean> {
  const { spawn } = await import('node:child_process');
  const { command, args } = opener();
  return new Promise((resolve) => {
    const child = spawn(command, args(url), { detached: true, stdio: 'ignore' });
    child.once('error', () => resolve(false));
    child.once('spawn', () => {
      child.unref();
      resolve(true);
    });
  });
}

/**
 * Whether a browser can be shown to the person at this terminal: SkyPilot's `sky dashboard`
 * opens one, which only makes sense on a terminal with a desktop (not over plain SSH, not in CI).
 */
export function canShowBrowser(env: NodeJS.ProcessEnv = process.env, platform: NodeJS.Platform = process.platform, interactive = process.stdout.isTTY === true): boolean {
  if (!interactive) return false;
  if (platform === 'darwin' || platform === 'win32') return true;
  return (env.DISPLAY ?? '') !== '' || (env.WAYLAND_DISPLAY ?? '') !== '';
}

/**
 * `sky dashboard [--open]`: ask the API server for a one-time login link, print it, and open it
 * in a browser where one can be shown (as SkyPilot's `sky dashboard` opens the dashboard), or
 * always with --open. The browser that opens it gets an HttpOnly session cookie as this user.
 * The link is the credential: it works once and only for a short while.
 */
export async function run({ options }: Invocation): Promise<number> {
  const client = await connect();
  try {
    const link = await withServer(client, () => client.createLoginLink());
    const url = `${client.endpoint.url}${link.path}`;
    const seconds = Math.max(1, Math.round((link.expiresAt - Date.now()) / 1000));
    const open = options.open === true || canShowBrowser();
    if (open) note(`Opening the dashboard in your browser (the link works once; the session lasts until ${new Date(link.sessionExpiresAt).toLocaleString()}):`);
    else note(`Open this link in your browser within ${seconds} s; it works once, and the session it opens lasts until ${new Date(link.sessionExpiresAt).toLocaleString()}:`);
    print(url);
    if (open && !(await openBrowser(url))) note('Could not start a browser here: open the link yourself.');
    return 0;
  } finally {
    client.close();
  }
}
