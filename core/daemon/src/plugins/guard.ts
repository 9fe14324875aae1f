import { realpathSync } from 'node:fs';
import { sep } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Driver } from '@sky/plugin-api';
import { SkyError, toSkyError } from '@sky/protocol';
import { describeThrown } from './thrown.js';
import type { LoaderLogger } from './types.js';

/** Which plugin a piece of code belongs to. */
export interface PluginIdentity {
  readonly id: string;
  readonly packageName: string;
  readonly version: string | undefined;
}

/** A fault that stopped a plugin: it serves nothing more in this process. */
export interface PluginFault {
  readonly plugin: PluginIdentity;
  /** What happened: 'uncaught exception', 'unhandled rejection', 'process.exit', 'event-loop stall', … */
  readonly kind: string;
  readonly error: SkyError;
  readonly at: number;
}

/**
 * Where plugin code runs while the daemon waits for it synchronously (a file in the state
 * directory, see call-marker.ts): the daemon started after a process the supervisor's watchdog
 * killed reads it, to name the plugin that blocked the event loop.
 */
export interface RunningMarker {
  /** Note that plugin `slot` runs `op` now; returns what to restore after. */
  enter(slot: number, op: string): number;
  leave(previous: number): void;
  /** Tell the watchdog which plugin a slot stands for. */
  name(slot: number, plugin: PluginIdentity): void;
}

function versioned(plugin: PluginIdentity): string {
  return plugin.version === undefined ? plugin.packageName : `${plugin.packageName}@${plugin.version}`;
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (typeof value === 'object' || typeof value === 'function') && value !== null && typeof (value as { then?: unknown }).then === 'function';
}

/** The frames of a stack (the lines after the message, which may itself name paths). */
function framesOf(stack: string | undefined): string {
  if (stack === undefined) return '';
  const first = stack.indexOf('\n    at ');
  return first === -1 ? '' : stack.slice(first);
}

function stackOf(thrown: unknown): string | undefined {
  if (thrown instanceof Error) return thrown.stack;
  if (typeof thrown === 'object' && thrown !== null) {
    const stack: unknown = (thrown as { stack?: unknown }).stack;
    return typeof stack === 'string' ? stack : undefined;
  }
  return undefined;
}

/**
 * Keeps a faulty plugin from taking the daemon down. It knows each plugin's package directory, so
 * a stack with a frame under one names the plugin whose code was running (its dependencies live
 * under it too); the process-level handlers ask it before treating an error as a bug in sky. A
 * fault marks the plugin failed (the daemon stops routing work to it), and is logged once with
 * the stack, the plugin id, package and version.
 */
export class PluginGuard {
  private readonly places: Array<{ prefixes: string[]; plugins: PluginIdentity[] }> = [];
  private readonly slots = new Map<string, number>();
  private readonly faults = new Map<string, PluginFault>();

  constructor(
    private readonly logger: LoaderLogger,
    private readonly marker?: RunningMarker,
  ) {}

  /** Code under `dir` belongs to `plugin` from now on (called before the package is imported). */
  register(plugin: PluginIdentity, dir: string): void {
    const dirs = new Set([dir]);
    try {
      dirs.add(realpathSync(dir));
    } catch {
      // an unreadable directory is refused by the loader anyway
    }
    const prefixes = [...dirs].flatMap((d) => [`${d}${sep}`, `${pathToFileURL(d).href}/`]);
    const existing = this.places.find((p) => p.prefixes[0] === prefixes[0]);
    if (existing !== undefined) existing.plugins.push(plugin);
    else this.places.push({ prefixes, plugins: [plugin] });
    if (!this.slots.has(plugin.id)) {
      const slot = this.slots.size + 1;
      this.slots.set(plugin.id, slot);
      this.marker?.name(slot, plugin);
    }
  }

  /**
   * The plugins the topmost plugin frame of `stack` belongs to (several when ids share one
   * package: their code cannot be told apart), or none.
   */
  owners(stack: string | undefined): PluginIdentity[] {
    const frames = framesOf(stack);
    let best: { at: number; plugins: PluginIdentity[] } | undefined;
    for (const place of this.places) {
      for (const prefix of place.prefixes) {
        const at = frames.indexOf(prefix);
        if (at !== -1 && (best === undefined || at < best.at)) best = { at, plugins: place.plugins };
      }
    }
    return best?.plugins ?? [];
  }

