import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { SkyError, requestResult, type RequestRecord } from '@sky/client';

const record = (fields: Partial<RequestRecord>): RequestRecord => ({
  id: 'r-1',
  name: 'exec',
  user: 'u',
  userName: 'u',
  workspace: 'default',
  lane: 'short',
  status: 'SUCCEEDED',
  createdAt: 0,
  body: {},
  attempts: 1,
  ...fields,
});

const code = (c: string) => (err: unknown) => err instanceof SkyError && err.code === c;

describe('requestResult: what a finished request came to', () => {
  it('SUCCEEDED: its result, typed by the operation', () => {
    const result = requestResult('exec', record({ result: { cluster: 'c', jobId: 3 } }));
    assert.equal(result.jobId, 3);
  });

  it("FAILED: its own error's code, message, hint and details, with the request id", () => {
    const failed = record({ status: 'FAILED', error: { code: 'CLUSTER_NOT_FOUND', message: 'no cluster c', hint: 'sky status', details: { cluster: 'c' } } });
    assert.throws(() => requestResult('exec', failed), (err: unknown) => {
      assert.ok(err instanceof SkyError);
      assert.equal(err.code, 'CLUSTER_NOT_FOUND');
      assert.equal(err.message, 'no cluster c');
      assert.equal(err.hint, 'sky status');
      assert.deepEqual(err.details, { requestId: 'r-1', operation: 'exec', cluster: 'c' });
      return true;
    });
  });

  it('FAILED with a code this client does not know, or none: OPERATION_FAILED', () => {
    assert.throws(() => requestResult('exec', record({ status: 'FAILED', error: { code: 'FROM_THE_FUTURE', message: 'x' } })), code('OPERATION_FAILED'));
    assert.throws(() => requestResult('exec', record({ status: 'FAILED' })), code('OPERATION_FAILED'));
  });

  it('CANCELLED: CANCELLED', () => {
    assert.throws(() => requestResult('exec', record({ status: 'CANCELLED' })), code('CANCELLED'));
  });

  it('a request still running, or of another operation, is a caller mistake: INTERNAL', () => {
    assert.throws(() => requestResult('exec', record({ status: 'RUNNING' })), code('INTERNAL'));
    assert.throws(() => requestResult('launch', record({})), code('INTERNAL'));
  });
});
