// Loaded into every test process by scripts/test.mjs (--import): gives each `it`/`test` that sets
// no timeout of its own the default SKY_TEST_TIMEOUT_MS, so one hung test fails by itself while
// the rest of its file still runs. (node 20's --test-timeout bounds a whole file, not a test.)
import { createRequire, syncBuiltinESMExports } from 'node:module';

const ms = Number(process.env.SKY_TEST_TIMEOUT_MS ?? '240000');
const nodeTest = createRequire(import.meta.url)('node:test');

/** The same test function, with `timeout: ms` added to its options when it has none. */
function withDefaultTimeout(original) {
  const wrapped = function (...args) {
    const fn = args.findIndex((a) => typeof a === 'function');
    const end = fn < 0 ? args.length : fn;
    const at = args.findIndex((a, i) => i < end && a !== null && typeof a === 'object');
    if (at >= 0) {
      if (args[at].timeout === undefined) args[at] = { ...args[at], timeout: ms };
    } else {
      // Options go right after the name (or first, when there is no name).
      const pos = typeof args[0] === 'string' ? 1 : 0;
      args.splice(pos, 0, { timeout: ms });
    }
    return original.apply(this, args);
  };
  for (const key of ['skip', 'todo', 'only']) if (typeof original[key] === 'function') wrapped[key] = withDefaultTimeout(original[key]);
  return wrapped;
}

if (Number.isFinite(ms) && ms > 0) {
  const it = withDefaultTimeout(nodeTest.it);
  const test = nodeTest.test === nodeTest.it ? it : withDefaultTimeout(nodeTest.test);
  nodeTest.it = it;
  nodeTest.test = test;
  syncBuiltinESMExports();
}
