import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Agent } from 'node:http';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { z } from 'zod';
import {
  API_VERSION,
  API_VERSION_HEADER,
  IDEMPOTENCY_KEY_HEADER,
  REQUEST_ID_HEADER,
  ROUTE_LIST,
  USER_ID_HEADER,
  USER_NAME_HEADER,
  manifestProblems,
  type RouteSpec,
} from '@sky/protocol';
import { http, killAllDaemons, removeHome, startDaemon, type DaemonHandle } from '../helpers/daemon-process.js';
import {
  abortedUpload,
  decodeSegment,
  describeRequest,
  encodeComponent,
  errorBodyProblem,
  HangError,
  ID_ALPHABET,
  NASTY_STRINGS,
  Rng,
  send,
  type WireAnswer,
  type WireRequest,
} from '../helpers/fuzz.js';
import { fuzzAuthorization, fuzzSeed } from '../helpers/authz-fuzz.js';
import { startTeamDaemon, TEAM_ADMIN } from '../helpers/team.js';
import { parseInstallSpec } from '../../core/daemon/src/plugins/install.js';

/**
 * A bounded, seeded fuzzer over the live OpenAPI document: for every documented path and
 * method it sends inputs derived from the schemas (valid, mutated, malformed) and checks that
 * the daemon never answers 5xx, that every error follows the catalogue, that nothing hangs,
 * that accepted input really was valid (and valid input is accepted), and that the daemon is
 * healthy afterwards. Replay a failure with SKY_FUZZ_SEED=<seed> SKY_FUZZ_CASE=<index>.
 *
 * A second part fuzzes authorization on a team daemon (basic auth): see test/helpers/authz-fuzz.ts.
 * The seed rotates per run (it is printed); SKY_FUZZ_SEED replays one.
 */

const SEED = fuzzSeed();
const ITERATIONS = Number(process.env.SKY_FUZZ_ITERATIONS ?? 1500);
const ONLY_CASE = process.env.SKY_FUZZ_CASE === undefined ? undefined : Number(process.env.SKY_FUZZ_CASE);
const CONCURRENCY = 6;
const REQUEST_TIMEOUT_MS = 5_000;
/** Stop sending (and say so) if the run takes longer than this; the suite must stay fast. */
const BUDGET_MS = 20_000;
const MAX_BODY = 16 * 1024;
const MAX_WAIT_SECONDS = 1;

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonSchema = Record<string, unknown>;

interface DocOperation {
  template: string;
  method: string;
  id: string;
  route: RouteSpec;
  parameters: Array<{ name: string; in: string; schema: JsonSchema }>;
  bodySchema: JsonSchema | undefined;
  statuses: Set<number>;
}

interface OpenApiDoc {
  openapi: string;
  paths: Record<string, Record<string, { operationId: string; parameters?: DocOperation['parameters']; requestBody?: { content: Record<string, { schema: JsonSchema }> }; responses: Record<string, unknown> }>>;
  components: { schemas: Record<string, JsonSchema> };
}

/** What the daemon should make of a body, computed independently of it. */
type BodyView = { kind: 'json'; value: unknown } | { kind: 'reject'; why: string } | { kind: 'unknown' };

interface FuzzCase {
  index: number;
  kind: 'schema' | 'method' | 'path' | 'abort';
  req: WireRequest;
  op?: DocOperation;
  /** For wrong-method cases: the methods the path does allow. */
  allow?: string[];
  /** The decoded path parameters and query, as the daemon's router will see them. */
  params?: Record<string, string>;
  body: BodyView;
  headersValid: boolean;
  /** For aborted uploads. */
  abort?: { declared: number; sent: Buffer };
}

interface Failure {
  index: number;
  problem: string;
  req: WireRequest;
}

const ACCEPTED_TYPES = ['application/json', 'application/json; charset=utf-8', 'application/vnd.sky+json', 'APPLICATION/JSON'];
const REJECTED_TYPES = ['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/jsonp', 'application/xml', 'json'];

const VALID_IDENTITIES: Array<Record<string, string>> = [
  { [USER_ID_HEADER]: 'alice' },
  { [USER_ID_HEADER]: 'bob.smith', [USER_NAME_HEADER]: 'Bob Smith' },
  { [USER_ID_HEADER]: 'ci-bot_2', [USER_NAME_HEADER]: 'Zo\u00eb (CI)' },
  { [USER_ID_HEADER]: 'u'.repeat(64), [USER_NAME_HEADER]: 'n'.repeat(64) },
];
const INVALID_IDENTITIES: Array<Record<string, string>> = [
  { [USER_ID_HEADER]: 'has space' },
  { [USER_ID_HEADER]: 'u'.repeat(65) },
  { [USER_ID_HEADER]: 'j\u00e9r\u00f4me' },
  { [USER_ID_HEADER]: 'a/b' },
  { [USER_ID_HEADER]: '../../root' },
  { [USER_ID_HEADER]: 'alice', [USER_NAME_HEADER]: 'tab\there' },
  { [USER_ID_HEADER]: 'alice', [USER_NAME_HEADER]: 'n'.repeat(65) },
];
const INVALID_VERSIONS = ['0', String(API_VERSION + 1), '-1', 'abc', '1.0', '1.5', '0x1', '1e0', '+1', '99999999999999999999999', 'v1', '1,1', '\u00b9', 'NaN', 'Infinity', '\t'];
const VALID_KEYS = ['key-1', 'key-2', 'retry/7', 'k'.repeat(200)];
const INVALID_KEYS = ['has space', 'k'.repeat(201), 'cl\u00e9', 'tab\tkey', '\u00ff'];

function resolveSchema(doc: OpenApiDoc, schema: JsonSchema): JsonSchema {
  let s = schema;
  for (let i = 0; i < 10 && typeof s.$ref === 'string'; i++) {
    const name = s.$ref.replace('#/components/schemas/', '');
    s = doc.components.schemas[name] ?? {};
  }
  return s;
}

