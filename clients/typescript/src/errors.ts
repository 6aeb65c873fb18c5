// RiftError: every failed call as one error type, with the google.rpc details Rift attaches
// (ErrorInfo, BadRequest, RetryInfo) already decoded from the ConnectError connect-es raises.

import { Code, ConnectError } from '@connectrpc/connect';

import { BadRequestSchema, ErrorInfoSchema, RetryInfoSchema } from './gen/google/rpc/error_details_pb';

export { Code };

export interface FieldViolation {
  field: string;
  description: string;
}

/** gRPC's name for a code: `FAILED_PRECONDITION` for Code.FailedPrecondition. */
export function codeName(code: Code): string {
  return (Code[code] ?? String(code)).replace(/([a-z])([A-Z])/g, '$1_$2').toUpperCase();
}

/**
 * A call Rift (or the network on the way) refused. `code` is the gRPC status code (connect's
 * `Code`, numbered as gRPC's) and `codeName` its gRPC name; `reason`/`domain`/`metadata` come
 * from a google.rpc.ErrorInfo detail, `fieldViolations` from google.rpc.BadRequest,
 * `retryAfterMs` from google.rpc.RetryInfo.
 */
export class RiftError extends Error {
  readonly code: Code;
  readonly codeName: string;
  readonly details: string;
  readonly reason?: string;
  readonly domain?: string;
  readonly metadata: Record<string, string>;
  readonly fieldViolations: FieldViolation[];
  readonly retryAfterMs?: number;

  constructor(init: {
    code: Code;
    details: string;
    reason?: string;
    domain?: string;
    metadata?: Record<string, string>;
    fieldViolations?: FieldViolation[];
    retryAfterMs?: number;
  }) {
    const name = codeName(init.code);
    super(`${name}: ${init.details}`);
    this.name = 'RiftError';
    this.code = init.code;
    this.codeName = name;
    this.details = init.details;
    this.reason = init.reason;
    this.domain = init.domain;
    this.metadata = init.metadata ?? {};
    this.fieldViolations = init.fieldViolations ?? [];
    this.retryAfterMs = init.retryAfterMs;
  }

  /** Any failure of a call (a ConnectError, or whatever else was thrown) as a RiftError. */
  static from(error: unknown): RiftError {
    if (error instanceof RiftError) return error;
    const connect = ConnectError.from(error);
    const init: ConstructorParameters<typeof RiftError>[0] = {
      code: connect.code,
      details: connect.rawMessage,
    };
    const [info] = connect.findDetails(ErrorInfoSchema);
    if (info) {
      init.reason = info.reason;
      init.domain = info.domain;
      init.metadata = { ...info.metadata };
    }
    const violations = connect.findDetails(BadRequestSchema).flatMap((b) => b.fieldViolations);
    if (violations.length > 0) {
      init.fieldViolations = violations.map(({ field, description }) => ({ field, description }));
    }
    const [retry] = connect.findDetails(RetryInfoSchema);
    if (retry?.retryDelay) {
      init.retryAfterMs = Number(retry.retryDelay.seconds) * 1000 + retry.retryDelay.nanos / 1e6;
    }
    return new RiftError(init);
  }
}
