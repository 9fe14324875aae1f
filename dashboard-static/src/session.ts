/** Who is signed in, how this server authenticates, and the team-wide view preference. */
import { call, setUnauthorizedHandler } from './api.js';
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
  // Reconnect first: pages that refetch for the new view wait for this connection's `ready`.
  live.connect(value);
  allUsers.set(value);
}

export function isAdmin(): boolean {
  return me.value?.role === 'admin';
}

/** Where a 401 sends the browser: the login page (never behind a trusted auth proxy). */
export function goToLogin(): void {
  if (authMethods.value?.mode === 'proxy') return;
  if (location.pathname === href('login')) return;
  const next = location.pathname + location.search;
  location.assign(`${href('login')}?next=${encodeURIComponent(next)}`);
}

/** Start: the feed and who-am-I in parallel (the page's own list fetch runs beside them). */
export function startSession(onLoginPage: boolean): void {
  setUnauthorizedHandler(goToLogin);
  void call<AuthMethods>('/auth/methods', { quiet401: true }).then(
    (m) => authMethods.set(m),
    () => authMethods.set(undefined),
  );
  if (onLoginPage) return;
  live.connect(allUsers.value);
  void call<WhoAmI>('/users/me').then(
    (who) => me.set(who),
    () => undefined,
  );
}

export async function logOut(): Promise<void> {
  await call('/auth/session', { method: 'DELETE', quiet401: true }).catch(() => undefined);
  location.assign(href('login'));
}
