// sky-node-helper: the privileged side of account nodes (see plugins/driver-local/README.md).
export { AccountBook, accountAllowed, ensureAccountDir, lookupAccount, parsePasswdLine, type Account } from './accounts.js';
export { CallLog } from './call-log.js';
export { ACCOUNT_PREFIX, checkConfigFileSafe, HELPER_DEFAULTS, HELPER_USAGE, HelperFileSchema, loadHelperConfig, type HelperConfig } from './config.js';
export { NodePaths } from './paths.js';
export { runAs, type RunResult } from './run.js';
export { HelperServer, prepareNodeRoot, type HelperServerDeps } from './server.js';
export { accountEnv, WorkerPool } from './workers.js';
