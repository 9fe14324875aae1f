// resources.infra: `<cloud>[/<region>[/<zone>]]` (aws, aws/us-east-1, aws/*/us-east-1a, local),
// `k8s[/<context>]` and `ssh[/<pool>]`. Cloud names are open-ended: drivers are plugins.
import { describeValue, type Report } from './problems.js';
import type { Infra } from './types.js';

const EXPECTED = 'expected <cloud>[/<region>[/<zone>]] like local, aws/us-east-1, k8s/my-context or ssh/my-pool';
const CLOUD = /^[a-z][a-z0-9_-]*$/;
const PART = /^[A-Za-z0-9][A-Za-z0-9._:-]*$/;
const ALIASES: Record<string, string> = { kubernetes: 'k8s' };
/** Infra whose second part is one name that may itself contain '/' (a kube context, a node pool). */
const NAMED = new Set(['k8s', 'ssh']);
const MAX_LENGTH = 256;

function part(text: string): string | undefined {
  return text === '*' ? undefined : text;
}

/** Parse an infra string; `{}` means "anywhere" (`*`). */
export function parseInfra(value: unknown, report: Report): Infra | undefined {
  if (typeof value !== 'string') {
    report(`${EXPECTED}, got ${describeValue(value)}`);
    return undefined;
  }
  const text = value.trim();
  const bad = (why: string): undefined => {
    report(`${describeValue(value)}: ${why}`);
    return undefined;
  };
  if (text.length === 0) return bad(EXPECTED);
  if (text.length > MAX_LENGTH) return bad(`longer than ${MAX_LENGTH} characters`);
  if (/[\s\u0000-\u001f\u007f]/.test(text)) return bad('must not contain spaces or control characters');
  const slash = text.indexOf('/');
  const head = (slash < 0 ? text : text.slice(0, slash)).toLowerCase();
  const rest = slash < 0 ? undefined : text.slice(slash + 1);
  if (head !== '*' && !CLOUD.test(head)) return bad(`${JSON.stringify(head)} is not a cloud or infra name; ${EXPECTED}`);
  const cloud = part(ALIASES[head] ?? head);
  const infra: Infra = {};
  if (cloud !== undefined) infra.cloud = cloud;
  if (rest === undefined) return infra;
  if (cloud !== undefined && NAMED.has(cloud)) {
    if (rest.length === 0) return bad(`missing the name after '${head}/'`);
    const name = part(rest);
    if (name !== undefined) infra.region = name;
    return infra;
  }
  const parts = rest.split('/');
  if (parts.length > 2) return bad(`too many parts; ${EXPECTED}`);
  for (const p of parts) {
    if (p.length === 0) return bad(`has an empty part; ${EXPECTED}`);
    if (p !== '*' && !PART.test(p)) return bad(`${JSON.stringify(p)} is not a region or zone name`);
  }
  const region = part(parts[0]!);
  const zone = parts[1] === undefined ? undefined : part(parts[1]);
  if (region !== undefined) infra.region = region;
  if (zone !== undefined) infra.zone = zone;
  return infra;
}

/** Back to the YAML form (`aws/us-east-1`, `k8s/ctx`, `*` for an open part); undefined for "anywhere". */
export function formatInfra(infra: Infra): string | undefined {
  const parts = [infra.cloud ?? '*', infra.region ?? '*', infra.zone ?? '*'];
  while (parts.length > 0 && parts[parts.length - 1] === '*') parts.pop();
  return parts.length === 0 ? undefined : parts.join('/');
}

/** The deprecated `cloud` / `region` / `zone` fields as one infra string. */
export function legacyInfraText(cloud: string | undefined, region: string | undefined, zone: string | undefined): string {
  const parts = [cloud ?? '*', region ?? '*', zone ?? '*'];
  while (parts.length > 1 && parts[parts.length - 1] === '*') parts.pop();
  return parts.join('/');
}
