/** Users and tokens: the team for everyone, one's own tokens; admins manage users and roles. */
import { useState } from 'preact/hooks';
import { call, seg } from '../api.js';
import { ConfirmAction, invalidInput } from '../components/ConfirmAction.js';
import { Page } from '../components/Page.js';
import { VirtualTable, type ColumnDef } from '../components/VirtualTable.js';
import { useLoad, useNow } from '../hooks.js';
import { ago, timestamp } from '../logic/format.js';
import { me } from '../session.js';
import { useStore } from '../store.js';
import type { TokenView, UserView } from '../types.js';

export function UsersPage() {
  const who = useStore(me);
  const admin = who?.role === 'admin';
  const now = useNow(30_000);
  const users = useLoad((signal) => call<{ items: UserView[] }>('/users', { signal }), []);
  const tokens = useLoad((signal) => call<{ items: TokenView[] }>('/tokens', { signal }), []);
  const [secret, setSecret] = useState<{ name: string; token: string } | undefined>(undefined);

  const userColumns: ColumnDef<UserView>[] = [
    { id: 'name', title: 'Name', cell: (u) => u.name },
    { id: 'role', title: 'Role', cell: (u) => u.role },
    { id: 'created', title: 'Created', cell: (u) => timestamp(u.createdAt) },
    { id: 'status', title: 'Status', status: (u) => (u.disabled === true ? 'disabled' : 'active'), cell: (u) => (u.disabled === true ? 'disabled' : 'active') },
  ];
  if (admin) userColumns.push({ id: 'actions', title: 'Actions', cell: (u) => <UserActions user={u} self={u.id === who?.id} done={users.reload} /> });

  const tokenColumns: ColumnDef<TokenView>[] = [
    { id: 'name', title: 'Name', cell: (t) => t.name },
    { id: 'id', title: 'ID', cell: (t) => <code>{t.id}</code> },
    { id: 'created', title: 'Created', cell: (t) => timestamp(t.createdAt) },
    { id: 'expires', title: 'Expires', cell: (t) => (t.expiresAt === undefined ? 'never' : timestamp(t.expiresAt)) },
    { id: 'used', title: 'Last used', cell: (t) => ago(t.lastUsedAt, now) },
    { id: 'status', title: 'Status', status: (t) => (t.revokedAt !== undefined ? 'revoked' : t.expiresAt !== undefined && t.expiresAt < now ? 'expired' : 'active'), cell: (t) => (t.revokedAt !== undefined ? `revoked ${ago(t.revokedAt, now)}` : t.expiresAt !== undefined && t.expiresAt < now ? 'expired' : 'active') },
    {
      id: 'actions',
      title: 'Actions',
      cell: (t) =>
        t.revokedAt !== undefined ? null : (
          <ConfirmAction
            label="Revoke"
            danger
            title={`Revoke token ${t.name}?`}
            describe={`Revoke token ${t.name}`}
            run={async () => {
              await call(`/tokens/${seg(t.id)}/revoke`, { method: 'POST' });
              return { message: `Token ${t.name} revoked.` };
            }}
            done={tokens.reload}
          >
            <p>Whatever uses it is refused from now on.</p>
          </ConfirmAction>
        ),
    },
  ];

  return (
    <Page name="users" title="Users and tokens" ready={users.value !== undefined} error={users.error}>
      <h2>Users</h2>
      {admin && <CreateUser done={users.reload} />}
      <VirtualTable label="Users" columns={userColumns} rows={users.value?.items ?? []} rowKey={(u) => u.name} empty={users.value !== undefined ? 'No users.' : 'Loading…'} />
      <h2>Your tokens</h2>
      {tokens.error !== undefined && (
        <p role="alert" class="error">
          {tokens.error}
        </p>
      )}
      <CreateToken
        done={(name, token) => {
          setSecret({ name, token });
          tokens.reload();
        }}
      />
      {secret !== undefined && (
        <div class="secret" role="region" aria-label="New token">
          <p>
            The secret of token <strong>{secret.name}</strong>, shown this once: store it now.
          </p>
          <input type="text" readOnly value={secret.token} aria-label="Token secret" onFocus={(e) => e.currentTarget.select()} />
          <button type="button" onClick={() => setSecret(undefined)}>
            Done
          </button>
        </div>
      )}
      <VirtualTable label="Tokens" columns={tokenColumns} rows={tokens.value?.items ?? []} rowKey={(t) => t.id} empty={tokens.value !== undefined ? 'No tokens yet.' : tokens.error !== undefined ? 'Tokens are not available here.' : 'Loading…'} />
    </Page>
  );
}

/** How many days a token may live at most when the credential in use expires (a browser session). */
function maxTokenDays(expiresAt: number | undefined, now: number): number | undefined {
  if (expiresAt === undefined) return undefined;
  return Math.max(0.01, Math.floor(((expiresAt - now) / 86_400_000) * 100) / 100);
}

