// RiftClient in browsers: grpc-web (which Rift's gRPC port serves, with CORS) over fetch, with
// @connectrpc/connect-web's createGrpcWebTransport. Import this module, not ./node, in a page.

import { createGrpcWebTransport } from '@connectrpc/connect-web';

import { RiftClient, type RiftClientOptions } from './client';

/** A client for Rift's gRPC port at `baseUrl` (`http://127.0.0.1:50051`), over grpc-web. */
export function createRiftWebClient(baseUrl: string, options: RiftClientOptions = {}): RiftClient {
  return new RiftClient(createGrpcWebTransport({ baseUrl }), options);
}

export * from './client';
export { Code, RiftError, codeName, type FieldViolation } from './errors';
export { type Backoff, DEFAULT_BACKOFF } from './resume';
