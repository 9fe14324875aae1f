// The harness's OS helpers are the shared ones of test/helpers/os.ts.
export * from '../os.js';
