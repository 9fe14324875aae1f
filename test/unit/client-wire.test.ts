import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import * as protocol from '@sky/protocol';
import * as wire from '../../core/client/src/wire.js';

// The client restates the protocol's wire constants to stay off zod at start-up; this keeps them equal.
describe('client wire constants', () => {
  it('equal the protocol constants', () => {
    for (const name of [
      'API_VERSION',
      'API_VERSION_HEADER',
      'IDEMPOTENCY_KEY_HEADER',
      'USER_NAME_HEADER',
      'USER_ID_HEADER',
      'DEFAULT_HOST',
      'DEFAULT_PORT',
      'DEFAULT_ENDPOINT',
      'API_PREFIX',
    ] as const) {
      assert.equal(wire[name], protocol[name], name);
    }
  });

  it('name the same paths as the route table', () => {
    const { ROUTES, OPERATION_ROUTES, routePath } = protocol;
    const id = { id: 'r-1/x' };
    assert.equal(wire.PATHS.health, routePath(ROUTES.health));
    assert.equal(wire.PATHS.openapi, routePath(ROUTES.openapi));
    assert.equal(wire.PATHS.listRequests, routePath(ROUTES.listRequests));
    assert.equal(wire.PATHS.cancelRequests, routePath(ROUTES.cancelRequests));
    assert.equal(wire.PATHS.getRequest(id.id), routePath(ROUTES.getRequest, id));
    assert.equal(wire.PATHS.waitRequest(id.id), routePath(ROUTES.waitRequest, id));
    assert.equal(wire.PATHS.requestLogs(id.id), routePath(ROUTES.requestLogs, id));
    assert.equal(wire.PATHS.serverLogs, routePath(ROUTES.serverLogs));
    for (const route of OPERATION_ROUTES) assert.equal(wire.PATHS.submit(route.operation ?? assert.fail()), route.path);
  });

  it('agree with the protocol on which statuses are final', () => {
    for (const status of protocol.REQUEST_STATUSES) assert.equal(wire.isTerminalStatus(status), protocol.isTerminal(status), status);
  });
});
