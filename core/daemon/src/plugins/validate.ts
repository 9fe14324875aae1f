import semver from 'semver';
import { PLUGIN_BRAND, type ConfigSchema, type DriverPlugin } from '@sky/plugin-api';
import { formatPath, SkyError } from '@sky/protocol';
import { describeThrown } from './thrown.js';

type Issue = { readonly message: string; readonly path?: ReadonlyArray<PropertyKey | { readonly key: PropertyKey }> };

/** What a loaded package exposes as its plugin: the default export, or a named `plugin` export. */
export function pickExport(mod: Record<string, unknown>): unknown {
  const isBranded = (v: unknown): boolean =>
    (typeof v === 'object' || typeof v === 'function') && v !== null && (v as Record<string, unknown>)[PLUGIN_BRAND] === true;
  if (isBranded(mod['default'])) return mod['default'];
  if (isBranded(mod['plugin'])) return mod['plugin'];
  return mod['default'] ?? mod['plugin'];
}

function describeValue(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return `a ${typeof value}`;
}

/** Check the brand, kind and shape of a package's export; the result is a driver plugin or a PLUGIN_INVALID error. */
export function checkDriverPlugin(id: string, packageName: string, entry: string, exported: unknown): DriverPlugin<unknown> {
  const invalid = (what: string, hint: string): SkyError =>
    new SkyError('PLUGIN_INVALID', `drivers.${id}: ${packageName} (${entry}) ${what}`, {
      hint,
      details: { plugin: id, package: packageName, entry },
    });
  const authorHint =
    `Check that drivers.${id} names a sky driver plugin; plugin authors write ` +
    `\`export default defineDriverPlugin({ name, apiVersion, configSchema, init })\` from @sky/plugin-api.`;

  if ((typeof exported !== 'object' && typeof exported !== 'function') || exported === null) {
    throw invalid(`is not a sky plugin: its default export is ${describeValue(exported)}`, authorHint);
  }
  const candidate = exported as Record<string, unknown>;
  if (candidate[PLUGIN_BRAND] !== true) {
    throw invalid(`is not a sky plugin: its export lacks the brand '${PLUGIN_BRAND}': true`, authorHint);
  }
  const kind = candidate['kind'];
  if (kind !== 'driver') {
    const what =
      kind === 'store'
        ? `is a store plugin, but is configured as a driver under drivers.${id}`
        : `declares kind ${JSON.stringify(kind) ?? 'undefined'}, but drivers.${id} needs kind 'driver'`;
    throw invalid(what, kind === 'store' ? `Configure ${packageName} under store:, not drivers:.` : authorHint);
  }
  if (typeof candidate['init'] !== 'function') {
    throw invalid(`is not a usable driver plugin: init is ${describeValue(candidate['init'])}, not a function`, authorHint);
  }
  if (typeof candidate['apiVersion'] !== 'string') {
    throw invalid(
      `is not a usable driver plugin: apiVersion is ${describeValue(candidate['apiVersion'])}, not a semver range string`,
      authorHint,
    );
  }
  const schema = candidate['configSchema'];
  if (schema !== undefined) {
    const standard: unknown = typeof schema === 'object' && schema !== null ? (schema as Record<string, unknown>)['~standard'] : undefined;
    const validate: unknown = typeof standard === 'object' && standard !== null ? (standard as Record<string, unknown>)['validate'] : undefined;
    if (typeof validate !== 'function') {
      throw invalid(
        `is not a usable driver plugin: configSchema is not a Standard Schema (no ['~standard'].validate function)`,
        `Plugin authors: pass a zod/valibot/arktype schema or a { '~standard': { version: 1, vendor, validate } } object as configSchema.`,
      );
    }
  }
  return exported as DriverPlugin<unknown>;
}

/** The first plugin API version: @sky/plugin-api's package version is the plugin API version, from 1.0.0 on. */
const FIRST_PLUGIN_API = '1.0.0';

