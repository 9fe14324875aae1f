#!/usr/bin/env node
// How many SkyPilot task files `sky launch --dryrun` accepts on this machine.
//
// Usage: node bench/skypilot-acceptance.mjs DIR [--json FILE] [--verbose]
//
// Every *.yaml / *.yml under DIR is taken as a task file (multi-document pipelines included) and
// retargeted to this machine without editing it: `--infra local`, a placeholder value for every
// env or secret the file leaves empty (`--env NAME=… / --secret NAME=…`), and every local path
// it names (workdir, file_mounts sources) created in a scratch directory the CLI runs from (paths
// under ~ in the daemon's throwaway HOME). Then the built CLI runs `sky launch --dryrun` against a
// throwaway daemon with the local driver, and each file is counted as
//   accepted   exit 0 (warnings are listed, by field)
//   refused    a non-zero exit with sky's error; grouped by the field the message names
//   crashed    anything else: a signal, a timeout, a stack trace, an internal error
// The files themselves are not part of this repository (see bench/README.md for where they come from).
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { dirname, extname, isAbsolute, join, relative, resolve } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { SKY_BIN, startSky } from './lib/sky.mjs';

const args = process.argv.slice(2);
const dir = args.find((a) => !a.startsWith('--') && args[args.indexOf(a) - 1] !== '--json');
const jsonOut = args.includes('--json') ? args[args.indexOf('--json') + 1] : undefined;
const verbose = args.includes('--verbose');
if (dir === undefined || !existsSync(dir) || !statSync(dir).isDirectory()) {
  console.error('usage: node bench/skypilot-acceptance.mjs DIR [--json FILE] [--verbose]  (DIR: a directory of SkyPilot task YAML files)');
  process.exit(2);
}

function taskFiles(root) {
  const out = [];
  for (const entry of readdirSync(root).sort()) {
    const full = join(root, entry);
    if (statSync(full).isDirectory()) out.push(...taskFiles(full));
    else if (/\.ya?ml$/.test(entry)) out.push(full);
  }
  return out;
}

const isObject = (v) => typeof v === 'object' && v !== null && !Array.isArray(v);
const URI = /^[A-Za-z][A-Za-z0-9+.-]*:\/\//;

/** The parsed documents of a file, or [] when it is not YAML sky could read (sky then says so). */
function documentsOf(text) {
  try {
    return parseAllDocuments(text, { uniqueKeys: false }).map((d) => d.toJS()).filter(isObject);
  } catch {
    return [];
  }
}

/** What the file needs from this machine: values for empty envs/secrets, local paths to create. */
function needs(docs) {
  const envs = new Set();
  const secrets = new Set();
  const paths = [];
  for (const doc of docs) {
    if (isObject(doc.envs)) for (const [k, v] of Object.entries(doc.envs)) if (v === null || v === '') envs.add(k);
    if (isObject(doc.secrets)) for (const [k, v] of Object.entries(doc.secrets)) if (v === null || v === '') secrets.add(k);
    if (Array.isArray(doc.secrets)) for (const k of doc.secrets) if (typeof k === 'string') secrets.add(k);
    if (typeof doc.workdir === 'string') paths.push({ path: doc.workdir, dir: true });
    if (isObject(doc.file_mounts)) {
      for (const value of Object.values(doc.file_mounts)) {
        const sources = typeof value === 'string' ? [value] : isObject(value) ? [value.source].flat() : [];
        for (const s of sources) if (typeof s === 'string') paths.push({ path: s, dir: !extname(s.replace(/\/+$/, '')) || s.endsWith('/') });
      }
    }
  }
  return { envs: [...envs], secrets: [...secrets], paths };
}

/**
 * Create a local path the task names: relative ones in the scratch dir the CLI runs from, ~ ones
 * in the daemon's throwaway HOME, absolute ones only under the system temp dir (and removed at
 * the end); any other absolute path is left missing. Returns what it created at the top.
 */
function createPath({ path, dir: isDir }, cwd, home, created) {
  if (path.trim() === '' || URI.test(path) || path.includes('$')) return;
  const target = path === '~' ? home : path.startsWith('~/') ? join(home, path.slice(2)) : isAbsolute(path) ? path : resolve(cwd, path);
  if (existsSync(target)) return;
  const underTmp = isAbsolute(path) && target.startsWith(`${tmpdir()}/`);
  if (!target.startsWith(cwd) && !target.startsWith(home) && !underTmp) return;
  if (underTmp) created.add(join(tmpdir(), relative(tmpdir(), target).split('/')[0]));
  if (isDir) {
    mkdirSync(target, { recursive: true });
    writeFileSync(join(target, 'placeholder.txt'), 'created for the acceptance run\n');
  } else {
    mkdirSync(dirname(target), { recursive: true });
    writeFileSync(target, 'created for the acceptance run\n');
  }
}

/**
 * A refusal only for this machine's size (no GPUs, too few CPUs, too little memory or disk):
 * what it lacks, e.g. `GPUs, disk`; undefined when a field is refused for what it means.
 */
function capacityShortage(stderr) {
  if (!/could ever run|cannot fit|short of/.test(stderr)) return undefined;
  const reasons = stderr.split('\n').filter((l) => /^\s+\S+: .*driver/.test(l));
  const lacks = new Set();
  for (const line of reasons) {
    if (/no GPUs|short of GPUs|accelerator/i.test(line)) lacks.add('GPUs');
    else if (/CPUs? is more than|short of CPUs/.test(line)) lacks.add('CPUs');
    else if (/memory is more than|short of memory/.test(line)) lacks.add('memory');
    else if (/disk/.test(line)) lacks.add('disk');
    else return undefined;
  }
  return lacks.size > 0 ? [...lacks].sort().join(', ') : undefined;
}