function operationsOf(doc: OpenApiDoc): DocOperation[] {
  const out: DocOperation[] = [];
  for (const [template, methods] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(methods)) {
      const route = ROUTE_LIST.find((r) => r.id === op.operationId);
      assert.ok(route, `openapi.json names operation ${op.operationId}, which is not in ROUTE_LIST`);
      const body = op.requestBody?.content['application/json']?.schema;
      out.push({
        template,
        method: method.toUpperCase(),
        id: op.operationId,
        route,
        parameters: op.parameters ?? [],
        bodySchema: body === undefined ? undefined : resolveSchema(doc, body),
        statuses: new Set(Object.keys(op.responses).map(Number)),
      });
    }
  }
  return out;
}

function templateRegex(template: string): RegExp {
  return new RegExp(`^${template.replace(/\{[^}]+\}/g, '[^/]+')}/?$`);
}

// ---------------------------------------------------------------- value generators

function randomJson(rng: Rng, depth = 0): Json {
  const kind = rng.int(0, depth > 2 ? 3 : 5);
  switch (kind) {
    case 0:
      return null;
    case 1:
      return rng.chance(0.5);
    case 2:
      return rng.pick([0, -1, 1.5, 1e308, -1e308, 2 ** 53 + 1, 5e-324, -0]);
    case 3:
      return rng.pick(NASTY_STRINGS);
    case 4:
      return Array.from({ length: rng.int(0, 3) }, () => randomJson(rng, depth + 1));
    default: {
      const out: Record<string, Json> = {};
      for (let i = rng.int(0, 3); i > 0; i--) out[rng.pick(['a', 'sleep', 'ids', '', '__proto__', 'x'])] = randomJson(rng, depth + 1);
      return out;
    }
  }
}

function deepValue(rng: Rng, depth: number): Json {
  let value: Json = rng.pick<Json>([1, 'x', null, [], {}]);
  const asArray = rng.chance(0.5);
  for (let i = 0; i < depth; i++) value = asArray ? [value] : { a: value };
  return value;
}

function validNumber(rng: Rng, schema: JsonSchema, integer: boolean): number {
  const min = typeof schema.minimum === 'number' ? schema.minimum : 0;
  const max = typeof schema.maximum === 'number' ? schema.maximum : min + 1000;
  const value = rng.weighted<() => number>([
    [40, () => min],
    [40, () => Math.min(max, min + (integer ? rng.int(1, 3) : rng.int(1, 30) / 100))],
    [5, () => max],
    [15, () => min + (max - min) * rng.next()],
  ])();
  return integer ? Math.floor(value) : value;
}

function validString(rng: Rng, schema: JsonSchema): string {
  const min = typeof schema.minLength === 'number' ? schema.minLength : 0;
  const max = Math.min(typeof schema.maxLength === 'number' ? schema.maxLength : 24, 24);
  if (rng.chance(0.2)) {
    const nasty = rng.pick(NASTY_STRINGS);
    if (nasty.length >= min && nasty.length <= (typeof schema.maxLength === 'number' ? schema.maxLength : Infinity)) return nasty;
  }
  return rng.string(ID_ALPHABET + ' ', Math.max(min, 1), Math.max(min, max, 1));
}

/** A value the schema accepts (the daemon's zod schema decides in the end). */
function validValue(doc: OpenApiDoc, rng: Rng, raw: JsonSchema, depth = 0): Json {
  const schema = resolveSchema(doc, raw);
  if (schema.const !== undefined) return schema.const as Json;
  if (Array.isArray(schema.enum)) return rng.pick(schema.enum as Json[]);
  const variants = (schema.anyOf ?? schema.oneOf) as JsonSchema[] | undefined;
  if (Array.isArray(variants) && variants.length > 0) return validValue(doc, rng, rng.pick(variants), depth + 1);
  switch (schema.type) {
    case 'object': {
      const props = (schema.properties ?? {}) as Record<string, JsonSchema>;
      const required = new Set((schema.required as string[] | undefined) ?? []);
      const out: Record<string, Json> = {};
      for (const [key, prop] of Object.entries(props)) if (required.has(key) || rng.chance(0.5)) out[key] = validValue(doc, rng, prop, depth + 1);
      return out;
    }
    case 'array': {
      const min = typeof schema.minItems === 'number' ? schema.minItems : 0;
      const max = Math.min(typeof schema.maxItems === 'number' ? schema.maxItems : 4, 4);
      const items = (schema.items ?? {}) as JsonSchema;
      return Array.from({ length: rng.int(min, Math.max(min, max)) }, () => validValue(doc, rng, items, depth + 1));
    }
    case 'string':
      return validString(rng, schema);
    case 'number':
      return validNumber(rng, schema, false);
    case 'integer':
      return validNumber(rng, schema, true);
    case 'boolean':
      return rng.chance(0.5);
    default:
      return randomJson(rng, depth);
  }
}

