export * from './version.js';
export * from './store.js';
export * from './state-transfer.js';
export * from './documents.js';
export * from './state-file.js';
export * from './plugin.js';
export * from './driver.js';
export * from './records.js';
export * from './ssh.js';
export * from './targets.js';
export * from './tunnel.js';
export * from './node/json-ledger.js';
export * from './node/change-feed.js';
export * from './node/page-cursor.js';
export * from './node/gpus.js';
export * from './node/helper.js';
export * from './node/helper-client.js';
// The error model plugins throw and the daemon reads (codes from the protocol's catalogue), so a
// plugin needs no dependency besides this package.
export { SkyError, toSkyError, isErrorCode, type ErrorCode, type SkyErrorOptions } from '@sky/protocol/wire';
export * from './usage-ledger.js';
