// "did you mean …?" for unknown task fields: common aliases first, then the closest known name.

/** Words people write for a field under another name (all lower case). */
const ALIASES: Record<string, string> = {
  cmd: 'run',
  command: 'run',
  commands: 'run',
  script: 'run',
  env: 'envs',
  environment: 'envs',
  environment_variables: 'envs',
  secret: 'secrets',
  nodes: 'num_nodes',
  node_count: 'num_nodes',
  gpu: 'accelerators',
  accelerator: 'accelerators',
  cpu: 'cpus',
  vcpus: 'cpus',
  mem: 'memory',
  ram: 'memory',
  disk: 'disk_size',
  spot: 'use_spot',
  image: 'image_id',
  port: 'ports',
  label: 'labels',
  mounts: 'file_mounts',
  file_mount: 'file_mounts',
  working_dir: 'workdir',
  work_dir: 'workdir',
  workdirectory: 'workdir',
  readiness: 'readiness_probe',
  probe: 'readiness_probe',
  health_check: 'readiness_probe',
  replica_count: 'replicas',
  autoscaling: 'replica_policy',
  load_balancer: 'load_balancing_policy',
};

/** Optimal-string-alignment distance: edits, with a swap of neighbours counting as one. */
export function editDistance(a: string, b: string): number {
  const rows = a.length + 1;
  const cols = b.length + 1;
  const d: number[][] = Array.from({ length: rows }, (_, i) => Array.from({ length: cols }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i < rows; i++) {
    for (let j = 1; j < cols; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) best = Math.min(best, d[i - 2]![j - 2]! + 1);
      d[i]![j] = best;
    }
  }
  return d[a.length]![b.length]!;
}

/** The known name a mistyped one most likely meant, if any is close enough. */
export function suggestField(unknown: string, known: readonly string[]): string | undefined {
  const word = unknown.toLowerCase();
  const alias = ALIASES[word];
  if (alias !== undefined && known.includes(alias)) return alias;
  // A name written without its unit or suffix (initial_delay for initial_delay_seconds).
  const longer = word.length >= 4 ? known.filter((name) => name.toLowerCase().startsWith(word)) : [];
  if (longer.length === 1) return longer[0];
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const name of known) {
    const distance = editDistance(word, name.toLowerCase());
    if (distance < bestDistance) {
      best = name;
      bestDistance = distance;
    }
  }
  const allowed = Math.max(1, Math.min(3, Math.floor(word.length / 3)));
  return bestDistance <= allowed ? best : undefined;
}

/** The message for an unknown field: a suggestion, or the list of valid names. */
export function unknownFieldMessage(unknown: string, known: readonly string[]): string {
  const guess = suggestField(unknown, known);
  return guess !== undefined ? `unknown field; did you mean ${guess}?` : `unknown field; valid fields here: ${known.join(', ')}`;
}