/** Values that break a property of this schema (or, by chance, do not: zod decides). */
function brokenValue(doc: OpenApiDoc, rng: Rng, raw: JsonSchema): Json {
  const schema = resolveSchema(doc, raw);
  const generic: Array<() => Json> = [
    () => rng.pick(NASTY_STRINGS),
    () => rng.pick([0, -1, 1e308, -1e308, 2 ** 53 + 1, 5e-324, -0, 1.5]),
    () => rng.chance(0.5),
    () => null,
    () => [],
    () => ({}),
    () => [1, 'two', null],
    () => deepValue(rng, rng.int(20, 400)),
  ];
  const specific: Array<() => Json> = [];
  if (schema.type === 'number' || schema.type === 'integer') {
    if (typeof schema.minimum === 'number') specific.push(() => (schema.minimum as number) - 1, () => (schema.minimum as number) - 1e-9);
    if (typeof schema.maximum === 'number') specific.push(() => (schema.maximum as number) + 1, () => (schema.maximum as number) * 1e6);
    specific.push(() => String(validNumber(rng, schema, schema.type === 'integer')), () => 'NaN', () => 'Infinity', () => '1e999');
  }
  if (schema.type === 'string') {
    if (typeof schema.maxLength === 'number') specific.push(() => 's'.repeat((schema.maxLength as number) + 1));
    specific.push(() => '', () => rng.pick(NASTY_STRINGS), () => 42);
  }
  if (schema.type === 'array') {
    const items = (schema.items ?? {}) as JsonSchema;
    if (typeof schema.maxItems === 'number') specific.push(() => Array.from({ length: (schema.maxItems as number) + 1 }, (_, i) => `i${i}`));
    specific.push(() => [brokenValue(doc, rng, items)], () => 'not-an-array', () => [validValue(doc, rng, items), null]);
  }
  if (Array.isArray(schema.enum)) specific.push(() => String(rng.pick(schema.enum as Json[])).toUpperCase(), () => `${String(rng.pick(schema.enum as Json[]))} `, () => 'medium');
  if (schema.type === 'boolean') specific.push(() => 'true', () => 1, () => 0);
  return rng.chance(0.6) && specific.length > 0 ? rng.pick(specific)() : rng.pick(generic)();
}

function mutateObject(doc: OpenApiDoc, rng: Rng, schema: JsonSchema, value: Record<string, Json>): Record<string, Json> {
  const props = (schema.properties ?? {}) as Record<string, JsonSchema>;
  const names = Object.keys(props);
  const out: Record<string, Json> = { ...value };
  for (let n = rng.int(1, 3); n > 0; n--) {
    const mutation = rng.weighted<string>([
      [3, 'drop'],
      [3, 'extra'],
      [6, 'broken'],
      [1, 'deep'],
    ]);
    if (mutation === 'drop') {
      const keys = Object.keys(out);
      if (keys.length > 0) delete out[rng.pick(keys)];
    } else if (mutation === 'extra') {
      const key = rng.pick(['bogus', '__proto__', 'constructor', '', 'SLEEP', 'Lane', 'ids ', rng.pick(NASTY_STRINGS)]);
      Object.defineProperty(out, key, { value: randomJson(rng), enumerable: true, writable: true, configurable: true });
    } else if (mutation === 'broken' && names.length > 0) {
      const name = rng.pick(names);
      out[name] = brokenValue(doc, rng, props[name]!);
    } else if (names.length > 0) {
      out[rng.pick(names)] = deepValue(rng, rng.int(50, 1000));
    }
  }
  return out;
}

// ---------------------------------------------------------------- request generators

interface Pools {
  ids: string[];
}

function idSegment(rng: Rng, pools: Pools): string {
  return rng.weighted<() => string>([
    [30, () => rng.pick(pools.ids)],
    [20, () => rng.string(ID_ALPHABET, 1, 30)],
    [30, () => encodeComponent(rng.pick(NASTY_STRINGS.filter((s) => s.length > 0)))],
    [8, () => encodeComponent(rng.pick(['i'.repeat(200), 'i'.repeat(201), 'i'.repeat(3000), 'cancel', 'wait', 'logs']))],
    [12, () => rng.pick(['%2F', 'a%2Fb', '..', '.', '%2e%2e', '%ZZ', '%E0%A4%A', '%00', '%252F', '%C0%AF', '%FF%FE', '%ED%A0%80', 'a%20b', 'a+b', ';x', 'x;y=1'])],
  ])();
}

function queryValue(doc: OpenApiDoc, rng: Rng, name: string, raw: JsonSchema, pools: Pools): string {
  const schema = resolveSchema(doc, raw);
  if (name === 'cursor' && rng.chance(0.5)) return Buffer.from(`l1:${rng.pick(pools.ids)}`, 'utf8').toString('base64url');
  if (rng.chance(0.65)) {
    if (schema.type === 'boolean') return rng.pick(['true', 'false', '1', '0']);
    if (schema.type === 'array') {
      const items = resolveSchema(doc, (schema.items ?? {}) as JsonSchema);
      const members = Array.isArray(items.enum) ? (items.enum as string[]) : ['x'];
      return Array.from({ length: rng.int(1, 3) }, () => rng.pick(members)).join(',');
    }
    const value = validValue(doc, rng, schema);
    return typeof value === 'string' ? value : JSON.stringify(value);
  }
  const invalid = ['', 'abc', '-1', '1.5', '1e400', 'NaN', 'Infinity', '0x10', ' 1', '+1', '1,2', '9'.repeat(400), 'true', 'maybe', 'TRUE', 'pending', 'BOGUS', ',', 'PENDING,,RUNNING', 'PENDING;RUNNING', '\u0661', ...NASTY_STRINGS];
  if (typeof schema.minimum === 'number') invalid.push(String(schema.minimum - 1));
  if (typeof schema.maximum === 'number') invalid.push(String(schema.maximum + 1));
  return rng.pick(invalid);
}

function queryString(doc: OpenApiDoc, rng: Rng, op: DocOperation, pools: Pools): string {
  const parts: string[] = [];
  for (const p of op.parameters.filter((x) => x.in === 'query')) {
    if (!rng.chance(0.6)) continue;
    const value = queryValue(doc, rng, p.name, p.schema, pools);
    parts.push(`${p.name}=${encodeComponent(value)}`);
    if (rng.chance(0.05)) parts.push(`${p.name}=${encodeComponent(queryValue(doc, rng, p.name, p.schema, pools))}`);
  }
  if (rng.chance(0.12)) {
    const key = rng.pick(['bogus', '__proto__', 'constructor', 'toString', '', 'limit[]', 'LIMIT', 'follow', 'timeout', 'tail', 'a b', rng.pick(NASTY_STRINGS)]);
    parts.push(`${encodeComponent(key)}=${encodeComponent(rng.pick(['1', 'x', '']))}`);
  }
  if (rng.chance(0.04)) parts.push(rng.pick(['%ZZ=1', '&&', '=', 'a=b=c', 'flag', '%00=%00', '+=+']));
  for (let i = parts.length - 1; i > 0; i--) {
    const j = rng.int(0, i);
    [parts[i], parts[j]] = [parts[j]!, parts[i]!];
  }
  return parts.length === 0 ? '' : `?${parts.join('&')}`;
}

