#!/usr/bin/env node
/**
 * Summarises a V8 .cpuprofile (node --cpu-prof): where the samples were (self time) by
 * function and by package, and the inclusive time of the functions that own the most.
 *
 *   node bench/cpuprofile.mjs FILE.cpuprofile [--top N] [--json OUT]
 *
 * Also imported by bench/e2e.mjs to summarise the daemon's profile.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(import.meta.dirname, '..');

/** Which package (or runtime part) a script URL belongs to. */
export function packageOf(url) {
  if (url === '') return '(native / V8)';
  if (url.startsWith('node:')) return 'node:' + url.slice(5).split('/')[0];
  let path = url;
  if (url.startsWith('file://')) {
    try {
      path = fileURLToPath(url);
    } catch {
      path = url;
    }
  }
  const nm = path.lastIndexOf(`node_modules${sep}`);
  if (nm >= 0) {
    const parts = path.slice(nm + 13).split(sep);
    return parts[0].startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0];
  }
  if (path.startsWith(ROOT + sep)) {
    const rel = path.slice(ROOT.length + 1).split(sep);
    if (rel[0] === 'core' || rel[0] === 'plugins') return `${rel[0]}/${rel[1]}`;
    return rel[0];
  }
  return path;
}

function shortUrl(url) {
  if (url.startsWith('file://')) {
    try {
      const path = fileURLToPath(url);
      return path.startsWith(ROOT + sep) ? path.slice(ROOT.length + 1) : path;
    } catch {
      return url;
    }
  }
  return url;
}

export function summarize(profile, top = 25) {
  const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map();
  for (let i = 0; i < profile.samples.length; i++) {
    const id = profile.samples[i];
    self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
  }
  const total = [...self.values()].reduce((a, b) => a + b, 0) || 1;
  const keyOf = (n) => {
    const f = n.callFrame;
    const name = f.functionName || '(anonymous)';
    return f.url ? `${name} ${shortUrl(f.url)}:${f.lineNumber + 1}` : name;
  };
  const selfByFn = new Map();
  const selfByPkg = new Map();
  const inclusiveByFn = new Map();
  const idleNames = new Set(['(idle)', '(program)', '(garbage collector)', '(root)']);
  let idle = 0;
  // Depth-first, counting each function once per stack for inclusive time.
  const root = profile.nodes[0];
  const stack = [{ node: root, onStack: new Set() }];
  while (stack.length > 0) {
    const { node, onStack } = stack.pop();
    const key = keyOf(node);
    const t = self.get(node.id) ?? 0;
    if (node.callFrame.functionName === '(idle)') idle += t;
    if (t > 0) {
      selfByFn.set(key, (selfByFn.get(key) ?? 0) + t);
      const pkg = idleNames.has(node.callFrame.functionName) ? node.callFrame.functionName : packageOf(node.callFrame.url);
      selfByPkg.set(pkg, (selfByPkg.get(pkg) ?? 0) + t);
    }
    const here = new Set(onStack);
    here.add(key);
    if (t > 0) for (const k of here) inclusiveByFn.set(k, (inclusiveByFn.get(k) ?? 0) + t);
    for (const child of node.children ?? []) stack.push({ node: nodes.get(child), onStack: here });
  }
  const busy = total - idle || 1;
  const rank = (m) =>
    [...m.entries()]
      .filter(([k]) => k !== '(idle)' && k !== '(root)')
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([name, us]) => ({ name, ms: us / 1000, pct_of_busy: (100 * us) / busy }));
  return {
    total_ms: total / 1000,
    idle_ms: idle / 1000,
    busy_ms: busy / 1000,
    self_by_package: rank(selfByPkg),
    self_by_function: rank(selfByFn),
    inclusive_by_function: rank(inclusiveByFn).filter((r) => !r.name.startsWith('(')),
  };
}

export function printSummary(s, out = console.log) {
  out(`profile: ${s.busy_ms.toFixed(0)} ms busy of ${s.total_ms.toFixed(0)} ms sampled`);
  const table = (title, rows) => {
    out(`  ${title}`);
    for (const r of rows) out(`    ${r.pct_of_busy.toFixed(1).padStart(5)}%  ${r.ms.toFixed(0).padStart(6)} ms  ${r.name}`);
  };
  table('self time by package', s.self_by_package.slice(0, 12));
  table('self time by function', s.self_by_function.slice(0, 20));
  table('inclusive time by function', s.inclusive_by_function.slice(0, 25));
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  const file = args.find((a) => !a.startsWith('--') && args[args.indexOf(a) - 1] !== '--top' && args[args.indexOf(a) - 1] !== '--json');
  if (!file) {
    console.error('usage: node bench/cpuprofile.mjs FILE.cpuprofile [--top N] [--json OUT]');
    process.exit(2);
  }
  const topIndex = args.indexOf('--top');
  const jsonIndex = args.indexOf('--json');
  const summary = summarize(JSON.parse(readFileSync(file, 'utf8')), topIndex >= 0 ? Number(args[topIndex + 1]) : 25);
  printSummary(summary);
  if (jsonIndex >= 0) writeFileSync(args[jsonIndex + 1], JSON.stringify(summary, null, 2) + '\n');
}
