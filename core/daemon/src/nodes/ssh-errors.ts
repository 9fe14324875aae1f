import { SkyError } from '@sky/protocol';

/** Where a connection goes, for messages: `user@host:port`, and the files that matter for fixing it. */
export interface SshErrorContext {
  label: string;
  host: string;
  port: number;
  identityFile: string | undefined;
  agent: boolean;
  connectTimeoutMs: number;
  detectionBoundMs: number;
  /** `through jump host user@jump:22`, when there is one. */
  via: string | undefined;
}

interface SystemishError extends Error {
  code?: string | number;
  level?: string;
}

function through(ctx: SshErrorContext): string {
  return ctx.via ? ` through jump host ${ctx.via}` : '';
}

function seconds(ms: number): string {
  return `${Math.round(ms / 100) / 10} s`;
}

/** A failure to open (or keep) a connection, as NODE_UNREACHABLE naming the host. Never carries key material. */
export function connectError(err: unknown, ctx: SshErrorContext): SkyError {
  if (err instanceof SkyError) return err;
  const e = (err instanceof Error ? err : new Error(String(err))) as SystemishError;
  const code = typeof e.code === 'string' ? e.code : undefined;
  const message = e.message ?? '';
  const details = { host: ctx.host, port: ctx.port };
  if (e.level === 'client-authentication' || /authentication methods failed/i.test(message)) {
    const what = ctx.identityFile ? `the identity file (${ctx.identityFile})` : 'the identity file';
    return new SkyError('NODE_UNREACHABLE', `authentication failed for ${ctx.label}: check ${what}${ctx.agent ? ' and the keys in ssh-agent' : ''}`, {
      hint: `The server refused every key offered; its authorized_keys must hold the public key of ${ctx.identityFile ?? 'the key you use'}.`,
      details,
      cause: err,
    });
  }
  if (code === 'ECONNREFUSED' || /connection refused/i.test(message)) {
    return new SkyError('NODE_UNREACHABLE', `cannot connect to ${ctx.label}${through(ctx)}: connection refused`, {
      hint: `Is sshd running on ${ctx.host} and listening on port ${ctx.port}?`,
      details,
      cause: err,
    });
  }
  if (code === 'EHOSTUNREACH' || code === 'ENETUNREACH' || /no route to host|network is unreachable/i.test(message)) {
    return new SkyError('NODE_UNREACHABLE', `cannot connect to ${ctx.label}${through(ctx)}: no route to host`, {
      hint: `Check that ${ctx.host} is up and its network reachable from the daemon's machine.`,
      details,
      cause: err,
    });
  }
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') {
    return new SkyError('NODE_UNREACHABLE', `cannot connect to ${ctx.label}: host name ${ctx.host} does not resolve`, {
      hint: 'Check the host name, or give its IP address.',
      details,
      cause: err,
    });
  }
  if (code === 'ETIMEDOUT' || /timed out while waiting for handshake/i.test(message)) {
    return new SkyError('NODE_UNREACHABLE', `cannot connect to ${ctx.label}${through(ctx)}: no answer within ${seconds(ctx.connectTimeoutMs)}`, {
      hint: `Check that ${ctx.host} is up and that a firewall does not drop port ${ctx.port}.`,
      details,
      cause: err,
    });
  }
  if (/keepalive timeout/i.test(message)) {
    return lostError(ctx, `no answer to keepalives for ${seconds(ctx.detectionBoundMs)}`, err);
  }
  if (/channel open failure/i.test(message) && ctx.via) {
    return new SkyError('NODE_UNREACHABLE', `cannot reach ${ctx.label} through jump host ${ctx.via}: ${message.replace(/^\(SSH\)\s*/, '')}`, {
      hint: `Check that the jump host can reach ${ctx.host}:${ctx.port}.`,
      details,
      cause: err,
    });
  }
  return new SkyError('NODE_UNREACHABLE', `cannot connect to ${ctx.label}${through(ctx)}: ${message || 'connection failed'}`, { details, cause: err });
}

/** The connection dropped while something was using it. */
export function lostError(ctx: SshErrorContext, why: string, cause?: unknown): SkyError {
  return new SkyError('NODE_UNREACHABLE', `node ${ctx.host} unreachable: lost the SSH connection to ${ctx.label} (${why})`, {
    hint: `The host may be down or its network cut; the next operation reconnects. Dead hosts are detected within ${seconds(ctx.detectionBoundMs)}.`,
    details: { host: ctx.host, port: ctx.port },
    ...(cause === undefined ? {} : { cause }),
  });
}

export function hostKeyChanged(host: string, port: number, knownHostsFile: string, expected: string[], got: string): SkyError {
  const where = port === 22 ? host : `[${host}]:${port}`;
  const name = port === 22 ? host : `${host} (port ${port})`;
  return new SkyError(
    'NODE_UNREACHABLE',
    `host key of ${name} changed: expected ${expected.join(' or ')}, got ${got}; if the host was rebuilt, remove its line from ${knownHostsFile}`,
    {
      hint: `Only if you know why it changed: ssh-keygen -R '${where}' -f ${knownHostsFile}, then connect again. Otherwise someone may be intercepting the connection.`,
      details: { host, port, expected, got },
    },
  );
}

/** A node whose driver pinned its host keys presented another key. */
export function hostKeyNotPinned(host: string, port: number, expected: string[], got: string): SkyError {
  const name = port === 22 ? host : `${host} (port ${port})`;
  const want = expected.length === 0 ? 'none usable was recorded' : `expected ${expected.join(' or ')}`;
  return new SkyError('NODE_UNREACHABLE', `host key of ${name} is not the one its driver recorded for this node: ${want}, got ${got}`, {
    hint: 'The node was replaced or someone is intercepting the connection; sky down the cluster and launch it again if the node was recreated.',
    details: { host, port, expected, got },
  });
}

export function hostKeyRevoked(host: string, port: number, knownHostsFile: string, got: string): SkyError {
  return new SkyError('NODE_UNREACHABLE', `host key of ${host} (port ${port}) is revoked in ${knownHostsFile}: ${got}`, {
    hint: 'The host presents a key marked @revoked; give it a new host key.',
    details: { host, port, got },
  });
}

export function hostKeyUnknown(host: string, port: number, knownHostsFile: string, got: string): SkyError {
  const scan = `ssh-keyscan -p ${port} ${host} >> ${knownHostsFile}`;
  return new SkyError('NODE_UNREACHABLE', `host key of ${host} (port ${port}) is not known: ${got} is not in ${knownHostsFile}`, {
    hint: `Check the fingerprint with the host's owner, then add it (${scan}), or enable trust on first use for this pool.`,
    details: { host, port, got },
  });
}
