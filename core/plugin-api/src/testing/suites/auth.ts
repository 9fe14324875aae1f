import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { AuditRecord } from '@sky/protocol';
import type { AuditFilter, StateStore } from '../../store.js';
import { makeAudit, makeSession, makeToken, makeUser, makeWorkspace } from '../fixtures.js';
import { rejectsWithCode, requireReopen, shuffled, type StoreHarness } from './harness.js';

/** Follow the audit log's nextCursor until it runs out; fail on an empty non-final page or a loop. */
async function auditAll(store: StateStore, filter: Omit<AuditFilter, 'cursor'>): Promise<string[]> {
  const ids: string[] = [];
  let cursor: string | undefined;
  for (let pages = 1; ; pages++) {
    const page = await store.audit.list(cursor === undefined ? filter : { ...filter, cursor });
    assert.ok(page.items.length <= filter.limit, `page ${pages} has more than ${filter.limit} items`);
    ids.push(...page.items.map((r) => r.id));
    if (page.nextCursor === undefined) return ids;
    assert.ok(page.items.length > 0, `page ${pages} is empty but has a nextCursor`);
    assert.ok(pages < 10_000, 'pagination does not terminate');
    cursor = page.nextCursor;
  }
}

function descending(records: readonly AuditRecord[]): string[] {
  return records.map((r) => r.id).sort((a, b) => (a < b ? 1 : a > b ? -1 : 0));
}

