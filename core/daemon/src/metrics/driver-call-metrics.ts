import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { Counter, Histogram, type Registry } from 'prom-client';
import type { Driver } from '@sky/plugin-api';
import { DRIVER_CALLS, type DriverCallEnded } from '../clusters/driver-calls.js';
import { DRIVER_CALL_SECONDS } from './buckets.js';

/**
 * Driver calls (provision, status, stop, start, terminate, capacity, feasible) as callDriver
 * reports them: how long each took, and which failed with which error code. Only calls on
 * this daemon's own drivers count (`ownDriver`): daemons sharing a process share the channel.
 */
export class DriverCallMetrics {
  private readonly duration: Histogram<'driver' | 'method' | 'outcome'>;
  private readonly errors: Counter<'driver' | 'method' | 'code'>;
  private readonly listener = (message: unknown): void => this.observe(message as DriverCallEnded);
  private listening = false;

  constructor(
    registry: Registry,
    private readonly ownDriver: (id: string, driver: Driver) => boolean,
  ) {
    this.duration = new Histogram({
      name: 'sky_driver_call_duration_seconds',
      help: 'Driver calls by driver, method and outcome (ok or error), deadline included.',
      labelNames: ['driver', 'method', 'outcome'],
      buckets: DRIVER_CALL_SECONDS,
      registers: [registry],
    });
    this.errors = new Counter({
      name: 'sky_driver_call_errors_total',
      help: 'Driver calls that failed, by driver, method and error code.',
      labelNames: ['driver', 'method', 'code'],
      registers: [registry],
    });
  }

  start(): void {
    if (this.listening) return;
    this.listening = true;
    subscribe(DRIVER_CALLS.name, this.listener);
  }

  stop(): void {
    if (!this.listening) return;
    this.listening = false;
    unsubscribe(DRIVER_CALLS.name, this.listener);
  }

  observe(ended: DriverCallEnded): void {
    if (!this.ownDriver(ended.driverId, ended.driver)) return;
    const labels = { driver: ended.driverId, method: ended.op };
    this.duration.observe({ ...labels, outcome: ended.error === undefined ? 'ok' : 'error' }, ended.seconds);
    if (ended.error !== undefined) this.errors.inc({ ...labels, code: ended.error });
  }
}