function CreateToken(props: { done: (name: string, token: string) => void }) {
  const who = useStore(me);
  const [name, setName] = useState('');
  const [days, setDays] = useState('');
  const limit = maxTokenDays(who?.expiresAt, Date.now());
  return (
    <div class="actions">
      <ConfirmAction
        label="Create token"
        title="Create a token"
        run={async () => {
          const n = name.trim();
          if (n === '') throw invalidInput('Name: give the token a name (e.g. ci).');
          const d = days.trim() === '' ? maxTokenDays(who?.expiresAt, Date.now()) : Number(days);
          if (d !== undefined && (!Number.isFinite(d) || d <= 0 || d > (limit ?? 3650))) throw invalidInput(`Expires in days: a number above 0 and at most ${limit ?? 3650}${limit === undefined ? ', or empty for never' : ''}.`);
          const created = await call<{ token: string; record: TokenView }>('/tokens', { method: 'POST', body: { name: n, ...(d !== undefined ? { expires_in_days: d } : {}) } });
          props.done(created.record.name, created.token);
          setName('');
          setDays('');
          return { message: `Token ${created.record.name} created.` };
        }}
      >
        <label>
          Name <input type="text" value={name} onInput={(e) => setName(e.currentTarget.value)} maxLength={100} required />
        </label>
        <label>
          Expires in days{' '}
          <input type="number" min="0.01" max={limit ?? 3650} step="any" value={days} onInput={(e) => setDays(e.currentTarget.value)} placeholder={limit !== undefined ? String(limit) : 'never'} />
        </label>
        {limit !== undefined && <p class="muted">You are signed in with a session that expires in {limit} days: a token created here expires no later.</p>}
      </ConfirmAction>
    </div>
  );
}

function CreateUser(props: { done: () => void }) {
  const [name, setName] = useState('');
  const [password, setPassword] = useState('');
  const [role, setRole] = useState<'user' | 'admin'>('user');
  return (
    <div class="actions">
      <ConfirmAction
        label="Create user"
        title="Create a user"
        run={async () => {
          const n = name.trim();
          if (n === '') throw invalidInput('User name: required.');
          if (password !== '' && password.length < 8) throw invalidInput('Password: at least 8 characters (or empty for a user who signs in with tokens only).');
          const user = await call<UserView>('/users', { method: 'POST', body: { name: n, role, ...(password !== '' ? { password } : {}) } });
          setName('');
          setPassword('');
          return { message: `User ${user.name} created (${user.role}).` };
        }}
        done={props.done}
      >
        <label>
          User name <input type="text" value={name} onInput={(e) => setName(e.currentTarget.value)} autoComplete="off" />
        </label>
        <label>
          Password <input type="password" value={password} onInput={(e) => setPassword(e.currentTarget.value)} autoComplete="new-password" />
        </label>
        <label>
          Role{' '}
          <select value={role} onChange={(e) => setRole(e.currentTarget.value === 'admin' ? 'admin' : 'user')}>
            <option value="user">user</option>
            <option value="admin">admin</option>
          </select>
        </label>
      </ConfirmAction>
    </div>
  );
}

function UserActions(props: { user: UserView; self: boolean; done: () => void }) {
  const u = props.user;
  const [role, setRole] = useState<'user' | 'admin'>(u.role === 'admin' ? 'user' : 'admin');
  const [fate, setFate] = useState<'keep' | 'down' | 'transfer'>('keep');
  const [to, setTo] = useState('');
  return (
    <span class="row-actions">
      <ConfirmAction
        label="Set role"
        title={`Set the role of ${u.name}`}
        describe={`Set the role of ${u.name}`}
        run={async () => {
          const v = await call<UserView>(`/users/${seg(u.name)}/role`, { method: 'POST', body: { role } });
          return { message: `${v.name} is now ${v.role}.` };
        }}
        done={props.done}
      >
        <label>
          Role{' '}
          <select value={role} onChange={(e) => setRole(e.currentTarget.value === 'admin' ? 'admin' : 'user')}>
            <option value="user">user</option>
            <option value="admin">admin</option>
          </select>
        </label>
      </ConfirmAction>
      {!props.self && (
        <ConfirmAction
          label="Delete user"
          danger
          title={`Delete user ${u.name}?`}
          describe={`Delete user ${u.name}`}
          run={async () => {
            if (fate === 'transfer' && to.trim() === '') throw invalidInput('Give their clusters to: a user name (or choose to tear them down).');
            const body = fate === 'down' ? { down: true } : fate === 'transfer' ? { transfer_to: to.trim() } : {};
            const d = await call<{ name: string; transferred: string[]; downRequests: unknown[] }>(`/users/${seg(u.name)}`, { method: 'DELETE', body });
            return { message: `User ${d.name} deleted; ${d.transferred.length} cluster(s) transferred, ${d.downRequests.length} torn down.` };
          }}
          done={props.done}
        >
          <p>Their tokens are revoked and their requests cancelled. Their clusters:</p>
          <label>
            <input type="radio" name={`fate-${u.id}`} checked={fate === 'keep'} onChange={() => setFate('keep')} /> they have none
          </label>
          <label>
            <input type="radio" name={`fate-${u.id}`} checked={fate === 'transfer'} onChange={() => setFate('transfer')} /> give to{' '}
            <input type="text" aria-label="Give their clusters to" value={to} onInput={(e) => setTo(e.currentTarget.value)} />
          </label>
          <label>
            <input type="radio" name={`fate-${u.id}`} checked={fate === 'down'} onChange={() => setFate('down')} /> tear them down
          </label>
        </ConfirmAction>
      )}
    </span>
  );
}
