export * from './wire/index.js';
export * from './error-schema.js';
export * from './requests.js';
export * from './ops.js';
export * from './health.js';
export * from './routes.js';
export * from './openapi.js';
export * from './issues.js';
