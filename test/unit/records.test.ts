import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { OPTIONAL_CLUSTER_FIELDS, OPTIONAL_MANAGED_JOB_FIELDS } from '@sky/plugin-api';
import { ClusterRecordSchema, ManagedJobRecordSchema } from '@sky/protocol';

describe('store record helpers', () => {
  it('list exactly the optional fields of the cluster schema', () => {
    const fromSchema = Object.entries(ClusterRecordSchema.shape)
      .filter(([, schema]) => schema.safeParse(undefined).success)
      .map(([key]) => key)
      .sort();
    assert.deepEqual([...OPTIONAL_CLUSTER_FIELDS].sort(), fromSchema);
  });

  it('lets a managed job patch remove only optional fields of the managed job schema', () => {
    const optional = new Set(
      Object.entries(ManagedJobRecordSchema.shape)
        .filter(([, schema]) => schema.safeParse(undefined).success)
        .map(([key]) => key),
    );
    assert.deepEqual([...OPTIONAL_MANAGED_JOB_FIELDS].sort(), ['endedAt', 'reason', 'recoveringSince']);
    for (const key of OPTIONAL_MANAGED_JOB_FIELDS) assert.ok(optional.has(key), `${key} is optional in ManagedJobRecordSchema`);
  });
});
