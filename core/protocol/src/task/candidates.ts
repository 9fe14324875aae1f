// The concrete resource requests of a task: the defaults merged into each any_of / ordered candidate.
import type { ResourceFields, Resources } from './types.js';

export interface ResourceChoices {
  /** One entry per candidate (just the defaults when there are none), each complete. */
  candidates: ResourceFields[];
  /** true for `ordered`: try strictly in this order. */
  ordered: boolean;
}

export function resourceCandidates(resources: Resources): ResourceChoices {
  const { any_of, ordered, ...defaults } = resources;
  const list = ordered ?? any_of;
  if (list === undefined) return { candidates: [structuredClone(defaults)], ordered: false };
  return { candidates: list.map((c) => structuredClone({ ...defaults, ...c })), ordered: ordered !== undefined };
}
