import { z } from 'zod';
import { ERROR_CATALOGUE } from './wire/errors.js';
import { ErrorBodySchema } from './error-schema.js';
import { API_PREFIX, API_VERSION, API_VERSION_HEADER, IDEMPOTENCY_KEY_HEADER, LOCAL_TOKEN_HEADER, PREFER_HEADER, REQUEST_ID_HEADER, USER_ID_HEADER, USER_NAME_HEADER } from './wire/version.js';
import type { RouteSpec } from './routes.js';

type JsonSchema = Record<string, unknown>;

interface OpenApiDocument {
  openapi: '3.1.0';
  info: { title: string; version: string; description: string };
  paths: Record<string, Record<string, unknown>>;
  components: { schemas: Record<string, JsonSchema> };
}

const REF_PREFIX = '#/components/schemas/';

/** Convert one zod schema, hoisting named sub-schemas into components. */
function convert(schema: z.ZodType, io: 'input' | 'output', components: Record<string, JsonSchema>): JsonSchema {
  const raw = z.toJSONSchema(schema, { io, unrepresentable: 'any' });
  const json = JSON.parse(JSON.stringify(raw).replaceAll('"#/$defs/', `"${REF_PREFIX}`)) as JsonSchema & {
    $defs?: Record<string, JsonSchema>;
  };
  delete json.$schema;
  delete json.id;
  for (const [id, def] of Object.entries(json.$defs ?? {})) components[id] ??= def;
  delete json.$defs;
  const id = schema.meta()?.id;
  if (typeof id === 'string') {
    components[id] ??= json;
    return { $ref: REF_PREFIX + id };
  }
  return json;
}

function parametersFrom(schema: z.ZodType | undefined, where: 'query' | 'path', components: Record<string, JsonSchema>): unknown[] {
  if (schema === undefined) return [];
  const json = convert(schema, 'input', components);
  const props = (json.properties ?? {}) as Record<string, JsonSchema>;
  const required = new Set((json.required as string[] | undefined) ?? []);
  return Object.entries(props).map(([name, prop]) => ({
    name,
    in: where,
    required: where === 'path' || required.has(name),
    schema: prop,
    ...(typeof prop.description === 'string' ? { description: prop.description } : {}),
  }));
}

function errorStatuses(route: RouteSpec): number[] {
  const statuses = new Set<number>([400, 401, 403, 404, 405, 421, 429, 503]);
  if (route.method === 'post' || route.method === 'put' || route.body !== undefined) [413, 415].forEach((s) => statuses.add(s));
  if (route.operation !== undefined) [409, 503].forEach((s) => statuses.add(s));
  for (const s of route.errors ?? []) statuses.add(s);
  return [...statuses].sort();
}

/** Build the OpenAPI 3.1 document from the route table: the same schemas the daemon validates with. */
export function buildOpenApi(routes: readonly RouteSpec[], version: string): OpenApiDocument {
  const components: Record<string, JsonSchema> = {};
  const paths: OpenApiDocument['paths'] = {};
  convert(ErrorBodySchema, 'output', components);
  for (const route of routes) {
    const path = route.path.replace(/:([A-Za-z_]+)/g, '{$1}');
    const responses: Record<string, unknown> = {};
    const { status, body } = route.success;
    if (body === 'event-stream') {
      responses[status] = { description: 'Server-sent events', content: { 'text/event-stream': { schema: { type: 'string' } } } };
    } else if (body === 'redirect') {
      responses[status] = {
        description: 'Redirect (with a Set-Cookie header)',
        headers: { location: { schema: { type: 'string' } }, 'set-cookie': { schema: { type: 'string' } } },
      };
    } else if (body === 'state-file') {
      responses[status] = {
        description: 'A sky-state file: a header line, one JSON line per record, a trailer line (gzip-compressed with gzip=true)',
        content: { 'application/x-ndjson': { schema: { type: 'string' } }, 'application/gzip': { schema: { type: 'string', format: 'binary' } } },
      };
    } else if (body === 'metrics-text') {
      responses[status] = { description: 'Prometheus text exposition format 0.0.4', content: { 'text/plain': { schema: { type: 'string' } } } };
    } else if (body === 'openapi') {
      responses[status] = { description: 'OpenAPI document', content: { 'application/json': { schema: { type: 'object' } } } };
    } else {
      const headers =
        route.operation === undefined ? undefined : { [REQUEST_ID_HEADER]: { schema: { type: 'string' }, description: 'Id of the accepted request.' } };
      responses[status] = {
        description: route.operation === undefined ? 'OK' : 'Accepted: the request is durably stored.',
        ...(headers ? { headers } : {}),
        content: { 'application/json': { schema: convert(body, 'output', components) } },
      };
    }
    for (const code of errorStatuses(route)) {
      responses[code] = { description: 'Error', content: { 'application/json': { schema: { $ref: REF_PREFIX + 'Error' } } } };
    }
    const parameters = [
      ...parametersFrom(route.params, 'path', components),
      ...parametersFrom(route.query, 'query', components),
      { name: API_VERSION_HEADER, in: 'header', required: false, schema: { type: 'integer', const: API_VERSION } },
      { name: LOCAL_TOKEN_HEADER, in: 'header', required: false, description: "The personal daemon's local token (auth mode none): the contents of <state_dir>/local_token, readable only by the daemon's OS account.", schema: { type: 'string' } },
      { name: USER_ID_HEADER, in: 'header', required: false, description: 'With the local token: the id the owner\'s view is named by (the CLI sends its ~/.sky/user_hash).', schema: { type: 'string', pattern: '^[A-Za-z0-9_.-]{1,64}$' } },
      { name: USER_NAME_HEADER, in: 'header', required: false, description: 'Caller display name, with the id header.', schema: { type: 'string', maxLength: 64 } },
      ...(route.operation === undefined
        ? []
        : [
            { name: IDEMPOTENCY_KEY_HEADER, in: 'header', required: false, schema: { type: 'string', maxLength: 200 } },
            {
              name: PREFER_HEADER,
              in: 'header',
              required: false,
              description: 'wait=N (RFC 7240): hold the 202 for up to N seconds (at most requests.max_wait_seconds) until the request has ended; the answer then carries its final status, its job and its error. Preference-Applied names the wait applied.',
              schema: { type: 'string' },
            },
          ]),
    ];
    const operation: Record<string, unknown> = { operationId: route.id, summary: route.summary, 'x-sky-access': route.access, parameters, responses };
    if (route.body !== undefined) {
      operation.requestBody = { required: true, content: { 'application/json': { schema: convert(route.body, 'input', components) } } };
    } else if (route.rawBody !== undefined) {
      operation.requestBody = { required: true, description: route.rawBody.description, content: { [route.rawBody.contentType]: { schema: { type: 'string', format: 'binary' } } } };
    }
    (paths[path] ??= {})[route.method] = operation;
  }
  const codes = Object.entries(ERROR_CATALOGUE)
    .map(([code, { status, summary }]) => `| ${code} | ${status} | ${summary} |`)
    .join('\n');
  return {
    openapi: '3.1.0',
    info: {
      title: 'sky API server',
      version,
      description: `REST API of the sky daemon (prefix ${API_PREFIX}). Errors:\n\n| code | status | meaning |\n|---|---|---|\n${codes}`,
    },
    paths,
    components: { schemas: components },
  };
}
