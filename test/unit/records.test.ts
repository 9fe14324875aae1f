import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { FIXED_SERVICE_FIELDS, OPTIONAL_CLUSTER_FIELDS, OPTIONAL_MANAGED_JOB_FIELDS, OPTIONAL_SERVICE_FIELDS } from '@sky/plugin-api';
import { ClusterRecordSchema, ManagedJobRecordSchema, ServiceRecordSchema } from '@sky/protocol';

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

  it('list exactly the optional fields of the service schema, and fixed fields that are in it', () => {
    const fromSchema = Object.entries(ServiceRecordSchema.shape)
      .filter(([, schema]) => schema.safeParse(undefined).success)
      .map(([key]) => key)
      .sort();
    assert.deepEqual([...OPTIONAL_SERVICE_FIELDS].sort(), fromSchema);
    for (const key of FIXED_SERVICE_FIELDS) assert.ok(key in ServiceRecordSchema.shape, `${key} is a field of ServiceRecordSchema`);
  });
});
