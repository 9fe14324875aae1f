import { isIP } from 'node:net';
import { z } from 'zod';

/** An IP address, or a CIDR block like 10.0.0.0/8 or fd00::/8. */
function isAddressOrCidr(value: string): boolean {
  const [address = '', bits, ...rest] = value.split('/');
  const family = isIP(address);
  if (family === 0 || rest.length > 0) return false;
  if (bits === undefined) return true;
  return /^\d{1,3}$/.test(bits) && Number(bits) <= (family === 4 ? 32 : 128);
}

const seconds = (max: number) => z.number().positive().max(max);

/**
 * The transport keys of the `listen` block: TLS, who may claim a client address, timeouts and
 * connection caps. Every key is documented in sky.config.example.yaml.
 */
export const listenTransportKeys = {
  /** Serve HTTPS with this certificate chain and key (PEM files). */
  tls: z.strictObject({ cert: z.string().min(1), key: z.string().min(1) }).optional(),
  /** A TLS-terminating proxy sits in front of a plain-HTTP listener: passwords and tokens are not sent in the clear. */
  tls_terminated_by_proxy: z.boolean().default(false),
  /** Accept passwords and tokens over plain HTTP on a non-loopback address anyway (logged at every start). */
  allow_insecure_basic_auth: z.boolean().default(false),
  /** Peers whose X-Forwarded-For header names the client (addresses or CIDR blocks); nobody by default. */
  trusted_proxies: z
    .array(z.string().refine(isAddressOrCidr, { message: 'must be an IP address or a CIDR block like 10.0.0.0/8' }))
    .default([]),
  /** The request line and headers must arrive within this long after the connection opens (or the previous request). */
  header_timeout_seconds: seconds(600).default(20),
  /** The whole request, body included, must arrive within this long. */
  request_timeout_seconds: seconds(3600).default(300),
  /** An idle keep-alive connection is closed after this long. */
  keep_alive_timeout_seconds: seconds(600).default(30),
  /** A connection that carries no byte either way for this long is closed (event streams send a heartbeat every 15 s). */
  idle_timeout_seconds: seconds(3600).default(120),
  /** Concurrent connections from one client address (an IPv6 client: its /64). */
  max_connections_per_address: z.number().int().min(1).max(1_000_000).default(256),
  /** Concurrent connections in total (also kept below the open-file limit). */
  max_connections: z.number().int().min(1).max(1_000_000).default(8192),
};
