// A typed TypeScript client for Rift's gRPC API (rift.v1.Rift), on connect-es.
//
// Layout: client.ts (RiftClient over any transport, Subscription, the values), errors.ts
// (RiftError), resume.ts (the reconnect-and-resume policy), node.ts (createRiftClient: gRPC on
// Node), web.ts (createRiftWebClient: grpc-web in browsers), gen/ (protobuf-es, generated).
export * from './client';
export { Code, RiftError, codeName, type FieldViolation } from './errors';
export { type Backoff, DEFAULT_BACKOFF, Resumption, backoffDelay } from './resume';
export { DEFAULT_TARGET, createRiftClient } from './node';