function headersFor(rng: Rng, op: DocOperation | undefined): { headers: Record<string, string>; valid: boolean } {
  const headers: Record<string, string> = {};
  let valid = true;
  const version = rng.weighted<string | undefined>([
    [55, undefined],
    [33, String(API_VERSION)],
    [12, rng.pick(INVALID_VERSIONS)],
  ]);
  if (version !== undefined) {
    headers[API_VERSION_HEADER] = version;
    if (version !== String(API_VERSION) && op?.template !== '/api/health') valid = false;
  }
  const identity = rng.weighted<'none' | 'valid' | 'invalid'>([
    [55, 'none'],
    [33, 'valid'],
    [12, 'invalid'],
  ]);
  if (identity === 'valid') Object.assign(headers, rng.pick(VALID_IDENTITIES));
  if (identity === 'invalid') {
    Object.assign(headers, rng.pick(INVALID_IDENTITIES));
    valid = false;
  }
  if (op?.route.operation !== undefined || rng.chance(0.05)) {
    const key = rng.weighted<'none' | 'valid' | 'invalid'>([
      [55, 'none'],
      [25, 'valid'],
      [20, 'invalid'],
    ]);
    if (key === 'valid') headers[IDEMPOTENCY_KEY_HEADER] = rng.pick(VALID_KEYS);
    if (key === 'invalid') {
      headers[IDEMPOTENCY_KEY_HEADER] = rng.pick(INVALID_KEYS);
      if (op?.route.operation !== undefined) valid = false;
    }
  }
  return { headers, valid };
}

/** The daemon's view of a body, computed here without the daemon: empty is {}, then size, media type, JSON. */
function viewOf(body: Buffer | undefined, contentType: string | undefined): BodyView {
  const bytes = body ?? Buffer.alloc(0);
  if (bytes.length > MAX_BODY) return { kind: 'reject', why: 'over the body limit' };
  if (bytes.length === 0) return { kind: 'json', value: {} };
  if (contentType === undefined || REJECTED_TYPES.includes(contentType)) return { kind: 'reject', why: `content-type ${contentType ?? '(none)'}` };
  if (!ACCEPTED_TYPES.includes(contentType)) return { kind: 'unknown' };
  try {
    return { kind: 'json', value: JSON.parse(bytes.toString('utf8')) as unknown };
  } catch {
    return { kind: 'reject', why: 'not JSON' };
  }
}

function bodyFor(doc: OpenApiDoc, rng: Rng, op: DocOperation): { body?: Buffer; contentType?: string; chunked?: boolean } {
  const schema = op.bodySchema;
  if (schema === undefined) {
    // Routes without a body: sometimes send one anyway; it must be ignored, not crash anything.
    if (!rng.chance(0.1)) return {};
    return { body: Buffer.from(JSON.stringify(randomJson(rng))), contentType: 'application/json' };
  }
  const accepted = (): string => rng.weighted<string>([[80, 'application/json'], [20, rng.pick(ACCEPTED_TYPES)]]);
  const valid = (): Record<string, Json> => validValue(doc, rng, schema) as Record<string, Json>;
  const form = rng.weighted<string>([
    [48, 'mutated'],
    [16, 'valid'],
    [6, 'non-object'],
    [4, 'deep'],
    [5, 'truncated'],
    [4, 'garbage'],
    [4, 'empty'],
    [4, 'wrong-type'],
    [3, 'too-large'],
    [3, 'odd-json'],
    [3, 'chunked'],
  ]);
  const json = (value: unknown): Buffer => Buffer.from(JSON.stringify(value));
  switch (form) {
    case 'valid':
      return { body: json(valid()), contentType: accepted() };
    case 'mutated':
      return { body: json(mutateObject(doc, rng, schema, valid())), contentType: accepted() };
    case 'non-object':
      return { body: json(rng.pick<Json>([[], [valid()], 'str', 42, null, true, 0, ''])), contentType: accepted() };
    case 'deep': {
      const depth = rng.int(500, 2500);
      return { body: json(deepValue(rng, depth)), contentType: 'application/json' };
    }
    case 'truncated': {
      const text = JSON.stringify(valid());
      return { body: Buffer.from(text.slice(0, rng.int(0, Math.max(0, text.length - 1)))), contentType: 'application/json' };
    }
    case 'garbage':
      return { body: rng.bytes(rng.int(1, 300)), contentType: rng.chance(0.7) ? 'application/json' : rng.pick(REJECTED_TYPES) };
    case 'empty':
      return rng.chance(0.5) ? {} : { body: Buffer.alloc(0), contentType: rng.pick([...ACCEPTED_TYPES, ...REJECTED_TYPES]) };
    case 'wrong-type':
      return rng.chance(0.2) ? { body: json(valid()) } : { body: json(valid()), contentType: rng.pick(REJECTED_TYPES) };
    case 'too-large': {
      const pad = 'p'.repeat(MAX_BODY + rng.int(1, 4096));
      return { body: json({ ...valid(), pad }), contentType: 'application/json', chunked: rng.chance(0.5) };
    }
    case 'odd-json': {
      const text = JSON.stringify(valid());
      const odd = rng.pick([
        `\ufeff${text}`,
        `${text} trailing`,
        `${text}${text}`,
        `/* c */ ${text}`,
        `{"sleep": 1e999}`,
        `{"sleep": -0}`,
        `{"sleep": 1, "sleep": "x"}`,
        `{"sleep": 0x10}`,
        `{"ids": ["a",]}`,
        `{"fail": "\\ud800"}`,
        `{"fail": "a\\u0000b"}`,
        ` \n\t${text}\n `,
        `"${'\\\\'.repeat(50)}"`,
      ]);
      return { body: Buffer.from(odd), contentType: 'application/json' };
    }
    default:
      return { body: json(rng.chance(0.5) ? valid() : mutateObject(doc, rng, schema, valid())), contentType: 'application/json', chunked: true };
  }
}

