import { ROUTE_LIST, routePath, WORKSPACE_HEADER, type RouteSpec } from '@sky/protocol';
import { http, type HttpAnswer } from './daemon-process.js';
import { basicAuth } from './team.js';

/**
 * A small client for the authorization tests (the route walk, the authorization fuzzer): one
 * team daemon, several users acting on each other's resources, and the audit log read back
 * to prove that refusals were recorded.
 */

export interface Account {
  name: string;
  password: string;
}

export interface CallInput {
  params?: Record<string, string>;
  /** Query string without '?'. */
  query?: string;
  body?: unknown;
  /** Bytes sent as they are (a route with a raw body), instead of `body` as JSON. */
  raw?: { data: Buffer; contentType: string };
  workspace?: string;
}

export interface OpOutcome {
  /** The submit's answer. */
  submit: HttpAnswer;
  /** The finished request, when the submit was accepted. */
  record?: { id: string; status: string; user: string; error?: { code: string; message: string }; result?: unknown };
}

export interface AuditEntry {
  user: string;
  userName: string;
  action: string;
  target?: string;
  result: string;
  requestId?: string;
  detail?: string;
  at: number;
}

export function route(id: string): RouteSpec {
  const found = ROUTE_LIST.find((r) => r.id === id || r.operation === id);
  if (!found) throw new Error(`no route ${id} in ROUTE_LIST`);
  return found;
}

export function codeOf(answer: HttpAnswer): string | undefined {
  try {
    return (JSON.parse(answer.text) as { error?: { code?: string } }).error?.code;
  } catch {
    return undefined;
  }
}

export class TeamClient {
  constructor(
    readonly url: string,
    readonly admin: Account,
  ) {}

  headers(who: Account | undefined, workspace?: string): Record<string, string> {
    const base = who === undefined ? { 'content-type': 'application/json' } : basicAuth(who.name, who.password);
    return workspace === undefined ? base : { ...base, [WORKSPACE_HEADER]: workspace };
  }

  /** One call of a route of the table. Event streams are asked for without follow, so they end (the change feed is cut at ready). */
  async call(who: Account | undefined, spec: RouteSpec, input: CallInput = {}): Promise<HttpAnswer> {
    const path = routePath(spec, input.params ?? {}) + (input.query ? `?${input.query}` : '');
    const body = spec.method === 'get' ? undefined : (input.raw?.data ?? Buffer.from(JSON.stringify(input.body ?? {})));
    // With a length: node sends the body of a DELETE unframed otherwise.
    const headers = body === undefined ? this.headers(who, input.workspace) : { ...this.headers(who, input.workspace), 'content-length': String(body.length) };
    if (input.raw !== undefined) headers['content-type'] = input.raw.contentType;
    // The change feed has no end: its backlog is read up to `ready`.
    const until = spec.id === 'streamEvents' ? { until: (text: string) => text.includes('event: ready\n') } : {};
    return http(`${this.url}${path}`, { method: spec.method.toUpperCase(), headers, ...until, ...(body !== undefined ? { body } : {}) });
  }

  /** Submit an operation and, once accepted, wait for its end. */
  async op(who: Account, name: string, body: unknown, workspace?: string): Promise<OpOutcome> {
    const submit = await this.call(who, route(name), { body, ...(workspace !== undefined ? { workspace } : {}) });
    if (submit.status !== 202) return { submit };
    const id = (submit.json() as { requestId: string }).requestId;
    for (let i = 0; i < 20; i++) {
      const res = await http(`${this.url}/api/v1/requests/${id}/wait?timeout=30`, { headers: this.headers(who) });
      const record = res.json() as NonNullable<OpOutcome['record']>;
      if (!['PENDING', 'RUNNING'].includes(record.status)) return { submit, record };
    }
    throw new Error(`request ${id} (${name}) did not finish`);
  }

  /** Submit an operation and expect it to end SUCCEEDED; returns its request id and result. */
  async must(who: Account, name: string, body: unknown, workspace?: string): Promise<{ id: string; result: unknown }> {
    const out = await this.op(who, name, body, workspace);
    if (out.record?.status !== 'SUCCEEDED') throw new Error(`${who.name}: ${name} ${JSON.stringify(body)} did not succeed: ${out.submit.status} ${out.submit.text} ${JSON.stringify(out.record)}`);
    return { id: out.record.id, result: out.record.result };
  }

  async createUser(name: string): Promise<Account> {
    const account = { name, password: `${name}-password` };
    const res = await http(`${this.url}/api/v1/users`, { method: 'POST', headers: this.headers(this.admin), body: JSON.stringify(account) });
    if (res.status !== 201) throw new Error(`creating user ${name}: ${res.status} ${res.text}`);
    return account;
  }

  async json<T>(who: Account, path: string, init: { method?: string; body?: unknown; workspace?: string } = {}): Promise<{ status: number; body: T; text: string }> {
    const sent = init.body === undefined ? undefined : Buffer.from(JSON.stringify(init.body));
    const headers = sent === undefined ? this.headers(who, init.workspace) : { ...this.headers(who, init.workspace), 'content-length': String(sent.length) };
    const res = await http(`${this.url}${path}`, { method: init.method ?? 'GET', headers, ...(sent !== undefined ? { body: sent } : {}) });
    let body: T;
    try {
      body = JSON.parse(res.text) as T;
    } catch {
      body = undefined as T;
    }
    return { status: res.status, body, text: res.text };
  }

  /** Audit entries of one user at or after a time (newest first). */
  async auditOf(userName: string, since: number): Promise<AuditEntry[]> {
    const res = await http(`${this.url}/api/v1/audit?user=${encodeURIComponent(userName)}&since=${since}&limit=1000`, { headers: this.headers(this.admin) });
    if (res.status !== 200) throw new Error(`reading the audit log: ${res.status} ${res.text}`);
    return (res.json() as { items: AuditEntry[] }).items;
  }
}
