import { Agent } from 'node:http';
import { connect, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  API_VERSION,
  API_VERSION_HEADER,
  ERROR_CATALOGUE,
  IDEMPOTENCY_KEY_HEADER,
  REQUEST_ID_HEADER,
  ROUTE_LIST,
  USER_ID_HEADER,
  USER_NAME_HEADER,
  type ErrorCode,
} from '@sky/protocol';
import { killAllDaemons, removeHome, startDaemon, type DaemonHandle } from '../helpers/daemon-process.js';
import { errorBodyProblem, send, type WireAnswer, type WireRequest } from '../helpers/fuzz.js';
import { FIXTURE_INDEX, makeDashboardFixture, type DashboardFixture } from '../helpers/dashboard-fixture.js';

/**
 * The REST contract as a table, against one real daemon process: for each malformed (or
 * well-formed) request, the status, the stable error code, and a message that names what is
 * wrong. Every error answer must also match the catalogue (code known, status = the code's).
 */

const MAX_BODY = 1024;
const JSON_CT = { 'content-type': 'application/json' };

interface Fixtures {
  /** A ping that has finished (SUCCEEDED). */
  done: string;
  /** A long-lane ping that keeps running until a row cancels it. */
  running: string;
}

interface Row {
  name: string;
  method: string;
  path: string | ((f: Fixtures) => string);
  headers?: Record<string, string>;
  /** Sent as JSON with Content-Type: application/json (unless headers override it). */
  json?: unknown | ((f: Fixtures) => unknown);
  /** Sent as is, with whatever content-type the row's headers give. */
  raw?: string | Buffer;
  chunked?: boolean;
  /** Deadline for the status line (event streams are then read briefly and cut). */
  timeoutMs?: number;
  status: number;
  code?: ErrorCode;
  /** Fragments the error message must contain, e.g. the offending field. */
  message?: Array<string | RegExp>;
  check?: (answer: WireAnswer, f: Fixtures) => void | Promise<void>;
}

const longId = 'a'.repeat(201);
/** What must never leak through /dashboard/: the repository's package.json or the system's passwd. */
const LEAKS = [/"name":\s*"sky-monorepo"/, /root:.*:0:0:/];

/** The headers every dashboard answer carries. */
function assertDashboardHeaders(a: WireAnswer): void {
  assert.equal(a.headers['content-security-policy'], "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'");
  assert.equal(a.headers['x-content-type-options'], 'nosniff');
  assert.equal(a.headers['referrer-policy'], 'same-origin');
}

function jsonOf(answer: WireAnswer): Record<string, unknown> {
  return JSON.parse(answer.text) as Record<string, unknown>;
}

const traversals = [
  '/dashboard/../package.json',
  '/dashboard/../../../../../../etc/passwd',
  '/dashboard/..%2Fpackage.json',
  '/dashboard/..%2F..%2F..%2F..%2F..%2F..%2Fetc%2Fpasswd',
  '/dashboard/%2e%2e/package.json',
  '/dashboard/%2e%2e%2fpackage.json',
  '/dashboard/%2E%2E%2F%2E%2E%2F%2E%2E%2F%2E%2E%2Fetc%2Fpasswd',
  '/dashboard/..%5cpackage.json',
  '/dashboard/%252e%252e%252fpackage.json',
  '/dashboard/..%2Fdashboard-static%2F..%2Fpackage.json',
  '/dashboard/..%2Fdashboard-static-evil%2F..%2Fpackage.json',
  '/dashboard/%2Fetc%2Fpasswd',
  '/dashboard//etc/passwd',
  '/dashboard/index.html%00.json',
  '/dashboard/%00',
  '/dashboard/..',
  '/dashboard/%E0%A4%A',
  '/dashboard/leak.json',
  '/dashboard/etc/ssl/openssl.cnf',
  '/dashboard/etc/hostname.txt/..%2F..%2Fpasswd',
  '/dashboard/./index.html',
  '/dashboard/a%5c..%5c..%5cpackage.json',
];

