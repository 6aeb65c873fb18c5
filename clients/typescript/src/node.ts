// RiftClient on Node: gRPC over HTTP/2 with @connectrpc/connect-node's createGrpcTransport.

import { createGrpcTransport, Http2SessionManager } from '@connectrpc/connect-node';

import { RiftClient, type RiftClientOptions } from './client';

export const DEFAULT_TARGET = '127.0.0.1:50051';

/**
 * A client for Rift at `target`: `host:port` or `http://host:port` (plaintext, as RIFT_ADDR
 * has it). `close()` ends its HTTP/2 connection.
 */
export function createRiftClient(target: string = DEFAULT_TARGET, options: RiftClientOptions = {}): RiftClient {
  const baseUrl = /^https?:\/\//.test(target) ? target : `http://${target}`;
  // A session manager of our own, so close() can end the connection (and let Node exit).
  const sessionManager = new Http2SessionManager(baseUrl);
  const transport = createGrpcTransport({ baseUrl, sessionManager });
  return new RiftClient(transport, options, () => sessionManager.abort());
}