export function describeUsers(h: StoreHarness): void {
  describe('users', () => {
    it('stores a user and reads it back by id, by name and in the list, as copies', async () => {
      const alice = makeUser({ name: 'alice', role: 'admin', disabled: false });
      const bob = makeUser({ name: 'bob' });
      delete bob.passwordHash;
      assert.deepEqual(await h.store.users.create(alice), { record: alice, created: true });
      assert.deepEqual((await h.store.users.create(bob)).record, bob);
      assert.deepEqual(await h.store.users.get(alice.id), alice);
      assert.deepEqual(await h.store.users.getByName('bob'), bob);
      assert.deepEqual(await h.store.users.list(), [alice, bob]);
      assert.equal(await h.store.users.get('usr-missing'), undefined);
      assert.equal(await h.store.users.getByName('carol'), undefined);

      const read = await h.store.users.get(alice.id);
      assert.ok(read);
      read.name = 'mallory';
      alice.role = 'user';
      assert.equal((await h.store.users.get(alice.id))?.name, 'alice', 'a returned record must not alias the stored one');
      assert.equal((await h.store.users.getByName('alice'))?.role, 'admin', 'the input must be copied in');
    });

    it('keeps names unique and case-sensitive: a taken name returns the existing user', async () => {
      const first = makeUser({ name: 'alice' });
      await h.store.users.create(first);
      const again = await h.store.users.create(makeUser({ name: 'alice', role: 'admin' }));
      assert.equal(again.created, false);
      assert.deepEqual(again.record, first);
      assert.equal((await h.store.users.create(makeUser({ name: 'Alice' }))).created, true);
      assert.deepEqual((await h.store.users.list()).map((u) => u.name), ['Alice', 'alice']);
    });

    it('creates exactly one user when many create one name at once', async () => {
      const racers = Array.from({ length: 12 }, () => makeUser({ name: 'contended' }));
      const results = await Promise.all(racers.map((u) => h.store.users.create(u)));
      const winners = results.filter((r) => r.created);
      assert.equal(winners.length, 1);
      const id = winners[0]?.record.id;
      for (const r of results) assert.equal(r.record.id, id);
      assert.deepEqual((await h.store.users.list()).map((u) => u.id), [id]);
    });

    it('rejects a second user with an id already used', async () => {
      const user = makeUser();
      await h.store.users.create(user);
      await rejectsWithCode(h.store.users.create(makeUser({ id: user.id })), 'VALIDATION_FAILED');
      assert.equal((await h.store.users.list()).length, 1);
    });

    it('updates role, password hash, disabled and name; removes optional fields; refuses a taken name', async () => {
      const alice = makeUser({ name: 'alice' });
      const bob = makeUser({ name: 'bob' });
      await h.store.users.create(alice);
      await h.store.users.create(bob);
      const promoted = await h.store.users.update(alice.id, { role: 'admin', disabled: true, updatedAt: alice.updatedAt + 5 });
      assert.deepEqual(promoted, { ...alice, role: 'admin', disabled: true, updatedAt: alice.updatedAt + 5 });
      const cleared = await h.store.users.update(alice.id, { passwordHash: undefined, disabled: undefined, role: undefined });
      assert.ok(cleared);
      assert.equal('passwordHash' in cleared, false);
      assert.equal('disabled' in cleared, false);
      assert.equal(cleared.role, 'admin', 'undefined for a required field is ignored');
      // Fields the patch does not allow stay as they are.
      const fixed = await h.store.users.update(alice.id, { id: 'usr-other', createdAt: 1 } as never);
      assert.equal(fixed?.id, alice.id);
      assert.equal(fixed?.createdAt, alice.createdAt);

      await rejectsWithCode(h.store.users.update(alice.id, { name: 'bob' }), 'VALIDATION_FAILED');
      assert.equal((await h.store.users.get(alice.id))?.name, 'alice');
      assert.equal((await h.store.users.getByName('bob'))?.id, bob.id);

      assert.equal((await h.store.users.update(alice.id, { name: 'alice2' }))?.name, 'alice2');
      assert.equal(await h.store.users.getByName('alice'), undefined, 'the old name is free');
      assert.equal((await h.store.users.getByName('alice2'))?.id, alice.id);
      assert.equal((await h.store.users.create(makeUser({ name: 'alice' }))).created, true);
      assert.equal(await h.store.users.update('usr-missing', { role: 'admin' }), undefined);
    });

    it('frees and takes a name in one turn: a rename and a create racing for it', async () => {
      const alice = makeUser({ name: 'alice' });
      await h.store.users.create(alice);
      const newcomer = makeUser({ name: 'alice' });
      const [renamed, created] = await Promise.all([h.store.users.update(alice.id, { name: 'alice-old' }), h.store.users.create(newcomer)]);
      assert.equal(renamed?.name, 'alice-old');
      assert.equal(created.created, true);
      assert.equal((await h.store.users.getByName('alice'))?.id, newcomer.id);
      assert.equal((await h.store.users.getByName('alice-old'))?.id, alice.id);
    });

    it('deletes a user with all its tokens and their hash entries, and nobody else’s', async () => {
      const alice = makeUser();
      const bob = makeUser();
      await h.store.users.create(alice);
      await h.store.users.create(bob);
      const aliceTokens = [makeToken(alice.id), makeToken(alice.id)];
      const bobToken = makeToken(bob.id);
      for (const t of [...aliceTokens, bobToken]) await h.store.tokens.create(t);
      assert.equal(await h.store.users.delete(alice.id), true);
      assert.equal(await h.store.users.get(alice.id), undefined);
      assert.equal(await h.store.users.getByName(alice.name), undefined);
      for (const t of aliceTokens) {
        assert.equal(await h.store.tokens.get(t.id), undefined);
        assert.equal(await h.store.tokens.findByHash(t.hash), undefined);
      }
      assert.deepEqual(await h.store.tokens.listByUser(alice.id), []);
      assert.deepEqual(await h.store.tokens.findByHash(bobToken.hash), bobToken);
      assert.equal(await h.store.users.delete(alice.id), false);
      // The name and the hashes are free again.
      const again = makeUser({ name: alice.name });
      assert.equal((await h.store.users.create(again)).created, true);
      const reused = makeToken(again.id, { hash: aliceTokens[0]?.hash });
      assert.deepEqual(await h.store.tokens.create(reused), reused);
    });

    it('keeps users, names and deletions across a restart', async (t) => {
      if (!requireReopen(h, t)) return;
      const alice = makeUser({ name: 'alice' });
      const gone = makeUser({ name: 'gone' });
      await h.store.users.create(alice);
      await h.store.users.create(gone);
      await h.store.tokens.create(makeToken(gone.id));
      await h.store.users.update(alice.id, { role: 'admin' });
      await h.store.users.delete(gone.id);
      const store = await h.reopen();
      assert.deepEqual(await store.users.list(), [{ ...alice, role: 'admin' }]);
      assert.equal((await store.users.getByName('alice'))?.id, alice.id);
      assert.equal(await store.users.getByName('gone'), undefined);
      assert.equal((await store.users.create(makeUser({ name: 'alice' }))).created, false);
      assert.deepEqual(await store.tokens.listByUser(gone.id), []);
    });
  });
}

