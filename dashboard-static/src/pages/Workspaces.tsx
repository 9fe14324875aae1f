/** Workspaces: the ones the caller may use; admins create, change and delete them. */
import { useState } from 'preact/hooks';
import { call, seg } from '../api.js';
import { ConfirmAction, invalidInput } from '../components/ConfirmAction.js';
import { Page } from '../components/Page.js';
import { VirtualTable, type ColumnDef } from '../components/VirtualTable.js';
import { useLoad } from '../hooks.js';
import { timestamp } from '../logic/format.js';
import { me } from '../session.js';
import { useStore } from '../store.js';
import type { WorkspaceView } from '../types.js';

function list(text: string): string[] {
  return text
    .split(/[\s,]+/)
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

const NAME = /^[a-z0-9][a-z0-9_-]*$/;

function WorkspaceFields(props: { priv: boolean; setPriv: (v: boolean) => void; users: string; setUsers: (v: string) => void; infra: string; setInfra: (v: string) => void }) {
  return (
    <>
      <label>
        <input type="checkbox" checked={props.priv} onChange={(e) => props.setPriv(e.currentTarget.checked)} /> Private (only the allowed users)
      </label>
      <label>
        Allowed users <input type="text" value={props.users} onInput={(e) => props.setUsers(e.currentTarget.value)} placeholder="alice, bob" />
      </label>
      <label>
        Allowed infra <input type="text" value={props.infra} onInput={(e) => props.setInfra(e.currentTarget.value)} placeholder="every infra" />
      </label>
    </>
  );
}

export function WorkspacesPage() {
  const who = useStore(me);
  const admin = who?.role === 'admin';
  const spaces = useLoad((signal) => call<{ items: WorkspaceView[] }>('/workspaces', { signal }), []);
  const columns: ColumnDef<WorkspaceView>[] = [
    { id: 'name', title: 'Name', cell: (w) => w.name },
    { id: 'private', title: 'Access', status: (w) => (w.private ? 'private' : 'open'), cell: (w) => (w.private ? 'private' : 'everyone') },
    { id: 'users', title: 'Allowed users', cell: (w) => (w.private ? w.allowedUserNames.join(', ') || '-' : '-') },
    { id: 'infra', title: 'Allowed infra', cell: (w) => w.allowedInfra?.join(', ') ?? 'any' },
    { id: 'updated', title: 'Updated', cell: (w) => timestamp(w.updatedAt) },
  ];
  if (admin) columns.push({ id: 'actions', title: 'Actions', cell: (w) => <WorkspaceActions space={w} done={spaces.reload} /> });
  return (
    <Page name="workspaces" title="Workspaces" ready={spaces.value !== undefined} error={spaces.error}>
      {admin && <CreateWorkspace done={spaces.reload} />}
      <VirtualTable label="Workspaces" columns={columns} rows={spaces.value?.items ?? []} rowKey={(w) => w.name} empty={spaces.value !== undefined ? 'No workspaces.' : 'Loading…'} />
    </Page>
  );
}

function CreateWorkspace(props: { done: () => void }) {
  const [name, setName] = useState('');
  const [priv, setPriv] = useState(false);
  const [users, setUsers] = useState('');
  const [infra, setInfra] = useState('');
  return (
    <div class="actions">
      <ConfirmAction
        label="Create workspace"
        title="Create a workspace"
        run={async () => {
          const n = name.trim();
          if (!NAME.test(n)) throw invalidInput('Name: lowercase letters, digits, "-" or "_", starting with a letter or digit.');
          const infraList = list(infra);
          const w = await call<WorkspaceView>('/workspaces', {
            method: 'POST',
            body: { name: n, private: priv, ...(priv ? { allowed_users: list(users) } : {}), ...(infraList.length > 0 ? { allowed_infra: infraList } : {}) },
          });
          setName('');
          return { message: `Workspace ${w.name} created.` };
        }}
        done={props.done}
      >
        <label>
          Name <input type="text" value={name} onInput={(e) => setName(e.currentTarget.value)} />
        </label>
        <WorkspaceFields priv={priv} setPriv={setPriv} users={users} setUsers={setUsers} infra={infra} setInfra={setInfra} />
      </ConfirmAction>
    </div>
  );
}

function WorkspaceActions(props: { space: WorkspaceView; done: () => void }) {
  const w = props.space;
  const [priv, setPriv] = useState(w.private);
  const [users, setUsers] = useState(w.allowedUserNames.join(', '));
  const [infra, setInfra] = useState(w.allowedInfra?.join(', ') ?? '');
  return (
    <span class="row-actions">
      <ConfirmAction
        label="Update workspace"
        title={`Change workspace ${w.name}`}
        describe={`Change workspace ${w.name}`}
        run={async () => {
          const infraList = list(infra);
          await call<WorkspaceView>(`/workspaces/${seg(w.name)}`, {
            method: 'POST',
            body: { private: priv, allowed_users: list(users), allowed_infra: infraList.length > 0 ? infraList : null },
          });
          return { message: `Workspace ${w.name} updated.` };
        }}
        done={props.done}
      >
        <WorkspaceFields priv={priv} setPriv={setPriv} users={users} setUsers={setUsers} infra={infra} setInfra={setInfra} />
      </ConfirmAction>
      {w.name !== 'default' && (
        <ConfirmAction
          label="Delete workspace"
          danger
          title={`Delete workspace ${w.name}?`}
          describe={`Delete workspace ${w.name}`}
          run={async () => {
            await call(`/workspaces/${seg(w.name)}`, { method: 'DELETE' });
            return { message: `Workspace ${w.name} deleted.` };
          }}
          done={props.done}
        >
          <p>Only a workspace without clusters can be deleted.</p>
        </ConfirmAction>
      )}
    </span>
  );
}