function concretePath(rng: Rng, template: string, pools: Pools): { path: string; params: Record<string, string> } {
  const params: Record<string, string> = {};
  const path = template.replace(/\{([^}]+)\}/g, (_m, name: string) => {
    const segment = idSegment(rng, pools);
    params[name] = decodeSegment(segment);
    return segment;
  });
  return { path, params };
}

function schemaCase(doc: OpenApiDoc, rng: Rng, index: number, op: DocOperation, pools: Pools): FuzzCase {
  const { path, params } = concretePath(rng, op.template, pools);
  const query = queryString(doc, rng, op, pools);
  const { headers, valid } = headersFor(rng, op);
  const { body, contentType, chunked } = bodyFor(doc, rng, op);
  if (contentType !== undefined) headers['content-type'] = contentType;
  const req: WireRequest = { method: op.method, path: path + query, headers, ...(body !== undefined ? { body } : {}), ...(chunked ? { chunked } : {}) };
  return { index, kind: 'schema', req, op, params, body: op.bodySchema === undefined ? { kind: 'unknown' } : viewOf(body, contentType), headersValid: valid };
}

const OTHER_METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'HEAD'];

function methodCase(doc: OpenApiDoc, rng: Rng, index: number, ops: DocOperation[], pools: Pools): FuzzCase {
  const op = rng.pick(ops);
  const { path } = concretePath(rng, op.template, pools);
  const method = rng.pick(OTHER_METHODS.filter((m) => m !== op.method));
  const pathOnly = path.split('?')[0]!;
  const allow = [...new Set(ops.filter((o) => templateRegex(o.template).test(pathOnly)).map((o) => o.method))];
  const { headers, valid } = headersFor(rng, undefined);
  const withBody = method !== 'GET' && method !== 'HEAD' && rng.chance(0.5);
  if (withBody) headers['content-type'] = 'application/json';
  const req: WireRequest = { method, path, headers, ...(withBody ? { body: Buffer.from(JSON.stringify(randomJson(rng))) } : {}) };
  return { index, kind: 'method', req, allow, body: { kind: 'unknown' }, headersValid: valid };
}

function pathCase(rng: Rng, index: number, pools: Pools): FuzzCase {
  const id = rng.pick(pools.ids);
  const path = rng.pick([
    '/api/v1/',
    '/api/v1',
    '/api',
    '/',
    '/api/v0/requests',
    `/api/v${API_VERSION + 1}/ping`,
    '/API/health',
    '/api/v1/PING',
    '/api/v1/ping/',
    '/api/v1//ping',
    '//api/v1/requests',
    '/api/v1/%70ing',
    '/api/v1/ping%00',
    '/api/v1/requests/',
    `/api/v1/requests/${id}/`,
    `/api/v1/requests/${id}/wait/extra`,
    `/api/v1/requests/${id}/logs/..`,
    '/api/v1/requests//wait',
    '/api/v1/server',
    '/api/v1/server/logs/x',
    '/api/health/x',
    '/api/v1/openapi.yaml',
    '/dashboard/..%2F..%2Fpackage.json',
    '/dashboard/%2e%2e/%2e%2e/package.json',
    '/dashboard/../../../etc/passwd',
    '/dashboard/nope.js',
    '/dashboard/%ZZ',
    `/${'x'.repeat(rng.int(100, 4000))}`,
  ]);
  const method = rng.pick(['GET', 'POST', 'DELETE']);
  const { headers } = headersFor(rng, undefined);
  return { index, kind: 'path', req: { method, path, headers }, body: { kind: 'unknown' }, headersValid: false };
}

function abortCase(rng: Rng, index: number, ops: DocOperation[]): FuzzCase {
  const op = rng.pick(ops.filter((o) => o.method === 'POST'));
  const declared = rng.int(10, MAX_BODY);
  const sent = Buffer.from('{"ids": ["a", "b", "c", "d"], "sleep": 1, "x": "'.slice(0, rng.int(0, Math.min(declared - 1, 40))));
  return { index, kind: 'abort', req: { method: 'POST', path: op.template, headers: {} }, body: { kind: 'unknown' }, headersValid: false, abort: { declared, sent } };
}

function generate(doc: OpenApiDoc, ops: DocOperation[], pools: Pools, seed: number, count: number): FuzzCase[] {
  const rng = new Rng(seed);
  const cases: FuzzCase[] = [];
  let next = 0;
  for (let i = 0; i < count; i++) {
    const kind = rng.weighted<FuzzCase['kind']>([
      [86, 'schema'],
      [7, 'method'],
      [5, 'path'],
      [1, 'abort'],
    ]);
    if (kind === 'schema') {
      cases.push(schemaCase(doc, rng, i, ops[next % ops.length]!, pools));
      next += 1;
    } else if (kind === 'method') cases.push(methodCase(doc, rng, i, ops, pools));
    else if (kind === 'path') cases.push(pathCase(rng, i, pools));
    else cases.push(abortCase(rng, i, ops));
  }
  return cases;
}

// ---------------------------------------------------------------- oracles

/** The query object the daemon's router builds: URLSearchParams, repeated keys joined with commas, own keys only. */
function queryOf(path: string): Record<string, unknown> {
  const at = path.indexOf('?');
  const out = Object.create(null) as Record<string, unknown>;
  if (at < 0) return out;
  const search = new URLSearchParams(path.slice(at + 1));
  for (const key of new Set(search.keys())) out[key] = search.getAll(key).join(',');
  return out;
}

function installSpecOk(spec: string): boolean {
  try {
    parseInstallSpec(spec);
    return true;
  } catch {
    return false;
  }
}