/** Refuse a plugin whose apiVersion range doesn't include the daemon's plugin-API version, saying which side to upgrade. */
export function checkApiVersion(id: string, packageName: string, range: string, provided: string): void {
  const major = semver.valid(provided) === null ? provided : `${semver.major(provided)}.x`;
  const details = { plugin: id, package: packageName, required: range, provided };
  if (semver.validRange(range) === null) {
    throw new SkyError(
      'PLUGIN_API_MISMATCH',
      `drivers.${id}: ${packageName} declares plugin API range ${JSON.stringify(range)}, which is not a valid semver range; ` +
        `this daemon provides ${provided}: install a ${packageName} release built for ${major}`,
      { hint: `Install a ${packageName} release built for plugin API ${major}.`, details },
    );
  }
  if (semver.satisfies(provided, range)) return;

  // Plugin API versions are @sky/plugin-api package versions and start at 1.0.0: a range that
  // admits nothing from 1.0.0 on (typically the plugin's own 0.x version, or a pre-1.0
  // @sky/plugin-api) is the plugin's mistake, which no upgrade on either side fixes.
  if (!semver.intersects(range, `>=${FIRST_PLUGIN_API}`)) {
    throw new SkyError(
      'PLUGIN_API_MISMATCH',
      `drivers.${id}: ${packageName} declares plugin API range ${JSON.stringify(range)}, but plugin API versions start at ${FIRST_PLUGIN_API}; ` +
        `this daemon provides ${provided}: the plugin's apiVersion is wrong (it must be a range of @sky/plugin-api versions, e.g. "^${semver.valid(provided) === null ? '1.0.0' : `${semver.major(provided)}.0.0`}"), not its own package version`,
      {
        hint: `Report this to the authors of ${packageName}: apiVersion must name the @sky/plugin-api version the plugin is built against (its package major = the plugin API major).`,
        details,
      },
    );
  }

  let fix: string;
  let hint: string;
  if (semver.ltr(provided, range)) {
    fix = `upgrade sky, or install a ${packageName} release built for ${major}`;
    hint = `The plugin is newer than this daemon: upgrade sky, or pin an older ${packageName} built for plugin API ${major}.`;
  } else if (semver.gtr(provided, range)) {
    fix = `upgrade ${packageName} to a release built for ${major}, or run a sky release that provides ${range}`;
    hint = `The plugin is older than this daemon: upgrade ${packageName} (\`npm install ${packageName}@latest\`).`;
  } else {
    fix = `install a ${packageName} release built for ${major}`;
    hint = `Install a ${packageName} release built for plugin API ${major}.`;
  }
  throw new SkyError(
    'PLUGIN_API_MISMATCH',
    `drivers.${id}: ${packageName} needs plugin API ${range}; this daemon provides ${provided}: ${fix}`,
    { hint, details },
  );
}

function issuePath(id: string, path: Issue['path']): string {
  const keys = (path ?? []).map((part) => (typeof part === 'object' && part !== null ? part.key : part));
  const rendered = formatPath(keys.map((k) => (typeof k === 'symbol' ? k.toString() : k)));
  if (rendered.length === 0) return `drivers.${id}`;
  return rendered.startsWith('[') ? `drivers.${id}${rendered}` : `drivers.${id}.${rendered}`;
}

function configInvalid(id: string, packageName: string, what: string, issues: Array<{ path: string; message: string }>): SkyError {
  return new SkyError('PLUGIN_CONFIG_INVALID', `drivers.${id}: invalid config for ${packageName}: ${what}`, {
    hint: `Fix the keys named above in the drivers.${id} block of the daemon config; ${packageName}'s documentation lists its options.`,
    details: { plugin: id, package: packageName, issues },
  });
}

/** Run the plugin's Standard Schema over its config block; the validated value, or PLUGIN_CONFIG_INVALID naming each key. */
export async function validateConfig(
  id: string,
  packageName: string,
  schema: ConfigSchema<unknown> | undefined,
  config: Record<string, unknown>,
): Promise<unknown> {
  if (schema === undefined) return config;
  let result: unknown;
  try {
    result = await schema['~standard'].validate(config);
  } catch (error) {
    throw configInvalid(id, packageName, `its config schema threw while checking drivers.${id} (${describeThrown(error)}), which is a bug in the plugin`, []);
  }
  if (typeof result !== 'object' || result === null) {
    throw configInvalid(id, packageName, `its config schema returned ${describeValue(result)} instead of a result, which is a bug in the plugin`, []);
  }
  const issues: unknown = (result as Record<string, unknown>)['issues'];
  if (issues === undefined) return (result as Record<string, unknown>)['value'];
  const list: ReadonlyArray<Partial<Issue> | null | undefined> = Array.isArray(issues) ? issues : [];
  const lines = list.map((issue) => ({
    path: issuePath(id, Array.isArray(issue?.path) ? issue.path : undefined),
    message: typeof issue?.message === 'string' ? issue.message : 'invalid value',
  }));
  if (lines.length === 0) lines.push({ path: `drivers.${id}`, message: 'rejected by the plugin without a reason' });
  throw configInvalid(id, packageName, lines.map((l) => `${l.path}: ${l.message}`).join('; '), lines);
}