const ROWS: Row[] = [
  // ---- positive rows
  {
    name: 'health answers 200 with the daemon version and the anonymous caller',
    method: 'GET',
    path: '/api/health',
    status: 200,
    check: (a) => {
      const body = jsonOf(a);
      assert.equal(body.status, 'healthy');
      assert.equal(body.apiVersion, API_VERSION);
      assert.deepEqual(body.user, { id: 'anonymous', name: 'anonymous' });
    },
  },
  {
    name: 'health resolves the declared identity',
    method: 'GET',
    path: '/api/health',
    headers: { [USER_ID_HEADER]: 'alice', [USER_NAME_HEADER]: 'Alice Liddell' },
    status: 200,
    check: (a) => assert.deepEqual(jsonOf(a).user, { id: 'alice', name: 'Alice Liddell' }),
  },
  {
    name: 'health is unversioned: any client may read it',
    method: 'GET',
    path: '/api/health',
    headers: { [API_VERSION_HEADER]: String(API_VERSION + 1) },
    status: 200,
  },
  {
    name: 'openapi.json is an OpenAPI 3.1 document with every route of the table and every error code',
    method: 'GET',
    path: '/api/v1/openapi.json',
    status: 200,
    check: (a) => {
      const doc = jsonOf(a) as { openapi: string; paths: Record<string, Record<string, { operationId?: string }>>; info: { description: string } };
      assert.equal(doc.openapi, '3.1.0');
      for (const route of ROUTE_LIST) {
        const path = route.path.replace(/:([A-Za-z_]+)/g, '{$1}');
        const op = doc.paths[path]?.[route.method];
        assert.ok(op, `openapi.json lacks ${route.method.toUpperCase()} ${path}`);
        assert.equal(op.operationId, route.id);
      }
      const documented = Object.values(doc.paths).reduce((n, methods) => n + Object.keys(methods).length, 0);
      assert.equal(documented, ROUTE_LIST.length, 'openapi.json documents exactly the routes of the table');
      for (const code of Object.keys(ERROR_CATALOGUE)) assert.match(doc.info.description, new RegExp(`\\| ${code} \\|`));
    },
  },
  {
    name: 'submit answers 202 with the request id in body and header',
    method: 'POST',
    path: '/api/v1/ping',
    json: {},
    status: 202,
    check: async (a) => {
      const body = jsonOf(a);
      assert.equal(typeof body.requestId, 'string');
      assert.equal(a.headers[REQUEST_ID_HEADER], body.requestId);
      assert.equal(body.status, 'PENDING');
      assert.equal(body.created, true);
    },
  },
  {
    name: 'Prefer: wait=N holds the 202 until the request has ended',
    method: 'POST',
    path: '/api/v1/ping',
    headers: { prefer: 'wait=10' },
    json: { sleep: 0.01 },
    status: 202,
    check: (a) => {
      const body = jsonOf(a);
      assert.equal(body.status, 'SUCCEEDED');
      assert.equal(a.headers[REQUEST_ID_HEADER], body.requestId);
      assert.equal(a.headers['preference-applied'], 'wait=10');
      assert.equal(body.error, undefined);
    },
  },
  {
    name: 'Prefer: wait=N answers with the error of a request that failed meanwhile',
    method: 'POST',
    path: '/api/v1/ping',
    headers: { prefer: 'respond-async, wait=10' },
    json: { fail: 'planned failure' },
    status: 202,
    check: (a) => {
      const body = jsonOf(a);
      assert.equal(body.status, 'FAILED');
      assert.match((body.error as { message: string }).message, /planned failure/);
    },
  },
  {
    name: 'Prefer: wait=N answers with the request as it is when it outlasts the wait',
    method: 'POST',
    path: '/api/v1/ping',
    headers: { prefer: 'wait=1' },
    json: { sleep: 600 },
    status: 202,
    check: async (a) => {
      const body = jsonOf(a);
      assert.ok(['PENDING', 'RUNNING'].includes(body.status as string), String(body.status));
      assert.equal(a.headers['preference-applied'], 'wait=1');
      const cancelled = await call({ method: 'POST', path: '/api/v1/requests/cancel', headers: JSON_CT, body: Buffer.from(JSON.stringify({ ids: [body.requestId] })) });
      assert.equal(cancelled.status, 200, cancelled.text);
    },
  },
  {
    name: 'a Prefer header without a wait is ignored',
    method: 'POST',
    path: '/api/v1/ping',
    headers: { prefer: 'respond-async, wait=abc, wait=0' },
    json: { sleep: 600 },
    status: 202,
    check: async (a) => {
      const body = jsonOf(a);
      assert.equal(body.status, 'PENDING');
      assert.equal(a.headers['preference-applied'], undefined);
      const cancelled = await call({ method: 'POST', path: '/api/v1/requests/cancel', headers: JSON_CT, body: Buffer.from(JSON.stringify({ ids: [body.requestId] })) });
      assert.equal(cancelled.status, 200, cancelled.text);
    },
  },
  {
    name: 'an empty body without a content-type is the empty object',
    method: 'POST',
    path: '/api/v1/ping',
    status: 202,
    check: (a) => assert.equal(a.headers[REQUEST_ID_HEADER], jsonOf(a).requestId),
  },
  {
    name: 'a +json media type with parameters is JSON',
    method: 'POST',
    path: '/api/v1/ping',
    headers: { 'content-type': 'application/vnd.sky+json; charset=utf-8' },
    raw: '{"sleep": 0}',
    status: 202,
  },
  {
    name: 'the same idempotency key returns the first request',
    method: 'POST',
    path: '/api/v1/ping',
    headers: { [IDEMPOTENCY_KEY_HEADER]: 'table-key-1' },
    json: {},
    status: 202,
    check: async (a) => {
      const first = jsonOf(a);
      const again = await call({ method: 'POST', path: '/api/v1/ping', headers: { ...JSON_CT, [IDEMPOTENCY_KEY_HEADER]: 'table-key-1' }, body: Buffer.from('{}') });
      assert.equal(again.status, 202);
      assert.equal(jsonOf(again).requestId, first.requestId);
      assert.equal(jsonOf(again).created, false);
      assert.equal(again.headers[REQUEST_ID_HEADER], first.requestId);
    },
  },
  { name: 'get a request', method: 'GET', path: (f) => `/api/v1/requests/${f.done}`, status: 200, check: (a, f) => assert.equal(jsonOf(a).id, f.done) },
  {
    name: 'wait on a finished request answers at once',
    method: 'GET',
    path: (f) => `/api/v1/requests/${f.done}/wait?timeout=30`,
    status: 200,
    check: (a) => {
      assert.equal(jsonOf(a).status, 'SUCCEEDED');
      assert.ok(a.ms < 5000, `wait took ${a.ms} ms`);
    },
  },
  {
    name: 'logs of a finished request without follow: the log, then end',
    method: 'GET',
    path: (f) => `/api/v1/requests/${f.done}/logs?follow=false`,
    status: 200,
    check: (a) => {
      assert.match(String(a.headers['content-type']), /^text\/event-stream/);
      assert.equal(a.streamCut, false, 'the stream ends by itself');
      assert.match(a.text, /event: log\ndata: .*"pong"/);
      assert.match(a.text, /event: end\ndata: \{"status":"SUCCEEDED"\}\n\n$/);
    },
  },
  {
    name: 'list requests',
    method: 'GET',
    path: '/api/v1/requests?all_users=true&status=SUCCEEDED,PENDING,RUNNING&limit=5',
    status: 200,
    check: (a) => assert.ok(Array.isArray(jsonOf(a).items)),
  },
  {
    name: 'server log without follow ends by itself',
    method: 'GET',
    path: '/api/v1/server/logs?follow=false&tail=1',
    status: 200,
    check: (a) => {
      assert.equal(a.streamCut, false);
      assert.match(a.text, /event: end\n/);
    },
  },
  {
    name: 'the event stream answers at once: its retry time, then ready',
    method: 'GET',
    path: '/api/v1/events',
    timeoutMs: 3000,
    status: 200,
    check: (a) => {
      assert.match(String(a.headers['content-type']), /^text\/event-stream/);
      assert.equal(a.streamCut, true, 'the event stream stays open');
      assert.match(a.text, /^retry: 3000\n\n/);
      assert.match(a.text, /id: \d+\nevent: ready\ndata: \{"seq":\d+\}\n\n/);
    },
  },
  {
    name: 'a Last-Event-ID that is not a sequence number is refused before the event stream opens',
    method: 'GET',
    path: '/api/v1/events',
    headers: { 'last-event-id': 'seven' },
    status: 400,
    code: 'VALIDATION_FAILED',
    message: ['Last-Event-ID', 'seven'],
  },
  {
    name: 'a follow stream with nothing to send yet still answers at once',
    method: 'GET',
    path: '/api/v1/server/logs?follow=true&tail=0',
    timeoutMs: 3000,
    status: 200,
    check: (a) => {
      assert.match(String(a.headers['content-type']), /^text\/event-stream/);
      assert.equal(a.streamCut, true, 'a follow stream stays open');
      assert.doesNotMatch(a.text, /event: /);
    },
  },
  {
    name: 'following a running request answers at once',
    method: 'GET',
    path: (f) => `/api/v1/requests/${f.running}/logs?follow=true`,
    timeoutMs: 3000,
    status: 200,
    check: (a) => {
      assert.match(String(a.headers['content-type']), /^text\/event-stream/);
      assert.equal(a.streamCut, true, 'a follow stream stays open');
    },
  },
  {
    name: 'plugins',
    method: 'GET',
    path: '/api/v1/plugins',
    status: 200,
    check: (a) => assert.deepEqual((jsonOf(a).items as Array<{ id: string; state: string }>).map((p) => [p.id, p.state]), [['local', 'loaded']]),
  },
  {
    name: 'dashboard index',
    method: 'GET',
    path: '/dashboard/',
    status: 200,
    check: (a) => {
      assert.match(String(a.headers['content-type']), /^text\/html/);
      assert.equal(a.text, FIXTURE_INDEX);
      assertDashboardHeaders(a);
      assert.equal(a.headers['cache-control'], 'no-cache');
    },
  },
  ...['/dashboard/clusters', '/dashboard/clusters/dev', '/dashboard/requests/abc-123/', '/dashboard/etc/passwd'].map(
    (path): Row => ({
      name: `deep link ${path} answers the app`,
      method: 'GET',
      path,
      status: 200,
      check: (a) => {
        assert.match(String(a.headers['content-type']), /^text\/html/);
        assert.equal(a.text, FIXTURE_INDEX);
        assertDashboardHeaders(a);
      },
    }),
  ),
  {
    name: 'a hashed asset is immutable and gzipped for a browser that accepts gzip',
    method: 'GET',
    path: '/dashboard/app-0123abcd.js',
    headers: { 'accept-encoding': 'gzip, deflate, br' },
    status: 200,
    check: (a) => {
      assert.match(String(a.headers['content-type']), /^text\/javascript/);
      assert.equal(a.headers['content-encoding'], 'gzip');
      assert.match(String(a.headers.vary), /accept-encoding/i);
      assert.match(String(a.headers['cache-control']), /immutable/);
      assertDashboardHeaders(a);
    },
  },
  {
    name: 'a hashed asset is sent plain to a client that does not accept gzip',
    method: 'GET',
    path: '/dashboard/app-0123abcd.js',
    headers: { 'accept-encoding': 'identity' },
    status: 200,
    check: (a) => {
      assert.equal(a.headers['content-encoding'], undefined);
      assert.match(String(a.headers.vary), /accept-encoding/i);
      assert.match(a.text, /^console\.log\("x+"\);\n$/);
    },
  },
  {
    name: 'a hashed asset is sent plain to a client that names no encoding',
    method: 'GET',
    path: '/dashboard/app-0123abcd.js',
    status: 200,
    check: (a) => {
      assert.equal(a.headers['content-encoding'], undefined);
      assert.match(a.text, /^console\.log\("x+"\);\n$/);
    },
  },
  {
    name: 'gzip refused by the client (q=0) is not sent',
    method: 'GET',
    path: '/dashboard/app-0123abcd.js',
    headers: { 'accept-encoding': 'gzip;q=0, identity' },
    status: 200,
    check: (a) => assert.equal(a.headers['content-encoding'], undefined),
  },
  {
    name: 'an asset without a hash in its name is revalidated',
    method: 'GET',
    path: '/dashboard/style.css',
    status: 200,
    check: (a) => {
      assert.match(String(a.headers['content-type']), /^text\/css/);
      assert.equal(a.headers['cache-control'], 'no-cache');
    },
  },
  {
    name: 'HEAD of a dashboard page: its headers, no body',
    method: 'HEAD',
    path: '/dashboard/clusters/dev',
    status: 200,
    check: (a) => {
      assert.match(String(a.headers['content-type']), /^text\/html/);
      assert.equal(a.headers['content-length'], String(Buffer.byteLength(FIXTURE_INDEX)));
      assert.equal(a.text, '');
      assertDashboardHeaders(a);
    },
  },
  { name: 'no POST to the dashboard', method: 'POST', path: '/dashboard/clusters', json: {}, status: 404, code: 'ROUTE_NOT_FOUND' },
  { name: 'a missing asset is 404', method: 'GET', path: '/dashboard/nope.js', status: 404, code: 'ROUTE_NOT_FOUND' },
  {
    name: 'how a browser signs in (public)',
    method: 'GET',
    path: '/api/v1/auth/methods',
    status: 200,
    check: (a) => assert.deepEqual(jsonOf(a), { mode: 'none', passwordLogin: false }),
  },
  {
    name: 'no password login on a personal server',
    method: 'POST',
    path: '/api/v1/auth/password-session',
    json: { name: 'alice', password: 'alice-password' },
    status: 400,
    code: 'LOGIN_METHOD_DISABLED',
    message: ['auth mode none', 'password login'],
  },
  {
    name: 'a password login with an unknown field',
    method: 'POST',
    path: '/api/v1/auth/password-session',
    json: { name: 'alice', password: 'alice-password', remember: true },
    status: 400,
    code: 'VALIDATION_FAILED',
    message: ['remember'],
  },
  {
    name: "a finished request's log as a text download",
    method: 'GET',
    path: (f) => `/api/v1/requests/${f.done}/logs?format=text`,
    status: 200,
    check: (a, f) => {
      assert.match(String(a.headers['content-type']), /^text\/plain; charset=utf-8/);
      assert.equal(a.headers['content-disposition'], `attachment; filename="request-${f.done}.log"`);
      assert.doesNotMatch(a.text, /event: |data: /);
    },
  },
  { name: 'an unknown log format', method: 'GET', path: (f) => `/api/v1/requests/${f.done}/logs?format=html`, status: 400, code: 'VALIDATION_FAILED', message: ['format'] },

  // ---- bodies
  { name: 'malformed JSON', method: 'POST', path: '/api/v1/ping', headers: JSON_CT, raw: '{"sleep": 1,', status: 400, code: 'INVALID_JSON', message: ['not valid JSON'] },
  { name: 'single-quoted JSON', method: 'POST', path: '/api/v1/ping', headers: JSON_CT, raw: "{'sleep': 1}", status: 400, code: 'INVALID_JSON', message: ['not valid JSON'] },
  { name: 'NaN is not JSON', method: 'POST', path: '/api/v1/ping', headers: JSON_CT, raw: '{"sleep": NaN}', status: 400, code: 'INVALID_JSON', message: ['not valid JSON'] },
  { name: 'binary garbage', method: 'POST', path: '/api/v1/ping', headers: JSON_CT, raw: Buffer.from([0xff, 0xfe, 0x00, 0x7b, 0x80]), status: 400, code: 'INVALID_JSON', message: ['not valid JSON'] },
  { name: 'malformed JSON on cancel', method: 'POST', path: '/api/v1/requests/cancel', headers: JSON_CT, raw: '{"ids": [', status: 400, code: 'INVALID_JSON', message: ['not valid JSON'] },
  { name: 'a JSON array is not an object', method: 'POST', path: '/api/v1/ping', json: [{ sleep: 1 }], status: 400, code: 'VALIDATION_FAILED', message: ['body', 'expected object', 'array'] },
  { name: 'a JSON string is not an object', method: 'POST', path: '/api/v1/ping', json: 'ping', status: 400, code: 'VALIDATION_FAILED', message: ['body', 'expected object'] },
  { name: 'JSON null is not an object', method: 'POST', path: '/api/v1/ping', json: null, status: 400, code: 'VALIDATION_FAILED', message: ['body', 'expected object', 'null'] },
  { name: 'a JSON number is not an object', method: 'POST', path: '/api/v1/requests/cancel', json: 42, status: 400, code: 'VALIDATION_FAILED', message: ['body', 'expected object'] },
  { name: 'text/plain body', method: 'POST', path: '/api/v1/ping', headers: { 'content-type': 'text/plain' }, raw: '{}', status: 415, code: 'UNSUPPORTED_MEDIA_TYPE', message: ['text/plain', 'application/json'] },
  { name: 'form-encoded body', method: 'POST', path: '/api/v1/ping', headers: { 'content-type': 'application/x-www-form-urlencoded' }, raw: 'sleep=1', status: 415, code: 'UNSUPPORTED_MEDIA_TYPE', message: ['application/x-www-form-urlencoded'] },
  { name: 'a body without a content-type', method: 'POST', path: '/api/v1/requests/cancel', raw: '{"all":true}', status: 415, code: 'UNSUPPORTED_MEDIA_TYPE', message: ['(none)', 'application/json'] },
  { name: 'a look-alike media type', method: 'POST', path: '/api/v1/ping', headers: { 'content-type': 'application/jsonp' }, raw: '{}', status: 415, code: 'UNSUPPORTED_MEDIA_TYPE', message: ['application/jsonp'] },
  {
    name: 'body over the limit (Content-Length)',
    method: 'POST',
    path: '/api/v1/ping',
    json: { fail: 'x'.repeat(MAX_BODY + 100) },
    status: 413,
    code: 'PAYLOAD_TOO_LARGE',
    message: [String(MAX_BODY)],
  },
  {
    name: 'body over the limit (chunked, no Content-Length)',
    method: 'POST',
    path: '/api/v1/requests/cancel',
    json: { ids: Array.from({ length: 200 }, (_, i) => `id-${i}`) },
    chunked: true,
    status: 413,
    code: 'PAYLOAD_TOO_LARGE',
    message: [String(MAX_BODY)],
  },
  { name: 'unknown field in a ping body', method: 'POST', path: '/api/v1/ping', json: { sleep: 1, bogus: true }, status: 400, code: 'VALIDATION_FAILED', message: ['"bogus"'] },
  { name: 'unknown field in a cancel body', method: 'POST', path: '/api/v1/requests/cancel', json: { all: true, everything: true }, status: 400, code: 'VALIDATION_FAILED', message: ['"everything"'] },
  { name: '__proto__ is an unknown field too', method: 'POST', path: '/api/v1/ping', headers: JSON_CT, raw: '{"__proto__": {"sleep": 1}}', status: 400, code: 'VALIDATION_FAILED', message: ['"__proto__"'] },
  { name: 'sleep: "x"', method: 'POST', path: '/api/v1/ping', json: { sleep: 'x' }, status: 400, code: 'VALIDATION_FAILED', message: ['body.sleep', 'expected number'] },
  { name: 'sleep: -1', method: 'POST', path: '/api/v1/ping', json: { sleep: -1 }, status: 400, code: 'VALIDATION_FAILED', message: ['body.sleep', '>=0'] },
  { name: 'sleep: 1e999 (Infinity)', method: 'POST', path: '/api/v1/ping', headers: JSON_CT, raw: '{"sleep": 1e999}', status: 400, code: 'VALIDATION_FAILED', message: ['body.sleep'] },
  { name: 'sleep over its maximum', method: 'POST', path: '/api/v1/ping', json: { sleep: 3601 }, status: 400, code: 'VALIDATION_FAILED', message: ['body.sleep', '3600'] },
  { name: 'lane: "medium"', method: 'POST', path: '/api/v1/ping', json: { lane: 'medium' }, status: 400, code: 'VALIDATION_FAILED', message: ['body.lane', 'short', 'long'] },
  { name: 'fail: "" (too short)', method: 'POST', path: '/api/v1/ping', json: { fail: '' }, status: 400, code: 'VALIDATION_FAILED', message: ['body.fail'] },
  {
    name: 'every offending field is named at once',
    method: 'POST',
    path: '/api/v1/ping',
    json: { sleep: 'x', lane: 'medium', extra: 1 },
    status: 400,
    code: 'VALIDATION_FAILED',
    message: ['body.sleep', 'body.lane', '"extra"'],
    check: (a) => {
      const details = (jsonOf(a).error as { details?: { issues?: Array<{ path: string }> } }).details;
      assert.deepEqual(details?.issues?.map((i) => i.path).sort(), ['body', 'body.lane', 'body.sleep']);
    },
  },
  { name: 'cancel ids of the wrong type', method: 'POST', path: '/api/v1/requests/cancel', json: { ids: 'abc' }, status: 400, code: 'VALIDATION_FAILED', message: ['body.ids', 'array'] },
  { name: 'cancel with an empty id', method: 'POST', path: '/api/v1/requests/cancel', json: { ids: [''] }, status: 400, code: 'VALIDATION_FAILED', message: ['body.ids[0]'] },
  { name: 'cancel all: "yes"', method: 'POST', path: '/api/v1/requests/cancel', json: { all: 'yes' }, status: 400, code: 'VALIDATION_FAILED', message: ['body.all', 'boolean'] },
  { name: 'cancel with neither ids nor all', method: 'POST', path: '/api/v1/requests/cancel', json: {}, status: 400, code: 'VALIDATION_FAILED', message: ['ids', 'all'] },
  { name: 'cancel with an empty id list', method: 'POST', path: '/api/v1/requests/cancel', json: { ids: [] }, status: 400, code: 'VALIDATION_FAILED', message: ['ids', 'all'] },
  { name: 'cancel all_users without all', method: 'POST', path: '/api/v1/requests/cancel', json: { all_users: true }, status: 400, code: 'VALIDATION_FAILED', message: ['ids', 'all'] },

  // ---- unknown request ids
  { name: 'get an unknown request', method: 'GET', path: '/api/v1/requests/no-such-request', status: 404, code: 'REQUEST_NOT_FOUND', message: ['no-such-request'] },
  { name: 'wait on an unknown request', method: 'GET', path: '/api/v1/requests/no-such-request/wait?timeout=5', status: 404, code: 'REQUEST_NOT_FOUND', message: ['no-such-request'] },
  { name: 'logs of an unknown request', method: 'GET', path: '/api/v1/requests/no-such-request/logs', status: 404, code: 'REQUEST_NOT_FOUND', message: ['no-such-request'] },
  {
    name: 'cancel an unknown request',
    method: 'POST',
    path: '/api/v1/requests/cancel',
    json: (f: Fixtures) => ({ ids: ['no-such-request', f.done] }),
    status: 404,
    code: 'REQUEST_NOT_FOUND',
    message: ['no-such-request'],
    check: (a, f) => assert.doesNotMatch(String((jsonOf(a).error as { message: string }).message), new RegExp(f.done)),
  },
  { name: 'an encoded slash in an id is part of the id', method: 'GET', path: '/api/v1/requests/a%2Fb', status: 404, code: 'REQUEST_NOT_FOUND', message: ['a/b'] },
  { name: 'an id over 200 characters', method: 'GET', path: `/api/v1/requests/${longId}`, status: 400, code: 'VALIDATION_FAILED', message: ['path.id', '200'] },

  // ---- query strings
  { name: 'limit=0', method: 'GET', path: '/api/v1/requests?limit=0', status: 400, code: 'VALIDATION_FAILED', message: ['query.limit', '>=1'] },
  { name: 'limit=abc', method: 'GET', path: '/api/v1/requests?limit=abc', status: 400, code: 'VALIDATION_FAILED', message: ['query.limit', 'number'] },
  { name: 'limit=1001', method: 'GET', path: '/api/v1/requests?limit=1001', status: 400, code: 'VALIDATION_FAILED', message: ['query.limit', '1000'] },
  { name: 'limit=2.5', method: 'GET', path: '/api/v1/requests?limit=2.5', status: 400, code: 'VALIDATION_FAILED', message: ['query.limit', 'int'] },
  { name: 'status=BOGUS', method: 'GET', path: '/api/v1/requests?status=BOGUS', status: 400, code: 'VALIDATION_FAILED', message: ['query.status', 'PENDING'] },
  { name: 'status=SUCCEEDED,bogus', method: 'GET', path: '/api/v1/requests?status=SUCCEEDED,bogus', status: 400, code: 'VALIDATION_FAILED', message: ['query.status[1]'] },
  { name: 'all_users=maybe', method: 'GET', path: '/api/v1/requests?all_users=maybe', status: 400, code: 'VALIDATION_FAILED', message: ['query.all_users', 'boolean'] },
  { name: 'an unknown query key', method: 'GET', path: '/api/v1/requests?bogus_key=1', status: 400, code: 'VALIDATION_FAILED', message: ['"bogus_key"'] },
  { name: 'an unknown query key on wait', method: 'GET', path: '/api/v1/requests/no-such-request/wait?follow=true', status: 400, code: 'VALIDATION_FAILED', message: ['"follow"'] },
  { name: '__proto__ is an unknown query key too', method: 'GET', path: '/api/v1/requests?__proto__=x', status: 400, code: 'VALIDATION_FAILED', message: ['"__proto__"'] },
  { name: 'a cursor this store never issued', method: 'GET', path: '/api/v1/requests?cursor=garbage', status: 400, code: 'VALIDATION_FAILED', message: ['cursor'] },
  { name: 'timeout=-1', method: 'GET', path: (f) => `/api/v1/requests/${f.done}/wait?timeout=-1`, status: 400, code: 'VALIDATION_FAILED', message: ['query.timeout', '>=0'] },
  { name: 'timeout=301', method: 'GET', path: (f) => `/api/v1/requests/${f.done}/wait?timeout=301`, status: 400, code: 'VALIDATION_FAILED', message: ['query.timeout', '300'] },
  { name: 'timeout=soon', method: 'GET', path: (f) => `/api/v1/requests/${f.done}/wait?timeout=soon`, status: 400, code: 'VALIDATION_FAILED', message: ['query.timeout'] },
  { name: 'follow=maybe', method: 'GET', path: (f) => `/api/v1/requests/${f.done}/logs?follow=maybe`, status: 400, code: 'VALIDATION_FAILED', message: ['query.follow', 'boolean'] },
  { name: 'tail=-1', method: 'GET', path: '/api/v1/server/logs?tail=-1', status: 400, code: 'VALIDATION_FAILED', message: ['query.tail'] },

  // ---- routes and methods
  { name: 'unknown route under the API prefix', method: 'GET', path: '/api/v1/nope', status: 404, code: 'ROUTE_NOT_FOUND', message: ['/api/v1/nope'] },
  { name: 'unknown API version prefix', method: 'GET', path: '/api/v2/requests', status: 404, code: 'ROUTE_NOT_FOUND', message: ['/api/v2/requests'] },
  { name: 'unknown top-level path', method: 'GET', path: '/favicon.ico', status: 404, code: 'ROUTE_NOT_FOUND', message: ['/favicon.ico'] },
  { name: 'extra path segments', method: 'GET', path: '/api/v1/requests/a/b/c', status: 404, code: 'ROUTE_NOT_FOUND', message: ['/api/v1/requests/a/b/c'] },
  { name: 'DELETE on a submit route', method: 'DELETE', path: '/api/v1/ping', status: 405, code: 'METHOD_NOT_ALLOWED', message: ['DELETE', 'POST'], check: (a) => assert.equal(a.headers.allow, 'POST') },
  { name: 'GET on a submit route', method: 'GET', path: '/api/v1/ping', status: 405, code: 'METHOD_NOT_ALLOWED', message: ['GET', 'POST'], check: (a) => assert.equal(a.headers.allow, 'POST') },
  { name: 'POST on a read route', method: 'POST', path: '/api/v1/requests/abc', json: {}, status: 405, code: 'METHOD_NOT_ALLOWED', message: ['POST', 'GET'], check: (a) => assert.equal(a.headers.allow, 'GET') },
  { name: 'PUT on health', method: 'PUT', path: '/api/health', status: 405, code: 'METHOD_NOT_ALLOWED', message: ['PUT', 'GET'], check: (a) => assert.equal(a.headers.allow, 'GET') },
  { name: 'PATCH on openapi.json', method: 'PATCH', path: '/api/v1/openapi.json', status: 405, code: 'METHOD_NOT_ALLOWED', check: (a) => assert.equal(a.headers.allow, 'GET') },
  {
    name: 'DELETE on /requests/cancel lists both methods of that path',
    method: 'DELETE',
    path: '/api/v1/requests/cancel',
    status: 405,
    code: 'METHOD_NOT_ALLOWED',
    check: (a) => assert.deepEqual(String(a.headers.allow).split(/,\s*/).sort(), ['GET', 'POST']),
  },

  // ---- versions
  {
    name: 'an older client is told to upgrade itself',
    method: 'GET',
    path: '/api/v1/requests',
    headers: { [API_VERSION_HEADER]: String(API_VERSION - 1) },
    status: 400,
    code: 'VERSION_MISMATCH',
    message: [`v${API_VERSION - 1}`, `v${API_VERSION}`, 'upgrade this client'],
  },
  {
    name: 'a newer client is told to upgrade the server',
    method: 'POST',
    path: '/api/v1/ping',
    headers: { [API_VERSION_HEADER]: String(API_VERSION + 1) },
    json: {},
    status: 400,
    code: 'VERSION_MISMATCH',
    message: [`v${API_VERSION + 1}`, `v${API_VERSION}`, 'upgrade the API server'],
  },
  { name: 'a version that is not a number', method: 'GET', path: '/api/v1/plugins', headers: { [API_VERSION_HEADER]: 'latest' }, status: 400, code: 'VERSION_MISMATCH', message: [API_VERSION_HEADER, '"latest"'] },
  { name: 'a version that is not an integer', method: 'GET', path: '/api/v1/plugins', headers: { [API_VERSION_HEADER]: '1.5' }, status: 400, code: 'VERSION_MISMATCH', message: [API_VERSION_HEADER, '1.5'] },
  { name: 'a version in hex is not a version', method: 'GET', path: '/api/v1/plugins', headers: { [API_VERSION_HEADER]: '0x1' }, status: 400, code: 'VERSION_MISMATCH', message: [API_VERSION_HEADER, '0x1'] },
  { name: 'the matching version is accepted', method: 'GET', path: '/api/v1/plugins', headers: { [API_VERSION_HEADER]: String(API_VERSION) }, status: 200 },

  // ---- identity and idempotency headers
  { name: 'a user id with a space', method: 'GET', path: '/api/v1/requests', headers: { [USER_ID_HEADER]: 'bad id' }, status: 400, code: 'VALIDATION_FAILED', message: [USER_ID_HEADER] },
  { name: 'a user id over 64 characters', method: 'POST', path: '/api/v1/ping', headers: { [USER_ID_HEADER]: 'u'.repeat(65) }, json: {}, status: 400, code: 'VALIDATION_FAILED', message: [USER_ID_HEADER, '64'] },
  { name: 'a non-ASCII user id', method: 'GET', path: '/api/health', headers: { [USER_ID_HEADER]: 'j\u00e9r\u00f4me' }, status: 400, code: 'VALIDATION_FAILED', message: [USER_ID_HEADER] },
  { name: 'a user name with a control character', method: 'GET', path: '/api/v1/requests', headers: { [USER_ID_HEADER]: 'alice', [USER_NAME_HEADER]: 'Alice\tL' }, status: 400, code: 'VALIDATION_FAILED', message: [USER_NAME_HEADER] },
  { name: 'a user name over 64 characters', method: 'GET', path: '/api/v1/requests', headers: { [USER_ID_HEADER]: 'alice', [USER_NAME_HEADER]: 'n'.repeat(65) }, status: 400, code: 'VALIDATION_FAILED', message: [USER_NAME_HEADER, '64'] },
  { name: 'an idempotency key with a space', method: 'POST', path: '/api/v1/ping', headers: { [IDEMPOTENCY_KEY_HEADER]: 'my key' }, json: {}, status: 400, code: 'VALIDATION_FAILED', message: [IDEMPOTENCY_KEY_HEADER] },
  { name: 'an idempotency key over 200 characters', method: 'POST', path: '/api/v1/ping', headers: { [IDEMPOTENCY_KEY_HEADER]: 'k'.repeat(201) }, json: {}, status: 400, code: 'VALIDATION_FAILED', message: [IDEMPOTENCY_KEY_HEADER, '200'] },
  { name: 'a non-ASCII idempotency key', method: 'POST', path: '/api/v1/ping', headers: { [IDEMPOTENCY_KEY_HEADER]: 'cl\u00e9' }, json: {}, status: 400, code: 'VALIDATION_FAILED', message: [IDEMPOTENCY_KEY_HEADER] },

  // ---- the dashboard never serves a file outside dashboard-static
  ...traversals.map(
    (path): Row => ({
      name: `no path escape: ${path}`,
      method: 'GET',
      path,
      status: 404,
      code: 'ROUTE_NOT_FOUND',
      check: (a) => {
        for (const leak of LEAKS) assert.doesNotMatch(a.text, leak);
      },
    }),
  ),

  // ---- last, because it ends the running fixture
  {
    name: 'cancel a running request out of band',
    method: 'POST',
    path: '/api/v1/requests/cancel',
    json: (f: Fixtures) => ({ ids: [f.running] }),
    status: 200,
    check: async (a, f) => {
      assert.deepEqual(jsonOf(a), { cancelled: [f.running], alreadyFinished: [] });
      const done = await call({ method: 'GET', path: `/api/v1/requests/${f.running}/wait?timeout=10`, headers: {} });
      assert.equal(jsonOf(done).status, 'CANCELLED');
    },
  },
];

