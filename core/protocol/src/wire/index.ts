// The zod-free part of the protocol: constants, the error model, statuses and paths.
// Clients that must start fast import `@sky/protocol/wire` instead of the schemas.
export * from './version.js';
export * from './errors.js';
export * from './status.js';
export * from './paths.js';
export * from './daemon-info.js';
export * from './format-path.js';
export * from './manifest.js';
export * from './cluster-columns.js';
export * from './feed-kinds.js';
