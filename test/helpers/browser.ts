import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type BrowserContext, type BrowserServer, type Page } from 'playwright-core';
import { REPO_ROOT } from './daemon-process.js';

/**
 * Debian's Chromium, driven by playwright-core (which downloads no browser of its own). The
 * real binary is preferred to the /usr/bin/chromium wrapper script: the wrapper adds flags of
 * its own and stands between the browser and the PID we stop.
 */
export const CHROMIUM_PATHS = ['/usr/lib/chromium/chromium', '/usr/bin/chromium'];

/** Where every run writes a screenshot of each page it visits (git-ignored). */
export const SCREENSHOT_DIR = join(REPO_ROOT, 'test-output', 'screenshots');

export function chromiumPath(): string | undefined {
  return CHROMIUM_PATHS.find((p) => existsSync(p));
}

/**
 * Why the browser tests cannot run here, or undefined when they can. Under CI=true a missing
 * Chromium throws instead: CI must run them (scripts/ci-setup.sh installs it).
 */
export function browserSkipReason(): string | undefined {
  if (chromiumPath() !== undefined) return undefined;
  const why = `Chromium is not installed (looked for ${CHROMIUM_PATHS.join(', ')}): install it with apt-get install chromium (scripts/ci-setup.sh does)`;
  if (process.env.CI === 'true') throw new Error(`${why}; CI=true runs every browser test`);
  console.warn(`\n*** browser tests SKIPPED: ${why} ***\n`);
  return why;
}

export interface TestBrowser {
  browser: Browser;
  /** The Chromium process's id (stopped by close(), whatever state the browser is in). */
  pid: number;
  /** A fresh context (its own cookies) at `baseURL`; a narrow one with `width`. */
  context(baseURL: string, options?: { width?: number; height?: number }): Promise<BrowserContext>;
  close(): Promise<void>;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Stop a process group led by `pid` (the browser and its helpers), then the process itself if it is still there. */
function killTree(pid: number): void {
  for (const target of [-pid, pid]) {
    try {
      process.kill(target, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}

/**
 * Launch headless Chromium (with --no-sandbox when running as root: Chromium's sandbox refuses
 * root) as a browser server whose PID we know, and connect to it. close() closes the browser
 * and then kills its process by PID, so a test that fails half-way leaves no Chromium behind.
 */
export async function launchBrowser(): Promise<TestBrowser> {
  const executablePath = chromiumPath();
  if (executablePath === undefined) throw new Error(`Chromium is not installed (looked for ${CHROMIUM_PATHS.join(', ')})`);
  const root = typeof process.getuid === 'function' && process.getuid() === 0;
  const server: BrowserServer = await chromium.launchServer({
    executablePath,
    headless: true,
    chromiumSandbox: !root,
    args: ['--disable-dev-shm-usage', '--disable-gpu', '--no-first-run', '--no-default-browser-check', ...(root ? ['--no-sandbox'] : [])],
    handleSIGINT: false,
    handleSIGTERM: false,
    handleSIGHUP: false,
  });
  const pid = server.process().pid;
  if (pid === undefined) {
    await server.kill();
    throw new Error('Chromium started without a process id');
  }
  let browser: Browser;
  try {
    browser = await chromium.connect(server.wsEndpoint());
  } catch (err) {
    killTree(pid);
    throw err;
  }
  return {
    browser,
    pid,
    async context(baseURL, options = {}) {
      return browser.newContext({ baseURL, viewport: { width: options.width ?? 1280, height: options.height ?? 800 }, ...(options.width !== undefined && options.width < 500 ? { isMobile: true, hasTouch: true } : {}) });
    },
    async close() {
      try {
        await Promise.race([browser.close(), new Promise((r) => setTimeout(r, 5_000))]);
        await Promise.race([server.close(), new Promise((r) => setTimeout(r, 5_000))]);
      } catch {
        // killed below whatever happened
      } finally {
        if (alive(pid)) killTree(pid);
      }
    },
  };
}

/** Save a full-page screenshot of `page` as test-output/screenshots/NAME.png. */
export async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  const file = join(SCREENSHOT_DIR, `${name.replace(/[^A-Za-z0-9._-]+/g, '_')}.png`);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}

/** Open a dashboard path and wait until its page shows real data (`main[data-ready=true]`). */
export async function openPage(page: Page, path: string, pageName: string, timeoutMs = 20_000): Promise<void> {
  await page.goto(path);
  await page.waitForSelector(`main[data-page="${pageName}"][data-ready="true"]`, { timeout: timeoutMs });
}
