import { Gauge, type Registry } from 'prom-client';

/** What is open now, read at each scrape. */
export interface ConnectionSources {
  /** SSH connections the transport pool holds open to nodes and jump hosts. */
  sshConnections(): number;
  /** `ssh CLUSTER` tunnels the API server's SSH gateway serves now. */
  sshTunnels(): number;
}

/** Gauges of the daemon's open SSH connections and tunnels. */
export function registerConnectionGauges(registry: Registry, sources: ConnectionSources): void {
  new Gauge({
    name: 'sky_ssh_connections_open',
    help: 'SSH connections open from this replica to nodes and jump hosts.',
    registers: [registry],
    collect() {
      this.set(sources.sshConnections());
    },
  });
  new Gauge({
    name: 'sky_ssh_tunnels_open',
    help: 'SSH tunnels (ssh CLUSTER through the API server) open on this replica.',
    registers: [registry],
    collect() {
      this.set(sources.sshTunnels());
    },
  });
}
