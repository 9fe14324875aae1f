import { ServerResponse, type IncomingMessage, type RequestListener } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';

/** An upgraded connection as the HTTP server handed it over: the socket and the bytes already read past the headers. */
export interface Upgrade {
  socket: Duplex;
  head: Buffer;
}

const upgrades = new WeakMap<IncomingMessage, Upgrade>();

/** The connection of a request that asked to upgrade it (undefined for ordinary requests). */
export function upgradeOf(req: IncomingMessage): Upgrade | undefined {
  return upgrades.get(req);
}

/**
 * Requests with an Upgrade header go through the same handler (the koa application: version,
 * identity, access, routes) as every other request, with a response bound to their socket. A
 * route that takes the connection over (the SSH tunnel) answers 101 itself; anything else is
 * answered like an ordinary request, after which the connection is closed.
 */
export function upgradeListener(handler: RequestListener): (req: IncomingMessage, socket: Duplex, head: Buffer) => void {
  return (req, socket, head) => {
    upgrades.set(req, { socket, head });
    socket.on('error', () => socket.destroy());
    const res = new ServerResponse(req);
    res.shouldKeepAlive = false;
    res.assignSocket(socket as Socket);
    res.once('finish', () => {
      res.detachSocket(socket as Socket);
      socket.end();
    });
    handler(req, res);
  };
}