export function describeTokens(h: StoreHarness): void {
  describe('tokens', () => {
    it('stores a token and finds it by id, by hash and by user', async () => {
      const alice = makeUser();
      await h.store.users.create(alice);
      const first = makeToken(alice.id, { expiresAt: Date.now() + 60_000 });
      const second = makeToken(alice.id);
      assert.deepEqual(await h.store.tokens.create(second), second);
      await h.store.tokens.create(first);
      assert.deepEqual(await h.store.tokens.get(first.id), first);
      assert.deepEqual(await h.store.tokens.findByHash(second.hash), second);
      assert.equal(await h.store.tokens.findByHash('sha256:unknown'), undefined);
      assert.equal(await h.store.tokens.get('tok-missing'), undefined);
      assert.deepEqual(await h.store.tokens.listByUser(alice.id), [first, second].sort((a, b) => (a.id < b.id ? -1 : 1)));
      assert.deepEqual(await h.store.tokens.listByUser('usr-nobody'), []);
      const read = await h.store.tokens.findByHash(first.hash);
      assert.ok(read);
      read.revokedAt = 1;
      assert.equal((await h.store.tokens.get(first.id))?.revokedAt, undefined, 'a returned record must not alias the stored one');
    });

    it('refuses a token of a missing user, a used id or a used hash, without echoing the hash', async () => {
      const alice = makeUser();
      await h.store.users.create(alice);
      await rejectsWithCode(h.store.tokens.create(makeToken('usr-nobody')), 'VALIDATION_FAILED');
      const token = makeToken(alice.id, { hash: 'sha256:this-digest-is-secret' });
      await h.store.tokens.create(token);
      await rejectsWithCode(h.store.tokens.create(makeToken(alice.id, { id: token.id })), 'VALIDATION_FAILED');
      await assert.rejects(h.store.tokens.create(makeToken(alice.id, { hash: token.hash })), (err: unknown) => {
        assert.equal((err as { code?: unknown }).code, 'VALIDATION_FAILED');
        assert.ok(!JSON.stringify({ message: (err as Error).message, details: (err as { details?: unknown }).details }).includes('this-digest-is-secret'));
        return true;
      });
      assert.deepEqual((await h.store.tokens.listByUser(alice.id)).map((t) => t.id), [token.id]);
    });

    it('creates a user and its token in the same turn', async () => {
      const user = makeUser();
      const token = makeToken(user.id);
      const [created, stored] = await Promise.all([h.store.users.create(user), h.store.tokens.create(token)]);
      assert.equal(created.created, true);
      assert.deepEqual(stored, token);
      assert.deepEqual(await h.store.tokens.findByHash(token.hash), token);
    });

    it('revokes once (an earlier revocation is kept) and touches forward only', async () => {
      const alice = makeUser();
      await h.store.users.create(alice);
      const token = makeToken(alice.id);
      await h.store.tokens.create(token);
      assert.deepEqual(await h.store.tokens.touch(token.id, 2_000), { ...token, lastUsedAt: 2_000 });
      assert.equal((await h.store.tokens.touch(token.id, 1_000))?.lastUsedAt, 2_000);
      assert.equal((await h.store.tokens.touch(token.id, 3_000))?.lastUsedAt, 3_000);
      assert.deepEqual(await h.store.tokens.revoke(token.id, 5_000), { ...token, lastUsedAt: 3_000, revokedAt: 5_000 });
      assert.equal((await h.store.tokens.revoke(token.id, 6_000))?.revokedAt, 5_000);
      assert.equal((await h.store.tokens.findByHash(token.hash))?.revokedAt, 5_000, 'a revoked token is still found, for the caller to refuse');
      assert.equal(await h.store.tokens.revoke('tok-missing', 1), undefined);
      assert.equal(await h.store.tokens.touch('tok-missing', 1), undefined);
    });

    it('deletes a token with its hash entry', async () => {
      const alice = makeUser();
      await h.store.users.create(alice);
      const token = makeToken(alice.id);
      const kept = makeToken(alice.id);
      await h.store.tokens.create(token);
      await h.store.tokens.create(kept);
      assert.equal(await h.store.tokens.delete(token.id), true);
      assert.equal(await h.store.tokens.delete(token.id), false);
      assert.equal(await h.store.tokens.get(token.id), undefined);
      assert.equal(await h.store.tokens.findByHash(token.hash), undefined);
      assert.deepEqual(await h.store.tokens.listByUser(alice.id), [kept]);
      const reused = makeToken(alice.id, { hash: token.hash });
      await h.store.tokens.create(reused);
      assert.equal((await h.store.tokens.findByHash(token.hash))?.id, reused.id);
    });

    it('finds tokens by hash after a restart, with revocation, use and deletions kept', async (t) => {
      if (!requireReopen(h, t)) return;
      const alice = makeUser();
      await h.store.users.create(alice);
      const live = makeToken(alice.id, { expiresAt: 9_999_999 });
      const revoked = makeToken(alice.id);
      const deleted = makeToken(alice.id);
      for (const token of [live, revoked, deleted]) await h.store.tokens.create(token);
      await h.store.tokens.touch(live.id, 4_000);
      await h.store.tokens.revoke(revoked.id, 5_000);
      await h.store.tokens.delete(deleted.id);
      const store = await h.reopen();
      assert.deepEqual(await store.tokens.findByHash(live.hash), { ...live, lastUsedAt: 4_000 });
      assert.deepEqual(await store.tokens.findByHash(revoked.hash), { ...revoked, revokedAt: 5_000 });
      assert.equal(await store.tokens.findByHash(deleted.hash), undefined);
      assert.equal((await store.tokens.listByUser(alice.id)).length, 2);
      await rejectsWithCode(store.tokens.create(makeToken(alice.id, { hash: live.hash })), 'VALIDATION_FAILED');
    });
  });
}

