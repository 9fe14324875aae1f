import { readFileSync } from 'node:fs';
import type { BuildInfo } from './tokens.js';

/** Version and commit recorded by the build (scripts/build.mjs); "unknown" when run from sources. */
export function readBuildInfo(): BuildInfo {
  try {
    const raw = JSON.parse(readFileSync(new URL('./build-info.json', import.meta.url), 'utf8')) as Partial<BuildInfo>;
    return { version: raw.version ?? '0.0.0', commit: raw.commit ?? 'unknown' };
  } catch {
    return { version: '0.0.0', commit: 'unknown' };
  }
}
