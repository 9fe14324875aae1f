/** Who is signed in, how this server authenticates, and the team-wide view preference. */
import { call, callsReleased, holdCallsUntil, setUnauthorizedHandler } from './api.js';
import { href } from './logic/route.js';
import { live } from './live.js';
import { Store } from './store.js';
import type { AuthMethods, WhoAmI } from './types.js';

export const me = new Store<WhoAmI | undefined>(undefined);
export const authMethods = new Store<AuthMethods | undefined>(undefined);

const ALL_USERS_KEY = 'sky.dashboard.allUsers';

function storedAllUsers(): boolean {
  try {
    return sessionStorage.getItem(ALL_USERS_KEY) === 'true';
  } catch {
    return false;
  }
}

/** The `-u` view: everyone's clusters, jobs and requests instead of one's own. */
export const allUsers = new Store<boolean>(storedAllUsers());

export function setAllUsers(value: boolean): void {
  if (value === allUsers.value) return;
  try {
    sessionStorage.setItem(ALL_USERS_KEY, String(value));
  } catch {
    // private mode: the choice lasts for this page only
  }
  // Reconnect first (a microtask, before the pages' effects run): pages that refetch for the new
  // view wait for this connection's `ready`.
  void callsReleased().then(() => live.connect(value));
  allUsers.set(value);
}

export function isAdmin(): boolean {
  return me.value?.role === 'admin';
}

let methodsLoaded: Promise<AuthMethods | undefined> = Promise.resolve(undefined);
let leaving = false;

/** Where a 401 sends the browser: the login page (never behind a trusted auth proxy, which signs users in itself). */
export function goToLogin(): void {
  if (leaving || location.pathname === href('login')) return;
  void methodsLoaded.then((m) => {
    if (m?.mode === 'proxy' || leaving) return;
    leaving = true;
    const next = location.pathname + location.search;
    location.assign(`${href('login')}?next=${encodeURIComponent(next)}`);
  });
}

interface Health {
  user?: { id?: string };
}

/** Whether the browser is signed in, from the public health route (it names the caller it resolved). */
async function signedIn(): Promise<boolean | undefined> {
  try {
    const res = await fetch('/api/health', { credentials: 'same-origin', headers: { accept: 'application/json' } });
    if (!res.ok) return undefined;
    const health = (await res.json()) as Health;
    return health.user?.id === undefined ? undefined : health.user.id !== 'anonymous';
  } catch {
    return undefined;
  }
}

/**
 * Start: how the server authenticates and whether this browser is signed in (two public calls,
 * in parallel); then the feed and who-am-I, beside the page's own list fetch. A browser that is
 * not signed in goes straight to the login page (except behind an auth proxy).
 */
export function startSession(onLoginPage: boolean): void {
  setUnauthorizedHandler(goToLogin);
  methodsLoaded = call<AuthMethods>('/auth/methods', { quiet401: true, ungated: true }).then(
    (m) => {
      authMethods.set(m);
      return m;
    },
    () => undefined,
  );
  if (onLoginPage) return;
  holdCallsUntil(
    Promise.all([methodsLoaded, signedIn()]).then(([methods, signed]) => {
      if (signed === false && methods !== undefined && methods.mode !== 'proxy') {
        goToLogin();
        return new Promise<void>(() => undefined);
      }
      return undefined;
    }),
  );
  void callsReleased().then(() => live.connect(allUsers.value));
  void call<WhoAmI>('/users/me').then(
    (who) => me.set(who),
    () => undefined,
  );
}

export async function logOut(): Promise<void> {
  await call('/auth/session', { method: 'DELETE', quiet401: true }).catch(() => undefined);
  location.assign(href('login'));
}