let daemon: DaemonHandle | undefined;
let dashboard: DashboardFixture | undefined;
let fixtures: Fixtures;

function call(req: WireRequest, timeoutMs = 15_000): Promise<WireAnswer> {
  return send(daemon!.url, req, { timeoutMs });
}

function wireOf(row: Row): WireRequest {
  const path = typeof row.path === 'function' ? row.path(fixtures) : row.path;
  const headers: Record<string, string> = {};
  let body: Buffer | undefined;
  if (row.json !== undefined) {
    const value = typeof row.json === 'function' ? (row.json as (f: Fixtures) => unknown)(fixtures) : row.json;
    body = Buffer.from(JSON.stringify(value));
    Object.assign(headers, JSON_CT);
  } else if (row.raw !== undefined) {
    body = Buffer.isBuffer(row.raw) ? row.raw : Buffer.from(row.raw);
  }
  Object.assign(headers, row.headers);
  return { method: row.method, path, headers, ...(body !== undefined ? { body } : {}), ...(row.chunked ? { chunked: true } : {}) };
}

describe('REST API contract table (one real daemon)', () => {
  before(async () => {
    dashboard = makeDashboardFixture();
    daemon = await startDaemon({ config: `requests: {max_body_bytes: ${MAX_BODY}}\nshutdown: {drain_seconds: 1}\n`, env: { SKY_DASHBOARD_DIR: dashboard.dir } });
    const submit = async (body: unknown): Promise<string> => {
      const a = await call({ method: 'POST', path: '/api/v1/ping', headers: JSON_CT, body: Buffer.from(JSON.stringify(body)) });
      assert.equal(a.status, 202, a.text);
      return jsonOf(a).requestId as string;
    };
    const done = await submit({ sleep: 0.01 });
    const finished = await call({ method: 'GET', path: `/api/v1/requests/${done}/wait?timeout=10`, headers: {} });
    assert.equal(jsonOf(finished).status, 'SUCCEEDED');
    fixtures = { done, running: await submit({ sleep: 600, lane: 'long' }) };
  });

  after(async () => {
    if (daemon) {
      await daemon.stop(5_000);
      removeHome(daemon.home);
    }
    await killAllDaemons();
    dashboard?.remove();
  });

  it('has the rows the contract needs', () => {
    const codes = new Set(ROWS.map((r) => r.code).filter((c) => c !== undefined));
    for (const code of ['INVALID_JSON', 'UNSUPPORTED_MEDIA_TYPE', 'PAYLOAD_TOO_LARGE', 'VALIDATION_FAILED', 'VERSION_MISMATCH', 'ROUTE_NOT_FOUND', 'METHOD_NOT_ALLOWED', 'REQUEST_NOT_FOUND'] as const) {
      assert.ok(codes.has(code), `no row expects ${code}`);
    }
    assert.equal(new Set(ROWS.map((r) => r.name)).size, ROWS.length, 'row names are unique');
  });

  for (const [name, raw, status, code] of [
    ['a header line without a colon', 'GET /api/health HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n', 400, 'MALFORMED_HTTP'],
    ['headers over 16 KiB', `GET /api/health HTTP/1.1\r\nHost: x\r\nx-big: ${'a'.repeat(20_000)}\r\n\r\n`, 431, 'HEADERS_TOO_LARGE'],
  ] as const) {
    it(`raw socket — ${name} gets ${status} ${code} in the error shape`, async () => {
      const text = await new Promise<string>((resolve, reject) => {
        const socket = connect(daemon!.port, '127.0.0.1', () => socket.end(raw));
        let got = '';
        socket.setEncoding('utf8');
        socket.on('data', (c: string) => (got += c));
        socket.on('close', () => resolve(got));
        socket.on('error', reject);
      });
      const [head = '', body = ''] = text.split('\r\n\r\n');
      assert.match(head, new RegExp(`^HTTP/1.1 ${status} `));
      assert.match(head, new RegExp(`${API_VERSION_HEADER}: ${API_VERSION}`));
      assert.equal(errorBodyProblem(status, body), undefined);
      assert.equal((JSON.parse(body) as { error: { code: string } }).error.code, code);
    });
  }

  // A refused body must not wedge its keep-alive connection: the next request on it is answered.
  // A body far over the limit is not read to its end: the answer closes the connection instead.
  for (const [name, size, chunked, connections] of [
    ['chunked, over the limit by many socket reads', 300_000, true, 1],
    ['chunked, just over the limit', MAX_BODY + 10, true, 1],
    ['Content-Length, over the limit', 300_000, false, 1],
    ['chunked, megabytes over the limit', 3_000_000, true, 2],
    ['Content-Length, megabytes over the limit', 3_000_000, false, 2],
  ] as const) {
    it(`keep-alive — a body refused with 413 (${name}) leaves the connection serving the next request`, async () => {
      const opened: Socket[] = [];
      const agent = new Agent({ keepAlive: true, maxSockets: 1 });
      const connectOriginal = agent.createConnection.bind(agent);
      agent.createConnection = ((...args: Parameters<typeof connectOriginal>) => {
        const socket = connectOriginal(...args) as Socket;
        opened.push(socket);
        return socket;
      }) as typeof agent.createConnection;
      try {
        const body = Buffer.from(JSON.stringify({ ids: ['x'.repeat(size)] }));
        const refused = await send(daemon!.url, { method: 'POST', path: '/api/v1/requests/cancel', headers: JSON_CT, body, chunked }, { timeoutMs: 10_000, agent });
        assert.equal(refused.status, 413, refused.text);
        assert.equal((jsonOf(refused).error as { code: string }).code, 'PAYLOAD_TOO_LARGE');
        assert.equal(refused.headers.connection, connections === 1 ? 'keep-alive' : 'close');
        for (let i = 0; i < 3; i++) {
          const next = await send(daemon!.url, { method: 'GET', path: `/api/v1/requests/${fixtures.done}`, headers: {} }, { timeoutMs: 10_000, agent });
          assert.equal(next.status, 200, next.text);
        }
        assert.equal(opened.length, connections, connections === 1 ? 'the refused body was read off the wire and the connection kept' : 'the connection was closed with the answer');
      } finally {
        agent.destroy();
        for (const socket of opened) socket.destroy();
      }
    });
  }

  for (const row of ROWS) {
    it(`${row.method} ${typeof row.path === 'string' ? row.path.slice(0, 80) : '(fixture)'} — ${row.name}`, async () => {
      const req = wireOf(row);
      const answer = await call(req, row.timeoutMs);
      const context = `${req.method} ${req.path} → ${answer.status} ${answer.text.slice(0, 500)}`;
      assert.equal(answer.status, row.status, context);
      if (req.path.startsWith('/api/')) assert.equal(answer.headers[API_VERSION_HEADER], String(API_VERSION), `${context}: no ${API_VERSION_HEADER} header`);
      if (answer.status >= 400) {
        const problem = errorBodyProblem(answer.status, answer.text);
        assert.equal(problem, undefined, `${context}: ${problem}`);
        const error = jsonOf(answer).error as { code: string; message: string };
        if (row.code !== undefined) assert.equal(error.code, row.code, context);
        for (const fragment of row.message ?? []) {
          if (typeof fragment === 'string') assert.ok(error.message.includes(fragment), `${context}: message lacks ${JSON.stringify(fragment)}`);
          else assert.match(error.message, fragment, context);
        }
      } else {
        assert.equal(row.code, undefined, 'a row with an error code must expect an error status');
      }
      await row.check?.(answer, fixtures);
    });
  }
});
