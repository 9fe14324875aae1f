export * from './version.js';
export * from './errors.js';
export * from './requests.js';
export * from './ops.js';
export * from './health.js';
export * from './routes.js';
export * from './openapi.js';
export * from './issues.js';
