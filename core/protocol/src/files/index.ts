// Reading a directory tree to upload or sync (node:fs): the same rules for the CLI, the SDK and the daemon.
export { walkTree, relativeInside, type Tree, type TreeFile, type WalkOptions } from './walk.js';
export { IgnoreRules, SKYIGNORE } from './ignore-rules.js';
