import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { REPO_ROOT } from './daemon-process.js';

/** A stand-in build of the dashboard (SKY_DASHBOARD_DIR), to test how the daemon serves files whatever the app holds. */
export interface DashboardFixture {
  dir: string;
  /** A hashed asset with a gzipped copy next to it, and its text. */
  asset: { name: string; text: string };
  remove(): void;
}

export const FIXTURE_INDEX = '<!doctype html><html><head><title>sky fixture</title></head><body><main data-page="fixture">fixture</main></body></html>\n';

/**
 * index.html, a hashed script with its `.gz`, a plain stylesheet, and two symlinks that point
 * out of the folder (a file and a directory): the daemon must never follow those.
 */
export function makeDashboardFixture(): DashboardFixture {
  const dir = mkdtempSync(join(tmpdir(), 'sky-dash-'));
  writeFileSync(join(dir, 'index.html'), FIXTURE_INDEX);
  const asset = { name: 'app-0123abcd.js', text: `console.log(${JSON.stringify('x'.repeat(2000))});\n` };
  writeFileSync(join(dir, asset.name), asset.text);
  writeFileSync(join(dir, `${asset.name}.gz`), gzipSync(asset.text));
  writeFileSync(join(dir, 'style.css'), 'body { margin: 0 }\n');
  mkdirSync(join(dir, 'assets'));
  writeFileSync(join(dir, 'assets', 'logo.svg'), '<svg xmlns="http://www.w3.org/2000/svg"/>\n');
  symlinkSync(join(REPO_ROOT, 'package.json'), join(dir, 'leak.json'));
  symlinkSync('/etc', join(dir, 'etc'));
  return { dir, asset, remove: () => rmSync(dir, { recursive: true, force: true }) };
}
