export * from './version.js';
export * from './store.js';
export * from './plugin.js';
export * from './driver.js';
export * from './records.js';
export * from './ssh.js';
export * from './node/json-ledger.js';
export * from './node/gpus.js';