/** The field a refusal names, as one histogram key. */
function refusalKey(stderr) {
  const text = stderr.replace(/^YAML to run: .*\n/gm, '').replace(/^Warning: .*\n/gm, '');
  const lacks = capacityShortage(text);
  if (lacks !== undefined) return `capacity of this machine: ${lacks}`;
  const unsupported = /not supported yet: ([^\s(]+)/.exec(text);
  if (unsupported) return `not supported yet: ${unsupported[1].replace(/\["[^"]*"\]/g, '.*').replace(/\[\d+\]/g, '[]')}`;
  const driver = /\b(local|ssh) cannot [^(]*\((\w+)(?:: |\))/.exec(text);
  if (driver) return `driver cannot: ${driver[2]}`;
  const short = /short of ([^)\n]*)/.exec(text);
  if (short) return `capacity: ${short[1].replace(/\s*\(.*$/, '').replace(/disk.*/, 'disk').trim()}`;
  const located = /^sky: [^:\n]+:\d+:\d+: (.*)$/m.exec(text);
  if (located) return `invalid: ${located[1].replace(/"[^"]*"/g, '"…"').replace(/\["[^"]*"\]/g, '.*').slice(0, 90)}`;
  const first = /^sky: (.*)$/m.exec(text);
  return first ? `other: ${first[1].slice(0, 90)}` : 'other: (no message)';
}

function isCrash(r) {
  if (r.status === null || r.signal) return 'killed or timed out';
  if (/internal error|TypeError|ReferenceError|SyntaxError: |at .*\(.*\.m?js:\d+:\d+\)|INTERNAL/.test(r.stderr)) return 'internal error';
  if (!/^sky: /m.test(r.stderr)) return 'no sky error message';
  return undefined;
}

const files = taskFiles(resolve(dir));
const sky = await startSky(() => 'drivers:\n  local: {}\n', { prefix: 'sky-acceptance-' });
const scratch = mkdtempSync(join(tmpdir(), 'sky-acceptance-work-'));
const created = new Set();
const results = [];
try {
  files.forEach((file, i) => {
    const name = relative(resolve(dir), file);
    const docs = documentsOf(readFileSync(file, 'utf8'));
    const need = needs(docs);
    const cwd = join(scratch, String(i));
    mkdirSync(cwd, { recursive: true });
    for (const p of need.paths) createPath(p, cwd, sky.home, created);
    const argv = ['launch', '--dryrun', '-c', `acceptance-${i}`, '--infra', 'local'];
    for (const e of need.envs) argv.push('--env', `${e}=placeholder`);
    for (const s of need.secrets) argv.push('--secret', `${s}=placeholder`);
    argv.push(file);
    const r = spawnSync(process.execPath, [SKY_BIN, ...argv], { cwd, env: sky.cliEnv(), encoding: 'utf8', timeout: 60_000 });
    const warnings = r.stderr.split('\n').filter((l) => l.startsWith('Warning: ')).map((l) => l.slice(9).split(':')[0]);
    const crash = isCrash(r);
    const outcome = r.status === 0 ? 'accepted' : crash !== undefined ? 'crashed' : 'refused';
    const result = { file: name, outcome, warnings, ...(outcome === 'refused' ? { field: refusalKey(r.stderr) } : {}), ...(crash && outcome === 'crashed' ? { crash } : {}) };
    if (outcome !== 'accepted') result.message = r.stderr.replace(/^YAML to run: .*\n/gm, '').split('\n').filter((l) => l && !l.startsWith('Warning: '))[0] ?? '';
    results.push(result);
    if (verbose) console.log(`${outcome.padEnd(9)} ${name}${result.field ? `  [${result.field}]` : ''}${warnings.length ? `  warns: ${warnings.join(', ')}` : ''}`);
  });
} finally {
  await sky.stop();
  rmSync(scratch, { recursive: true, force: true });
  for (const path of created) rmSync(path, { recursive: true, force: true });
}

const count = (o) => results.filter((r) => r.outcome === o).length;
const pct = (n) => `${((100 * n) / Math.max(results.length, 1)).toFixed(1)} %`;
const histogram = (key, list) => {
  const m = new Map();
  for (const r of list) for (const k of [r[key]].flat()) m.set(k, (m.get(k) ?? 0) + 1);
  return [...m.entries()].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
};
const accepted = count('accepted');
const capacity = results.filter((r) => r.outcome === 'refused' && r.field.startsWith('capacity')).length;
console.log(`SkyPilot task files: ${results.length}`);
console.log(`accepted: ${accepted} (${pct(accepted)})  refused: ${count('refused')} (${pct(count('refused'))})  crashed: ${count('crashed')}`);
console.log(`  of the refused, only for this machine's size (GPUs, CPUs, memory, disk): ${capacity}; accepted apart from size: ${accepted + capacity} (${pct(accepted + capacity)})`);
console.log('\nrefusals by field:');
for (const [k, n] of histogram('field', results.filter((r) => r.outcome === 'refused'))) console.log(`  ${String(n).padStart(3)}  ${k}`);
console.log('\nwarnings (accepted files) by field:');
for (const [k, n] of histogram('warnings', results.filter((r) => r.outcome === 'accepted' && r.warnings.length > 0))) console.log(`  ${String(n).padStart(3)}  ${k}`);
for (const r of results.filter((x) => x.outcome === 'crashed')) console.log(`CRASH ${r.file}: ${r.crash}: ${r.message}`);
if (jsonOut !== undefined) writeFileSync(jsonOut, `${JSON.stringify({ total: results.length, accepted, refused: count('refused'), refusedForCapacity: capacity, crashed: count('crashed'), results }, null, 2)}\n`);
process.exit(count('crashed') > 0 ? 1 : 0);
