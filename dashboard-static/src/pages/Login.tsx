/** Login: a password form when the server offers one; otherwise how to get a login link. */
import { useState } from 'preact/hooks';
import { call, errorText } from '../api.js';
import { useLoad } from '../hooks.js';
import { safeNext } from '../logic/route.js';
import type { AuthMethods } from '../types.js';

/** Where to go after logging in: the page that sent us here, if it is one of ours. */
function nextPath(): string {
  return safeNext(new URLSearchParams(location.search).get('next'));
}

export function LoginPage() {
  const methods = useLoad((signal) => call<AuthMethods>('/auth/methods', { signal, quiet401: true }), []);
  const [name, setName] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState<string | undefined>(undefined);
  const [busy, setBusy] = useState(false);
  const m = methods.value;
  const submitLogin = async (e: Event): Promise<void> => {
    e.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      await call('/auth/password-session', { method: 'POST', body: { name: name.trim(), password }, quiet401: true });
      location.assign(nextPath());
    } catch (err) {
      setError(errorText(err));
      setBusy(false);
    }
  };
  const password_ = m?.passwordLogin === true;
  return (
    <main id="main" data-page="login" data-ready={methods.value !== undefined || methods.error !== undefined ? 'true' : undefined} class="login">
      <h1>Sign in to sky</h1>
      {m?.mode === 'proxy' ? (
        <p>
          This server signs you in through its authentication proxy: there is no login here. <a href={nextPath()}>Open the dashboard</a>.
        </p>
      ) : password_ ? (
        <form onSubmit={(e) => void submitLogin(e)}>
          <label>
            User name <input type="text" name="username" autoComplete="username" value={name} onInput={(e) => setName(e.currentTarget.value)} required />
          </label>
          <label>
            Password <input type="password" name="password" autoComplete="current-password" value={password} onInput={(e) => setPassword(e.currentTarget.value)} required />
          </label>
          <button type="submit" class="primary" disabled={busy}>
            Log in
          </button>
          <div role="alert">{error !== undefined && <p class="error">{error}</p>}</div>
        </form>
      ) : (
        <div role="alert">{methods.value !== undefined || methods.error !== undefined ? <p>This server offers no password login here.</p> : null}</div>
      )}
      <p class="muted">
        From a terminal signed in to this server, <code>sky dashboard</code> prints a one-time login link.
      </p>
    </main>
  );
}
