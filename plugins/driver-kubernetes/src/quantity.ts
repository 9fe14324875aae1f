/** Kubernetes resource quantities (`500m`, `2`, `4Gi`, `1e3`, `128974848`) as numbers. */

const SUFFIX: Record<string, number> = {
  n: 1e-9,
  u: 1e-6,
  m: 1e-3,
  '': 1,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
  E: 1e18,
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
  Pi: 2 ** 50,
  Ei: 2 ** 60,
};

/** The value of a quantity in base units (cores, bytes, devices); NaN when it is not one. */
export function parseQuantity(q: string | undefined): number {
  if (q === undefined) return 0;
  const m = /^([+-]?[0-9.]+(?:[eE][+-]?[0-9]+)?)(n|u|m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$/.exec(q.trim());
  if (m === null) return Number.NaN;
  const factor = SUFFIX[m[2] ?? ''];
  return Number(m[1]) * (factor ?? Number.NaN);
}

/** CPU cores as a quantity: whole cores plain, fractions in millicores. */
export function cpuQuantity(cores: number): string {
  return Number.isInteger(cores) ? String(cores) : `${Math.ceil(cores * 1000)}m`;
}

/** Memory in GB (2^30 bytes) as a quantity: whole GiB plain, fractions in MiB. */
export function memoryQuantity(gb: number): string {
  return Number.isInteger(gb) ? `${gb}Gi` : `${Math.ceil(gb * 1024)}Mi`;
}

export const GIB = 2 ** 30;
