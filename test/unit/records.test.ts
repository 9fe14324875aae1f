import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { OPTIONAL_CLUSTER_FIELDS } from '@sky/plugin-api';
import { ClusterRecordSchema } from '@sky/protocol';

describe('store record helpers', () => {
  it('list exactly the optional fields of the cluster schema', () => {
    const fromSchema = Object.entries(ClusterRecordSchema.shape)
      .filter(([, schema]) => schema.safeParse(undefined).success)
      .map(([key]) => key)
      .sort();
    assert.deepEqual([...OPTIONAL_CLUSTER_FIELDS].sort(), fromSchema);
  });
});