export function describeSessions(h: StoreHarness): void {
  describe('sessions', () => {
    it('stores a session (no user record needed) and finds it by id, by hash and by user, as copies', async () => {
      const first = makeSession('usr-owner');
      const second = makeSession('usr-owner', { userName: 'owner' });
      const other = makeSession('usr-other');
      assert.deepEqual(await h.store.sessions.create(second), second);
      await h.store.sessions.create(first);
      await h.store.sessions.create(other);
      assert.deepEqual(await h.store.sessions.get(first.id), first);
      assert.deepEqual(await h.store.sessions.findByHash(second.hash), second);
      assert.equal(await h.store.sessions.findByHash('sha256:unknown'), undefined);
      assert.equal(await h.store.sessions.get('ses-missing'), undefined);
      assert.deepEqual(await h.store.sessions.listByUser('usr-owner'), [first, second].sort((a, b) => (a.id < b.id ? -1 : 1)));
      assert.deepEqual(await h.store.sessions.listByUser('usr-nobody'), []);
      const read = await h.store.sessions.findByHash(first.hash);
      assert.ok(read);
      read.revokedAt = 1;
      assert.equal((await h.store.sessions.get(first.id))?.revokedAt, undefined, 'a returned record must not alias the stored one');
    });

    it('refuses a used id or a used hash, without echoing the hash', async () => {
      const session = makeSession('usr-a', { hash: 'sha256:this-session-digest-is-secret' });
      await h.store.sessions.create(session);
      await rejectsWithCode(h.store.sessions.create(makeSession('usr-a', { id: session.id })), 'VALIDATION_FAILED');
      await assert.rejects(h.store.sessions.create(makeSession('usr-b', { hash: session.hash })), (err: unknown) => {
        assert.equal((err as { code?: unknown }).code, 'VALIDATION_FAILED');
        assert.ok(!JSON.stringify({ message: (err as Error).message, details: (err as { details?: unknown }).details }).includes('this-session-digest-is-secret'));
        return true;
      });
      assert.deepEqual((await h.store.sessions.listByUser('usr-b')), []);
    });

    it('revokes one (an earlier revocation is kept) and all of a user\'s at once', async () => {
      const [a1, a2, a3] = [makeSession('usr-a'), makeSession('usr-a'), makeSession('usr-a')];
      const b1 = makeSession('usr-b');
      for (const s of [a1, a2, a3, b1]) await h.store.sessions.create(s);
      assert.deepEqual(await h.store.sessions.revoke(a1.id, 5_000), { ...a1, revokedAt: 5_000 });
      assert.equal((await h.store.sessions.revoke(a1.id, 6_000))?.revokedAt, 5_000);
      assert.equal(await h.store.sessions.revoke('ses-missing', 1), undefined);
      assert.equal(await h.store.sessions.revokeByUser('usr-a', 7_000), 2, 'only the sessions not revoked yet count');
      assert.equal(await h.store.sessions.revokeByUser('usr-a', 8_000), 0);
      assert.deepEqual((await h.store.sessions.listByUser('usr-a')).map((s) => s.revokedAt), [a1, a2, a3].sort((x, y) => (x.id < y.id ? -1 : 1)).map((s) => (s.id === a1.id ? 5_000 : 7_000)));
      assert.equal((await h.store.sessions.findByHash(a2.hash))?.revokedAt, 7_000, 'a revoked session is still found, for the caller to refuse');
      assert.equal((await h.store.sessions.get(b1.id))?.revokedAt, undefined, "another user's sessions are untouched");
    });

    it('prunes sessions expired or revoked before a time, with their hash entries', async () => {
      const expired = makeSession('usr-a', { createdAt: 1_000, expiresAt: 2_000 });
      const revoked = makeSession('usr-a', { createdAt: 1_000, expiresAt: 9_000_000 });
      const live = makeSession('usr-a', { createdAt: 1_000, expiresAt: 9_000_000 });
      for (const s of [expired, revoked, live]) await h.store.sessions.create(s);
      await h.store.sessions.revoke(revoked.id, 2_500);
      assert.equal(await h.store.sessions.prune(3_000), 2);
      assert.equal(await h.store.sessions.prune(3_000), 0);
      assert.equal(await h.store.sessions.findByHash(expired.hash), undefined);
      assert.equal(await h.store.sessions.get(revoked.id), undefined);
      assert.deepEqual(await h.store.sessions.listByUser('usr-a'), [live]);
      const reused = makeSession('usr-c', { hash: expired.hash });
      await h.store.sessions.create(reused);
      assert.equal((await h.store.sessions.findByHash(expired.hash))?.id, reused.id);
    });

    it('keeps sessions across a restart, with revocations and prunes', async (t) => {
      if (!requireReopen(h, t)) return;
      const live = makeSession('usr-a', { expiresAt: 9_000_000_000_000 });
      const revoked = makeSession('usr-a', { expiresAt: 9_000_000_000_000 });
      const gone = makeSession('usr-a', { expiresAt: 10 });
      for (const s of [live, revoked, gone]) await h.store.sessions.create(s);
      await h.store.sessions.revoke(revoked.id, 5_000);
      await h.store.sessions.prune(100);
      const store = await h.reopen();
      assert.deepEqual(await store.sessions.findByHash(live.hash), live);
      assert.deepEqual(await store.sessions.findByHash(revoked.hash), { ...revoked, revokedAt: 5_000 });
      assert.equal(await store.sessions.findByHash(gone.hash), undefined);
      await rejectsWithCode(store.sessions.create(makeSession('usr-b', { hash: live.hash })), 'VALIDATION_FAILED');
    });
  });
}