function zodOk(schema: z.ZodType | undefined, value: unknown): boolean {
  return schema === undefined || schema.safeParse(value).success;
}

/** Rules beyond the schemas that the daemon also enforces. */
function semanticallyValid(c: FuzzCase, query: Record<string, unknown>): boolean {
  // A login link's code is a secret the daemon issued: a generated one is never valid.
  if (c.op?.id === 'openSession') return false;
  // An upload manifest is checked as a whole (paths, duplicates, sizes against chunks) beyond its schema.
  if (c.op?.id === 'createUpload' && c.body.kind === 'json' && manifestProblems(c.body.value, { maxFiles: 100_000, maxBytes: 8 * 1024 ** 3 }).length > 0) return false;
  if (c.op?.id === 'cancelRequests' && c.body.kind === 'json') {
    const body = c.body.value as { ids?: string[]; all?: boolean };
    if (!(body.all === true || (body.ids?.length ?? 0) > 0)) return false;
  }
  // Package specs must be npm names or tarball paths in shape (the daemon says exactly why not).
  if (c.op?.id === 'installPlugins' && c.body.kind === 'json') {
    const { packages } = c.body.value as { packages?: string[] };
    if (!(packages ?? []).every((spec) => installSpecOk(spec))) return false;
  }
  if (typeof query.cursor === 'string') {
    const raw = Buffer.from(query.cursor, 'base64url').toString('utf8');
    if (!raw.startsWith('l1:') || raw.length === 3) return false;
  }
  return true;
}

