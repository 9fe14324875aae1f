import { Worker } from 'node:worker_threads';
import type { PluginIdentity, RunningMarker } from './plugins/guard.js';
import { QUARANTINE_FILE } from './plugins/quarantine.js';

/** Slots of the shared array: the heartbeat counter, the plugin slot running now, and its operation. */
const BEAT = 0;
const SLOT = 1;
const OP = 2;
const HEARTBEAT_MS = 250;

/**
 * The watchdog thread, plain CommonJS run by a worker: it has its own event loop, so it runs while
 * the daemon's is blocked. When the heartbeat stops for stallMs it records the plugin whose code
 * held the loop (if one did) in the quarantine file, says so in the server log and on stderr, and
 * kills the process: the supervisor (or systemd, Kubernetes) starts it again, and the new daemon
 * loads without the quarantined plugin.
 */
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const fs = require('node:fs');
const path = require('node:path');
const shared = new Int32Array(workerData.shared);
const plugins = new Map();
const ops = new Map();
parentPort.on('message', (m) => {
  if (m.type === 'plugin') plugins.set(m.slot, m.plugin);
  else if (m.type === 'op') ops.set(m.index, m.name);
});
let last = Atomics.load(shared, ${BEAT});
let since = Date.now();
function quarantine(plugin, reason) {
  const file = path.join(workerData.stateDir, ${JSON.stringify(QUARANTINE_FILE)});
  let list = {};
  try { const parsed = JSON.parse(fs.readFileSync(file, 'utf8')); if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) list = parsed; } catch {}
  list[plugin.id] = { package: plugin.packageName, ...(plugin.version === undefined ? {} : { version: plugin.version }), reason, at: Date.now() };
  const tmp = file + '.' + process.pid + '.tmp';
  fs.writeFileSync(tmp, JSON.stringify(list, null, 2) + '\\n', { mode: 0o600 });
  fs.renameSync(tmp, file);
}
setInterval(() => {
  const beat = Atomics.load(shared, ${BEAT});
  const now = Date.now();
  if (beat !== last) { last = beat; since = now; return; }
  if (now - since < workerData.stallMs) return;
  const plugin = plugins.get(Atomics.load(shared, ${SLOT}));
  const op = ops.get(Atomics.load(shared, ${OP})) || 'code';
  const seconds = Math.round((now - since) / 1000);
  let msg;
  const line = { level: 60, time: now, pid: process.pid, kind: 'event-loop stall', stalledSeconds: seconds };
  if (plugin !== undefined) {
    const name = plugin.packageName + (plugin.version === undefined ? '' : '@' + plugin.version);
    const reason = op + ' blocked the daemon\\'s event loop for ' + seconds + ' s (watchdog.stall_seconds is ' + workerData.stallMs / 1000 + ')';
    msg = 'drivers.' + plugin.id + ': ' + name + ': ' + reason + '; it is quarantined and the daemon restarts without it';
    Object.assign(line, { plugin: plugin.id, package: plugin.packageName, version: plugin.version, operation: op });
    try { quarantine(plugin, reason); } catch (err) { msg += ' (recording the quarantine failed: ' + err.message + ')'; }
  } else {
    msg = 'the daemon\\'s event loop was blocked for ' + seconds + ' s outside any plugin call; the daemon restarts';
  }
  line.msg = msg;
  if (workerData.logFile) { try { fs.appendFileSync(workerData.logFile, JSON.stringify(line) + '\\n'); } catch {} }
  try { fs.writeSync(2, 'sky daemon: watchdog: ' + msg + '\\n'); } catch {}
  process.kill(process.pid, 'SIGKILL');
}, workerData.checkMs);
`;

export interface WatchdogOptions {
  /** How long the event loop may be blocked before the process is killed. */
  stallMs: number;
  stateDir: string;
  /** The server log (JSON lines), or undefined when the log goes to stdout only. */
  logFile: string | undefined;
}

/** The in-process end of the watchdog: the heartbeat, and the marker plugin calls set. */
export class Watchdog implements RunningMarker {
  private readonly shared = new Int32Array(new SharedArrayBuffer(Int32Array.BYTES_PER_ELEMENT * 4));
  private readonly ops = new Map<string, number>();
  private readonly worker: Worker;
  private readonly beat: NodeJS.Timeout;

  constructor(options: WatchdogOptions) {
    this.worker = new Worker(WORKER_SOURCE, {
      eval: true,
      workerData: { shared: this.shared.buffer, stallMs: options.stallMs, checkMs: Math.min(1_000, Math.max(50, Math.round(options.stallMs / 10))), stateDir: options.stateDir, logFile: options.logFile },
      // The watchdog's own heap stays small: it holds a few names.
      resourceLimits: { maxOldGenerationSizeMb: 8, maxYoungGenerationSizeMb: 1 },
    });
    this.worker.unref();
    this.beat = setInterval(() => Atomics.add(this.shared, BEAT, 1), HEARTBEAT_MS);
    this.beat.unref();
  }

  enter(slot: number, op: string): number {
    let index = this.ops.get(op);
    if (index === undefined) {
      index = this.ops.size + 1;
      this.ops.set(op, index);
      this.worker.postMessage({ type: 'op', index, name: op });
    }
    const previous = Atomics.load(this.shared, SLOT) * 65_536 + Atomics.load(this.shared, OP);
    Atomics.store(this.shared, OP, index);
    Atomics.store(this.shared, SLOT, slot);
    return previous;
  }

  leave(previous: number): void {
    Atomics.store(this.shared, SLOT, Math.floor(previous / 65_536));
    Atomics.store(this.shared, OP, previous % 65_536);
  }

  name(slot: number, plugin: PluginIdentity): void {
    this.worker.postMessage({ type: 'plugin', slot, plugin: { id: plugin.id, packageName: plugin.packageName, version: plugin.version } });
  }

  async stop(): Promise<void> {
    clearInterval(this.beat);
    await this.worker.terminate();
  }
}