export function describeWorkspaces(h: StoreHarness): void {
  describe('workspaces', () => {
    it('starts with none, and creates, reads, lists, updates and deletes them', async () => {
      assert.deepEqual(await h.store.workspaces.list(), [], 'the store seeds no workspace');
      const team = makeWorkspace('team', { private: true, allowedUsers: ['usr-1', 'usr-2'], allowedInfra: ['ssh/pool-a'] });
      const open = makeWorkspace('default');
      assert.deepEqual(await h.store.workspaces.create(team), { record: team, created: true });
      await h.store.workspaces.create(open);
      const taken = await h.store.workspaces.create(makeWorkspace('team'));
      assert.deepEqual(taken, { record: team, created: false });
      assert.deepEqual(await h.store.workspaces.get('team'), team);
      assert.equal(await h.store.workspaces.get('nope'), undefined);
      assert.deepEqual(await h.store.workspaces.list(), [open, team]);

      const updated = await h.store.workspaces.update('team', { allowedUsers: ['usr-3'], allowedInfra: undefined, updatedAt: team.updatedAt + 1 });
      assert.deepEqual(updated, { name: 'team', private: true, allowedUsers: ['usr-3'], createdAt: team.createdAt, updatedAt: team.updatedAt + 1 });
      assert.equal((await h.store.workspaces.update('team', { private: false, name: 'renamed' } as never))?.name, 'team');
      assert.equal(await h.store.workspaces.update('nope', { private: true }), undefined);

      const read = await h.store.workspaces.get('team');
      read?.allowedUsers.push('usr-evil');
      assert.deepEqual((await h.store.workspaces.get('team'))?.allowedUsers, ['usr-3']);

      assert.equal(await h.store.workspaces.delete('team'), true);
      assert.equal(await h.store.workspaces.delete('team'), false);
      assert.deepEqual((await h.store.workspaces.list()).map((w) => w.name), ['default']);
    });

    it('keeps workspaces across a restart', async (t) => {
      if (!requireReopen(h, t)) return;
      const team = makeWorkspace('team', { private: true, allowedUsers: ['usr-1'] });
      await h.store.workspaces.create(team);
      await h.store.workspaces.create(makeWorkspace('gone'));
      await h.store.workspaces.update('team', { allowedInfra: ['local'] });
      await h.store.workspaces.delete('gone');
      const store = await h.reopen();
      assert.deepEqual(await store.workspaces.list(), [{ ...team, allowedInfra: ['local'] }]);
    });

    it('keeps webhooks and their delivery state, replaced and removed by patches (also across a restart)', async (t) => {
      const hook = { id: 'wh-0123abcd', url: 'https://hooks.example.com/sky', kinds: ['job' as const], secret: 'sky-sealed:v1:k:abc', from: 4, createdAt: 5, createdBy: 'usr-1', createdByName: 'alice' };
      const delivery = { id: 'wh-0123abcd-7', seq: 7, kind: 'job' as const, key: 'c/1', url: hook.url, at: 9, attempts: 2, ok: true, status: 200 };
      const team = makeWorkspace('team', { webhooks: [hook] });
      await h.store.workspaces.create(team);
      assert.deepEqual(await h.store.workspaces.get('team'), team);
      const state = { [hook.id]: { cursor: 7, log: [delivery] } };
      assert.deepEqual(await h.store.workspaces.update('team', { webhookState: state }), { ...team, webhookState: state });
      const second = { ...hook, id: 'wh-4567cdef', statuses: ['FAILED', 'DELETED'] };
      await h.store.workspaces.update('team', { webhooks: [hook, second] });
      assert.deepEqual(await h.store.workspaces.get('team'), { ...team, webhooks: [hook, second], webhookState: state });
      const other = makeWorkspace('other', { webhooks: [hook], webhookState: state });
      await h.store.workspaces.create(other);
      const { webhooks: _hooks, webhookState: _state, ...bare } = other;
      assert.deepEqual(await h.store.workspaces.update('other', { webhooks: undefined, webhookState: undefined }), bare);
      // Not durable: nothing to reopen (the memory store), and the rest held.
      if (!h.store.capabilities.durable || !requireReopen(h, t)) return;
      const store = await h.reopen();
      assert.deepEqual(await store.workspaces.get('team'), { ...team, webhooks: [hook, second], webhookState: state });
      assert.deepEqual(await store.workspaces.get('other'), bare);
    });
  });
}

