import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { request } from 'node:http';
import { request as httpsRequest } from 'node:https';

export const REPO_ROOT = process.env.SKY_REPO_ROOT ?? resolve(import.meta.dirname, '../..');
export const DAEMON_MAIN = join(REPO_ROOT, 'core/daemon/dist/sky-daemon.mjs');
export const SKY_BIN = join(REPO_ROOT, 'cli/bin/sky.js');

/** A free TCP port on 127.0.0.1, chosen by the kernel. */
export function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolvePort(port));
    });
  });
}

/** A throwaway HOME with ~/.sky in it. */
export function tempHome(): string {
  const home = mkdtempSync(join(tmpdir(), 'sky-home-'));
  mkdirSync(join(home, '.sky'), { recursive: true });
  return home;
}

/** Local tokens of the personal daemons this process started, by port: http() sends them to loopback URLs of that port. */
const localTokens = new Map<string, string>();
const LOCAL_TOKEN_HEADER = 'x-sky-local-token';

function loopbackPort(url: string): string | undefined {
  try {
    const parsed = new URL(url);
    const host = parsed.hostname.replace(/^\[|\]$/g, '');
    return host === 'localhost' || host === '::1' || host.startsWith('127.') ? parsed.port : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Remember the local token of a personal daemon (auth none) listening at `url`, read from
 * `<home>/.sky/api_server/local_token` (as its owner's CLI reads it), so http() to that daemon
 * carries it. Daemons started by startDaemon are registered already. Returns the token.
 */
export function useLocalToken(url: string, home: string): string | undefined {
  const port = loopbackPort(url);
  let token: string | undefined;
  try {
    token = readFileSync(join(home, '.sky/api_server/local_token'), 'utf8').trim();
  } catch {
    token = undefined;
  }
  if (port !== undefined && token !== undefined) localTokens.set(port, token);
  return token;
}

/**
 * Give another HOME of this same OS account the personal daemon's local token, as a second
 * sky identity (another ~/.sky/user_hash) of the daemon's owner would have it.
 */
export function shareLocalToken(daemonHome: string, otherHome: string): void {
  const dir = join(otherHome, '.sky/api_server');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  copyFileSync(join(daemonHome, '.sky/api_server/local_token'), join(dir, 'local_token'));
  chmodSync(join(dir, 'local_token'), 0o600);
}

/** The local token http() would send to `url`, if any. */
export function localTokenFor(url: string): string | undefined {
  const port = loopbackPort(url);
  return port === undefined ? undefined : localTokens.get(port);
}

/** `headers` plus the local token of the personal daemon at `url` (for tests that open streams with node:http themselves). */
export function withLocalToken(url: string, headers: Record<string, string>): Record<string, string> {
  const token = localTokenFor(url);
  return token === undefined ? headers : { [LOCAL_TOKEN_HEADER]: token, ...headers };
}

function forget(url: string): void {
  const port = loopbackPort(url);
  if (port !== undefined) localTokens.delete(port);
}

export interface HttpAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  json: () => unknown;
}

export interface HttpOptions {
  method?: string;
  headers?: Record<string, string>;
  body?: string | Buffer;
  /** Send no local token even to a personal daemon this process started (to test the refusal). */
  anonymous?: boolean;
  /** The source address to connect from (any 127.x.y.z on loopback), to act as another client of the daemon. */
  localAddress?: string;
  /** Verify an https URL against this CA. */
  ca?: string | Buffer;
  /** For a stream that never ends by itself: a 200 answers with what came so far once this says it is enough. */
  until?: (textSoFar: string) => boolean;
}

/**
 * One HTTP call with node:http (no client library), for black-box tests of the API. An https URL
 * is verified against `ca`; `localAddress` picks the source address (any 127.x.y.z on loopback).
 * To a personal daemon started by startDaemon it sends that daemon's local token, as its owner's
 * CLI does (unless the headers carry one, or `anonymous`).
 */
export function http(url: string, options: HttpOptions = {}): Promise<HttpAnswer> {
  const token = options.anonymous === true ? undefined : localTokenFor(url);
  const headers = token === undefined || options.headers?.[LOCAL_TOKEN_HEADER] !== undefined ? options.headers : { [LOCAL_TOKEN_HEADER]: token, ...options.headers };
  return new Promise((resolveAnswer, reject) => {
    const send = url.startsWith('https:') ? httpsRequest : request;
    const extra = { ...(options.localAddress === undefined ? {} : { localAddress: options.localAddress, agent: false as const }), ...(options.ca === undefined ? {} : { ca: options.ca }) };
    const req = send(url, { method: options.method ?? 'GET', headers, ...extra }, (res) => {
      const chunks: Buffer[] = [];
      const answer = (): void => {
        const text = Buffer.concat(chunks).toString('utf8');
        resolveAnswer({ status: res.statusCode ?? 0, headers: res.headers, text, json: () => JSON.parse(text) as unknown });
      };
      res.on('data', (c: Buffer) => {
        chunks.push(c);
        if (res.statusCode === 200 && options.until?.(Buffer.concat(chunks).toString('utf8')) === true) {
          answer();
          res.destroy();
        }
      });
      res.on('end', answer);
      res.on('error', reject);
    });
    req.on('error', reject);
    if (options.body !== undefined) req.write(options.body);
    req.end();
  });
}

export interface DaemonHandle {
  url: string;
  port: number;
  home: string;
  pid: number;
  child: ChildProcess;
  stderr: () => string;
  /** SIGTERM and wait; SIGKILL after the timeout. Resolves with the exit code. */
  stop(timeoutMs?: number): Promise<number | null>;
  kill9(): Promise<void>;
}

export interface StartOptions {
  home?: string;
  port?: number;
  config?: string;
  args?: string[];
  env?: Record<string, string>;
  /** The daemon serves HTTPS (listen.tls in `config`) with a certificate this CA signed for localhost: the URL is https://localhost:PORT. */
  tlsCa?: string;
  /** Run the daemon as this uid and gid (its HOME must be theirs). */
  uid?: number;
  gid?: number;
}

const started = new Set<ChildProcess>();

function waitExit(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((r) => child.once('exit', (code) => r(code)));
}

/** Start the built daemon in the foreground on a free port with a temp HOME; resolves once /api/health answers. */
export async function startDaemon(options: StartOptions = {}): Promise<DaemonHandle> {
  const home = options.home ?? tempHome();
  const port = options.port ?? (await freePort());
  const args = [DAEMON_MAIN, '--host', '127.0.0.1', '--port', String(port), ...(options.args ?? [])];
  if (options.config !== undefined) {
    const file = join(home, 'daemon.yaml');
    writeFileSync(file, options.config);
    args.push('--config', file);
  }
  const child = spawn(process.execPath, args, {
    env: { ...process.env, HOME: home, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
    ...(options.uid !== undefined ? { uid: options.uid } : {}),
    ...(options.gid !== undefined ? { gid: options.gid } : {}),
  });
  started.add(child);
  child.once('exit', () => started.delete(child));
  let err = '';
  child.stderr!.on('data', (c: Buffer) => (err += c.toString()));
  child.stdout!.resume();
  const url = options.tlsCa === undefined ? `http://127.0.0.1:${port}` : `https://localhost:${port}`;
  const ca = options.tlsCa === undefined ? undefined : readFileSync(options.tlsCa);
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`daemon exited with ${child.exitCode}: ${err}`);
    try {
      const res = await http(`${url}/api/health`, ca === undefined ? {} : { ca });
      if (res.status === 200) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`daemon did not become healthy: ${err}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  const token = useLocalToken(url, home);
  child.once('exit', () => {
    if (token !== undefined && localTokenFor(url) === token) forget(url);
  });
  return {
    url,
    port,
    home,
    pid: child.pid!,
    child,
    stderr: () => err,
    async stop(timeoutMs = 15_000) {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      const code = await waitExit(child);
      clearTimeout(timer);
      return code;
    },
    async kill9() {
      child.kill('SIGKILL');
      await waitExit(child);
    },
  };
}

/** Kill every daemon this process started (use in an after hook as a safety net). */
export async function killAllDaemons(): Promise<void> {
  await Promise.all([...started].map(async (child) => {
    child.kill('SIGKILL');
    await waitExit(child);
  }));
}

export function removeHome(home: string): void {
  rmSync(home, { recursive: true, force: true });
}

export function readDaemonJson(home: string): { pid: number; port: number; url: string } {
  return JSON.parse(readFileSync(join(home, '.sky/api_server/daemon.json'), 'utf8')) as { pid: number; port: number; url: string };
}
