export { MemoryStateStore, type MemoryStateStoreOptions } from './memory-store.js';
export { runStateStoreConformance, type StoreFactory, type StoreFixture } from './conformance.js';
export { makeAudit, makeCluster, makeJob, makeManagedJob, makeManagedJobSpec, makeRequest, makeService, makeServiceVersionSpec, makeSession, makeSpec, makeToken, makeUser, makeWorkspace, nextRequestId } from './fixtures.js';
export { runDriverConformance, type DriverFactory, type DriverFixture } from './driver-conformance.js';
export { MemoryDocumentRepository } from './memory-documents.js';