export function describeAudit(h: StoreHarness): void {
  describe('audit log', () => {
    async function seed(): Promise<AuditRecord[]> {
      const records = Array.from({ length: 11 }, (_, i) =>
        makeAudit({
          at: (i + 1) * 1_000,
          user: i % 3 === 0 ? 'u-bob' : 'u-alice',
          userName: i % 3 === 0 ? 'bob' : 'alice',
          result: i === 4 ? 'DENIED' : 'SUCCEEDED',
          ...(i % 2 === 0 ? { requestId: `req-${i}`, detail: 'cluster "c" → down' } : {}),
        }),
      );
      for (const r of shuffled(records)) await h.store.audit.append(r);
      return records;
    }

    it('lists newest first, with pagination, by user and since a time', async () => {
      const records = await seed();
      assert.deepEqual(await auditAll(h.store, { limit: 100 }), descending(records));
      assert.deepEqual(await auditAll(h.store, { limit: 3 }), descending(records));
      const first = await h.store.audit.list({ limit: 2 });
      assert.deepEqual(first.items, [records[10], records[9]]);
      const bob = records.filter((r) => r.user === 'u-bob');
      assert.deepEqual(await auditAll(h.store, { user: 'u-bob', limit: 2 }), descending(bob));
      const recent = records.filter((r) => r.at >= 6_000);
      assert.deepEqual(await auditAll(h.store, { since: 6_000, limit: 4 }), descending(recent));
      assert.deepEqual(await auditAll(h.store, { user: 'u-alice', since: 6_000, limit: 1 }), descending(recent.filter((r) => r.user === 'u-alice')));
      assert.deepEqual(await auditAll(h.store, { user: 'u-nobody', limit: 5 }), []);
      await rejectsWithCode(h.store.audit.list({ limit: 0 }), 'VALIDATION_FAILED');
      await rejectsWithCode(h.store.audit.list({ limit: 5, cursor: 'not-a-cursor' }), 'VALIDATION_FAILED');
    });

    it('refuses an id already used', async () => {
      const entry = makeAudit();
      await h.store.audit.append(entry);
      await rejectsWithCode(h.store.audit.append({ ...entry, user: 'u-bob' }), 'VALIDATION_FAILED');
      assert.deepEqual((await h.store.audit.list({ limit: 10 })).items, [entry]);
      assert.deepEqual((await h.store.audit.list({ user: 'u-bob', limit: 10 })).items, []);
    });

    it('prunes entries older than a time, from every listing', async () => {
      const records = await seed();
      assert.equal(await h.store.audit.prune(4_500), 4);
      assert.equal(await h.store.audit.prune(4_500), 0);
      const kept = records.filter((r) => r.at >= 4_500);
      assert.deepEqual(await auditAll(h.store, { limit: 3 }), descending(kept));
      assert.deepEqual(await auditAll(h.store, { user: 'u-bob', limit: 3 }), descending(kept.filter((r) => r.user === 'u-bob')));
    });

    it('keeps the log across a restart', async (t) => {
      if (!requireReopen(h, t)) return;
      const records = await seed();
      await h.store.audit.prune(2_500);
      const store = await h.reopen();
      const kept = records.filter((r) => r.at >= 2_500);
      assert.deepEqual((await store.audit.list({ limit: 100 })).items, [...kept].reverse());
      assert.deepEqual(await auditAll(store, { user: 'u-bob', limit: 2 }), descending(kept.filter((r) => r.user === 'u-bob')));
    });
  });
}
