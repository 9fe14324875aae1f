/**
 * A service's replica clusters are named `<service>-<replica id>` (SkyPilot's shape), and the
 * cluster jobs they run are tagged `serve:<service>:<replica id>` so a restarted controller finds
 * them again.
 */
export function replicaCluster(service: string, replica: number): string {
  return `${service}-${replica}`;
}

export function replicaTag(service: string, replica: number): string {
  return `serve:${service}:${replica}`;
}