function check(c: FuzzCase, a: WireAnswer, seenIds: Set<string>): string[] {
  const problems: string[] = [];
  const { req } = c;
  // npm (offline here) finds no generated package: an upstream failure the daemon reports as 502, not a fault of its own.
  const npmFailed = c.op?.id === 'installPlugins' && a.status === 502 && a.text.includes('PLUGIN_INSTALL_FAILED');
  if (a.status >= 500 && !npmFailed) problems.push(`answered ${a.status}`);
  if (req.path.startsWith('/api/') && a.headers[API_VERSION_HEADER] !== String(API_VERSION)) problems.push(`no ${API_VERSION_HEADER} header`);
  const headOnly = req.method === 'HEAD';
  if (!headOnly && a.status >= 400) {
    const problem = errorBodyProblem(a.status, a.text);
    if (problem) problems.push(problem);
  }
  // Version and identity headers are checked before routing, so only a clean request must get the 405.
  if (c.kind === 'method' && c.headersValid && !headOnly && !c.allow!.includes(req.method)) {
    if (a.status !== 405) problems.push(`wrong method answered ${a.status}, want 405`);
    const allow = String(a.headers.allow ?? '').split(/,\s*/).filter(Boolean).sort();
    if (JSON.stringify(allow) !== JSON.stringify([...c.allow!].sort())) problems.push(`Allow: ${JSON.stringify(a.headers.allow)}, want ${c.allow!.join(', ')}`);
  }
  if (c.kind === 'path' && (/"name":\s*"sky-monorepo"/.test(a.text) || /root:.*:0:0:/.test(a.text))) problems.push('a file outside dashboard-static was served');
  if (c.kind !== 'schema' || headOnly) return problems;

  const op = c.op!;
  const route = op.route;
  if (!op.statuses.has(a.status)) problems.push(`status ${a.status} is not documented for ${op.method} ${op.template} (documented: ${[...op.statuses].join(', ')})`);
  const query = queryOf(req.path);
  const paramsOk = zodOk(route.params, c.params);
  const queryOk = zodOk(route.query, query);
  const bodyOk = route.body === undefined || (c.body.kind === 'json' && zodOk(route.body, c.body.value));
  const ok2xx = a.status >= 200 && a.status < 300;
  if (ok2xx) {
    if (!paramsOk) problems.push(`accepted invalid path parameters ${JSON.stringify(c.params)}`);
    if (!queryOk) problems.push(`accepted an invalid query ${JSON.stringify(query)}`);
    if (route.body !== undefined && c.body.kind === 'reject') problems.push(`accepted a body the daemon must reject (${c.body.why})`);
    if (route.body !== undefined && c.body.kind === 'json' && !zodOk(route.body, c.body.value)) problems.push('accepted a body its schema rejects');
    const success = route.success.body;
    if (a.status !== route.success.status) problems.push(`success status ${a.status}, the table says ${route.success.status}`);
    if (success === 'event-stream') {
      // A log route asked for format=text answers the whole log as a plain-text download instead.
      const want = query.format === 'text' ? 'text/plain' : 'text/event-stream';
      if (!String(a.headers['content-type']).startsWith(want)) problems.push(`stream answered with content-type ${String(a.headers['content-type'])}`);
    } else if (success === 'metrics-text') {
      // Prometheus' text exposition format, every series labelled with the replica.
      if (!String(a.headers['content-type']).startsWith('text/plain')) problems.push(`metrics answered with content-type ${String(a.headers['content-type'])}`);
      if (!/^sky_requests_total\{.*replica="/m.test(a.text) && !/^# TYPE sky_requests_total counter$/m.test(a.text)) problems.push('the metrics do not expose sky_requests_total');
    } else if (success === 'state-file') {
      // The state export: a sky-state file (JSON lines, or gzip with gzip=true).
      const want = query.gzip === 'true' || query.gzip === '1' ? 'application/gzip' : 'application/x-ndjson';
      if (!String(a.headers['content-type']).startsWith(want)) problems.push(`state export answered with content-type ${String(a.headers['content-type'])}`);
    } else {
      let json: unknown;
      try {
        json = JSON.parse(a.text);
      } catch {
        problems.push('2xx answer is not JSON');
      }
      if (success === 'openapi') {
        if ((json as { openapi?: unknown } | undefined)?.openapi !== '3.1.0') problems.push('openapi.json is not OpenAPI 3.1.0');
      } else if (success === 'redirect') {
        problems.push('a redirect route answered 2xx');
      } else if (json !== undefined) {
        const parsed = success.safeParse(json);
        if (!parsed.success) problems.push(`2xx answer does not match its schema: ${parsed.error.message.slice(0, 300)}`);
      }
      if (route.operation !== undefined) {
        const id = (json as { requestId?: unknown } | undefined)?.requestId;
        if (typeof id !== 'string' || a.headers[REQUEST_ID_HEADER] !== id) problems.push(`${REQUEST_ID_HEADER} ${String(a.headers[REQUEST_ID_HEADER])} differs from body requestId ${String(id)}`);
        else seenIds.add(id);
      }
    }
  }
  if (c.headersValid && paramsOk && queryOk && bodyOk && semanticallyValid(c, query) && !ok2xx) {
    let code = '';
    try {
      code = (JSON.parse(a.text) as { error: { code: string } }).error.code;
    } catch {
      // reported above
    }
    // Valid by the schema yet refused for what it names: a request, cluster or job that does not
    // exist, or a task (typed as any JSON in the schema) that the task validator rejects.
    const notFoundOk = ['REQUEST_NOT_FOUND', 'CLUSTER_NOT_FOUND', 'JOB_NOT_FOUND', 'IDEMPOTENCY_CONFLICT', 'FORBIDDEN', 'USER_NOT_FOUND', 'USER_EXISTS', 'TOKEN_NOT_FOUND', 'WORKSPACE_NOT_FOUND', 'WORKSPACE_EXISTS', 'WORKSPACE_IN_USE', 'UPLOAD_NOT_FOUND', 'UPLOAD_INCOMPLETE', 'MANAGED_JOB_NOT_FOUND', 'SERVICE_NOT_FOUND', 'SERVICE_EXISTS'].includes(code);
    const taskOk = ['submit.launch', 'submit.exec', 'submit.jobs_launch', 'submit.serve_up', 'submit.serve_update'].includes(op.id) && ['TASK_INVALID', 'TASK_UNSUPPORTED', 'SERVER_PATH_REFUSED'].includes(code);
    // A chunk's bytes must have its sha256, and storing may meet the user's quota; a user who owns
    // clusters is deleted only with transfer_to or down.
    const otherOk =
      (op.id === 'createUpload' && code === 'UPLOAD_QUOTA_EXCEEDED') ||
      (op.id === 'putChunk' && ['CHUNK_HASH_MISMATCH', 'UPLOAD_QUOTA_EXCEEDED'].includes(code)) ||
      (op.id === 'deleteUser' && code === 'USER_OWNS_CLUSTERS') ||
      // The fuzzed daemon is a personal one (auth none): it offers no password login.
      (op.id === 'passwordSession' && code === 'LOGIN_METHOD_DISABLED') ||
      // Cluster names sky-jobs-* belong to managed jobs' clusters.
      (op.id === 'submit.launch' && code === 'VALIDATION_FAILED' && a.text.includes('is reserved')) ||
      // A generated tarball path names no file on the daemon's machine.
      (op.id === 'installPlugins' && code === 'VALIDATION_FAILED' && a.text.includes('does not exist')) ||
      // Nor does npm (offline here) know a generated package name.
      (op.id === 'installPlugins' && code === 'PLUGIN_INSTALL_FAILED');
    if (!notFoundOk && !taskOk && !otherOk) problems.push(`rejected valid input with ${a.status} ${code}: ${a.text.slice(0, 300)}`);
  }
  return problems;
}

// ---------------------------------------------------------------- the run

describe('REST API fuzz (seeded, bounded, one real daemon)', () => {
  let daemon: DaemonHandle | undefined;
  let agent: Agent | undefined;

  before(async () => {
    daemon = await startDaemon({
      config: `requests: {max_body_bytes: ${MAX_BODY}, max_wait_seconds: ${MAX_WAIT_SECONDS}}\nshutdown: {drain_seconds: 1}\n`,
      // sky plugins install runs npm: offline, a generated package name fails at once, without the network.
      env: { npm_config_offline: 'true' },
    });
    agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY });
  });

  after(async () => {
    agent?.destroy();
    if (daemon) {
      await daemon.stop(5_000);
      removeHome(daemon.home);
    }
    await killAllDaemons();
  });

  it(`never answers 5xx, keeps the error contract, never hangs (seed ${SEED}, ${ITERATIONS} requests)`, async (t) => {
    const d = daemon!;
    const call = (req: WireRequest): Promise<WireAnswer> => send(d.url, req, { timeoutMs: REQUEST_TIMEOUT_MS, agent: agent! });
    const json = (a: WireAnswer): Record<string, unknown> => JSON.parse(a.text) as Record<string, unknown>;

    const docAnswer = await call({ method: 'GET', path: '/api/v1/openapi.json', headers: {} });
    assert.equal(docAnswer.status, 200);
    const doc = json(docAnswer) as unknown as OpenApiDoc;
    const ops = operationsOf(doc);
    assert.equal(ops.length, ROUTE_LIST.length, 'the fuzzer covers every route of the table');

    // Requests in every state, so generated ids sometimes hit real records.
    const submit = async (body: unknown): Promise<string> => {
      const a = await call({ method: 'POST', path: '/api/v1/ping', headers: { 'content-type': 'application/json' }, body: Buffer.from(JSON.stringify(body)) });
      assert.equal(a.status, 202, a.text);
      return json(a).requestId as string;
    };
    const succeeded = await submit({ sleep: 0.01 });
    const failed = await submit({ fail: 'planned failure' });
    const running = await submit({ sleep: 600, lane: 'long' });
    const cancelled = await submit({ sleep: 600 });
    assert.equal((await call({ method: 'POST', path: '/api/v1/requests/cancel', headers: { 'content-type': 'application/json' }, body: Buffer.from(JSON.stringify({ ids: [cancelled] })) })).status, 200);
    for (const id of [succeeded, failed, cancelled]) await call({ method: 'GET', path: `/api/v1/requests/${id}/wait?timeout=1`, headers: {} });
    const pools: Pools = { ids: [succeeded, failed, running, cancelled] };

    const cases = generate(doc, ops, pools, SEED, ITERATIONS).filter((c) => ONLY_CASE === undefined || c.index === ONLY_CASE);
    const failures: Failure[] = [];
    const statuses = new Map<string, number>();
    const seenIds = new Set<string>();
    const started = Date.now();
    let sent = 0;
    let cursor = 0;
    const worker = async (): Promise<void> => {
      while (cursor < cases.length && Date.now() - started < BUDGET_MS) {
        const c = cases[cursor++]!;
        sent += 1;
        if (c.kind === 'abort') {
          await abortedUpload(d.url, c.req.path, c.abort!.declared, c.abort!.sent);
          continue;
        }
        try {
          const answer = await call(c.req);
          let code = c.req.method === 'HEAD' ? ' (HEAD)' : '';
          if (answer.status >= 400 && c.req.method !== 'HEAD') {
            try {
              code = ` ${(JSON.parse(answer.text) as { error: { code: string } }).error.code}`;
            } catch {
              code = ' (no JSON)';
            }
          }
          const label = `${answer.status}${code}`;
          statuses.set(label, (statuses.get(label) ?? 0) + 1);
          for (const problem of check(c, answer, seenIds)) failures.push({ index: c.index, problem, req: c.req });
        } catch (err) {
          const problem = err instanceof HangError ? `hung: ${err.message}` : `transport error: ${(err as Error).message}`;
          failures.push({ index: c.index, problem, req: c.req });
        }
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, () => worker()));
    const elapsed = Date.now() - started;

    t.diagnostic(`seed ${SEED}: ${sent} of ${cases.length} requests in ${elapsed} ms, ${seenIds.size} requests submitted`);
    t.diagnostic(`answers: ${[...statuses.entries()].sort().map(([k, v]) => `${k}×${v}`).join(', ')}`);
    if (sent < cases.length) t.diagnostic(`time budget of ${BUDGET_MS} ms reached: ${cases.length - sent} requests not sent`);

    // The daemon is still there and healthy.
    const health = await call({ method: 'GET', path: '/api/health', headers: {} });
    assert.equal(health.status, 200, `health after fuzzing: ${health.status} ${health.text}`);
    assert.equal(json(health).status, 'healthy');
    assert.equal(d.child.exitCode, null, `the daemon exited with ${d.child.exitCode}: ${d.stderr()}`);
    assert.equal(d.child.signalCode, null, `the daemon was killed by ${d.child.signalCode}`);
    for (const id of [...pools.ids, ...[...seenIds].slice(0, 20)]) {
      const record = await call({ method: 'GET', path: `/api/v1/requests/${id}`, headers: {} });
      assert.equal(record.status, 200, `request ${id} was lost: ${record.status} ${record.text}`);
    }

    // Nothing the fuzzer sent is an internal error in the daemon's own log.
    const logFile = join(d.home, '.sky/api_server/server.log');
    const errors = existsSync(logFile)
      ? readFileSync(logFile, 'utf8').split('\n').filter((line) => /"level":(5\d|6\d)/.test(line))
      : [];
    if (errors.length > 0) {
      const first = errors.slice(0, 3).map((line) => line.slice(0, 400)).join('\n    ');
      failures.push({ index: -1, problem: `${errors.length} error-level entries in server.log, first:\n    ${first}`, req: { method: '-', path: '-', headers: {} } });
    }

    if (failures.length > 0) {
      const byCase = new Map<number, Failure[]>();
      for (const f of failures) byCase.set(f.index, [...(byCase.get(f.index) ?? []), f]);
      const shown = [...byCase.entries()].slice(0, 8).map(([index, list]) => {
        const replay = index >= 0 ? `  replay: SKY_FUZZ_SEED=${SEED} SKY_FUZZ_CASE=${index} node scripts/test.mjs test/integration/api-fuzz.test.ts\n` : '';
        return `#${index}: ${list.map((f) => f.problem).join('; ')}\n${replay}${describeRequest(list[0]!.req).replace(/^/gm, '  ')}`;
      });
      assert.fail(`${byCase.size} failing inputs (seed ${SEED}):\n\n${shown.join('\n\n')}`);
    }
  });
});