  /** The fault that stopped this plugin, if one did. */
  failure(id: string): PluginFault | undefined {
    return this.faults.get(id);
  }

  /**
   * For the process-level handlers: when `thrown` comes from plugin code, stop that plugin, log
   * the fault and return true (the daemon carries on); false when no plugin can be blamed.
   */
  attribute(kind: string, thrown: unknown): boolean {
    const owners = this.owners(stackOf(thrown));
    if (owners.length === 0) return false;
    for (const plugin of owners) this.fault(plugin, kind, thrown);
    return true;
  }

  /** Stop `plugin` after a fault in its code. The first fault is logged with its stack; later ones are noted. */
  fault(plugin: PluginIdentity, kind: string, thrown: unknown): PluginFault {
    const earlier = this.faults.get(plugin.id);
    const err = thrown instanceof Error ? thrown : new Error(describeThrown(thrown));
    if (earlier !== undefined) {
      this.logger.warn(
        { plugin: plugin.id, package: plugin.packageName, version: plugin.version, kind, err: describeThrown(thrown) },
        `drivers.${plugin.id}: ${versioned(plugin)} (already stopped) raised another ${kind}: ${describeThrown(thrown)}`,
      );
      return earlier;
    }
    const error = new SkyError(
      'PLUGIN_FAILED',
      `drivers.${plugin.id}: ${versioned(plugin)} was stopped after ${kind === 'process.exit' ? 'it called process.exit()' : `an ${kind} in its code`}: ${describeThrown(thrown)}`,
      {
        hint: `This is a bug in ${plugin.packageName}: report it to its authors (the server log has the stack), or pin a release that works; restart the API server to load it again.`,
        details: { plugin: plugin.id, package: plugin.packageName, ...(plugin.version === undefined ? {} : { version: plugin.version }), kind },
      },
    );
    const fault: PluginFault = { plugin, kind, error, at: Date.now() };
    this.faults.set(plugin.id, fault);
    this.logger.error(
      { plugin: plugin.id, package: plugin.packageName, version: plugin.version, kind, err },
      `${error.message}; the daemon carries on without drivers.${plugin.id}`,
    );
    return fault;
  }

  /** Run plugin code synchronously, marked for the watchdog as `op` of plugin `id`. */
  run<T>(id: string, op: string, fn: () => T): T {
    const slot = this.slots.get(id);
    if (this.marker === undefined || slot === undefined) return fn();
    const previous = this.marker.enter(slot, op);
    try {
      return fn();
    } finally {
      this.marker.leave(previous);
    }
  }

  /**
   * The driver as the daemon uses it: each method call is marked for the watchdog, and a failure
   * that is not one of sky's errors (a plain exception: a bug in the plugin) is logged with its
   * stack, the plugin id, package and version before it goes back to the caller.
   */
  wrap(plugin: PluginIdentity, driver: Driver): Driver {
    const wrapped = new Map<PropertyKey, unknown>();
    const report = (op: string, thrown: unknown): void => {
      if (toSkyError(thrown) !== undefined) return;
      if (thrown instanceof Error && thrown.name === 'AbortError') return;
      this.logger.error(
        { plugin: plugin.id, package: plugin.packageName, version: plugin.version, operation: op, err: thrown instanceof Error ? thrown : describeThrown(thrown) },
        `drivers.${plugin.id}: ${versioned(plugin)} ${op} threw: ${describeThrown(thrown)}`,
      );
    };
    return new Proxy(driver, {
      get: (target, prop, receiver) => {
        const value: unknown = Reflect.get(target, prop, receiver);
        if (typeof value !== 'function' || typeof prop !== 'string' || prop === 'constructor') return value;
        let fn = wrapped.get(prop);
        if (fn === undefined) {
          const method = value as (...args: unknown[]) => unknown;
          fn = (...args: unknown[]): unknown => {
            let out: unknown;
            try {
              out = this.run(plugin.id, prop, () => method.apply(target, args));
            } catch (thrown) {
              report(prop, thrown);
              throw thrown;
            }
            if (!isThenable(out)) return out;
            return Promise.resolve(out).catch((thrown: unknown) => {
              report(prop, thrown);
              throw thrown;
            });
          };
          wrapped.set(prop, fn);
        }
        return fn;
      },
    });
  }
}
