import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { AccessPolicy } from '@sky/daemon';
import { startInProcessTeamDaemon, type InProcessDaemon } from '../helpers/in-process-daemon.js';
import { PLANTED_FAULTS, usePolicy } from '../helpers/planted-faults.js';
import { walkRoutes } from '../helpers/route-walk.js';
import { fuzzAuthorization, fuzzSeed } from '../helpers/authz-fuzz.js';
import { TEAM_ADMIN } from '../helpers/team.js';

// The proof that the proofs work: with one authorization rule taken out of the daemon's access
// policy at a time (composed through the DI container, served over HTTP in this process), the
// route walk and the authorization fuzzer each report a problem; with the real policy, neither does.

const SEED = fuzzSeed();

/** The walk and the fuzzer side by side on one daemon (their users and resources have their own prefixes). */
async function probe(daemon: InProcessDaemon): Promise<{ walk: string[]; fuzz: string[] }> {
  const tag = randomBytes(2).toString('hex');
  const [walk, fuzz] = await Promise.all([
    walkRoutes({ url: daemon.url, admin: TEAM_ADMIN, prefix: `p${tag}`, stopAtFirst: true }),
    fuzzAuthorization({ url: daemon.url, admin: TEAM_ADMIN, prefix: `q${tag}`, seed: SEED, extraSteps: 0, stopAtFirst: true }),
  ]);
  return { walk: walk.problems, fuzz: fuzz.problems };
}

describe(`planted authorization faults (fuzzer seed ${SEED})`, { concurrency: 6 }, () => {
  it('the real policy: neither the walk nor the fuzzer reports anything', async () => {
    const daemon = await startInProcessTeamDaemon(usePolicy(AccessPolicy));
    try {
      const found = await probe(daemon);
      assert.deepEqual(found, { walk: [], fuzz: [] });
    } finally {
      await daemon.stop();
    }
  });

  for (const fault of PLANTED_FAULTS) {
    it(`${fault.kind} rule taken out (${fault.name}: ${fault.dropped}): the walk and the fuzzer both catch it`, async (t) => {
      const daemon = await startInProcessTeamDaemon(usePolicy(fault.policy));
      try {
        const found = await probe(daemon);
        t.diagnostic(`walk: ${found.walk[0] ?? 'nothing'}`);
        t.diagnostic(`fuzzer: ${found.fuzz[0] ?? 'nothing'}`);
        assert.ok(found.walk.length > 0, `the route walk missed the planted fault ${fault.name}`);
        assert.ok(found.fuzz.length > 0, `the authorization fuzzer (seed ${SEED}) missed the planted fault ${fault.name}; replay: SKY_FUZZ_SEED=${SEED}`);
      } finally {
        await daemon.stop();
      }
    });
  }
});