describe('authorization fuzz (auth on, several users on each other\'s resources, seeded)', () => {
  let daemon: DaemonHandle | undefined;

  before(async () => {
    daemon = await startTeamDaemon([]);
  });

  after(async () => {
    await daemon?.stop(5_000);
    if (daemon) removeHome(daemon.home);
    await killAllDaemons();
  });

  it(`refuses exactly what the oracle says must be refused, audits it, and hides what it must (seed ${SEED})`, async (t) => {
    const d = daemon!;
    const extraSteps = Number(process.env.SKY_FUZZ_AUTHZ_STEPS ?? 60);
    const result = await fuzzAuthorization({ url: d.url, admin: TEAM_ADMIN, prefix: `f${(SEED % 1_000_000).toString(36)}`, seed: SEED, extraSteps });
    t.diagnostic(`seed ${SEED}: ${result.steps} moves, ${result.denials} refusals (each audited); launch tasks: ${result.tasks.generated} generated, ${result.tasks.valid} valid, ${result.tasks.succeeded} launched`);
    t.diagnostic(`moves: ${Object.entries(result.moves).map(([k, v]) => `${k}×${v}`).join(', ')}`);
    assert.equal(result.tasks.valid, result.tasks.generated, 'every generated task is valid');
    const health = await http(`${d.url}/api/health`);
    assert.equal(health.status, 200, 'the daemon is healthy after the fuzz');
    assert.deepEqual(result.problems, [], `authorization fuzz found problems; replay: SKY_FUZZ_SEED=${SEED} node scripts/test.mjs test/integration/api-fuzz.test.ts`);
  });
});
