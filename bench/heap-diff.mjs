#!/usr/bin/env node
/**
 * Compares two V8 heap snapshots (`.heapsnapshot`, e.g. written by the daemon on SIGUSR2 when it
 * runs with `--heapsnapshot-signal=SIGUSR2`, see `memory.mjs --heap-snapshots DIR`): objects per
 * constructor (count and shallow bytes) in each, sorted by the growth in count. Whatever is kept
 * per request or per job shows up as a constructor whose count grows with the work done between
 * the two snapshots (a snapshot is taken after a full collection, so garbage does not count).
 *
 *   node bench/heap-diff.mjs BEFORE.heapsnapshot AFTER.heapsnapshot [--top N]
 */
import { readFileSync } from 'node:fs';

/** Count and shallow size of the live objects of a snapshot, by node type and constructor name. */
export function summarise(file) {
  const snapshot = JSON.parse(readFileSync(file, 'utf8'));
  const meta = snapshot.snapshot.meta;
  const fields = meta.node_fields;
  const stride = fields.length;
  const typeAt = fields.indexOf('type');
  const nameAt = fields.indexOf('name');
  const sizeAt = fields.indexOf('self_size');
  const types = meta.node_types[typeAt];
  const { nodes, strings } = snapshot;
  const byKey = new Map();
  let total = 0;
  for (let i = 0; i < nodes.length; i += stride) {
    const type = types[nodes[i + typeAt]];
    // Strings and code are keyed by type only: their "names" are their contents.
    const name = type === 'object' || type === 'closure' || type === 'native' ? `${type} ${strings[nodes[i + nameAt]]}` : `(${type})`;
    const size = nodes[i + sizeAt];
    total += size;
    const entry = byKey.get(name) ?? byKey.set(name, { count: 0, bytes: 0 }).get(name);
    entry.count += 1;
    entry.bytes += size;
  }
  return { byKey, total, nodes: nodes.length / stride };
}

function main() {
  const args = process.argv.slice(2);
  const topAt = args.indexOf('--top');
  const top = topAt >= 0 ? Number(args[topAt + 1]) : 25;
  const files = args.filter((a, i) => !a.startsWith('--') && i !== topAt + 1);
  if (files.length !== 2) {
    console.error('usage: node bench/heap-diff.mjs BEFORE.heapsnapshot AFTER.heapsnapshot [--top N]');
    process.exit(2);
  }
  const [a, b] = files.map(summarise);
  const mb = (n) => (n / 1048576).toFixed(1);
  console.log(`before: ${a.nodes} objects, ${mb(a.total)} MB · after: ${b.nodes} objects, ${mb(b.total)} MB`);
  const keys = new Set([...a.byKey.keys(), ...b.byKey.keys()]);
  const rows = [...keys].map((key) => {
    const x = a.byKey.get(key) ?? { count: 0, bytes: 0 };
    const y = b.byKey.get(key) ?? { count: 0, bytes: 0 };
    return { key, before: x.count, after: y.count, dCount: y.count - x.count, dBytes: y.bytes - x.bytes };
  });
  rows.sort((p, q) => q.dCount - p.dCount || q.dBytes - p.dBytes);
  console.log('growth in count (before → after, Δ bytes):');
  for (const r of rows.slice(0, top)) console.log(`  ${String(r.dCount).padStart(8)}  ${r.key}  (${r.before} → ${r.after}, ${r.dBytes >= 0 ? '+' : ''}${r.dBytes} B)`);
}

if (import.meta.url === `file://${process.argv[1]}`) main();
