// RiftClient: the rift.v1.Rift API with plain values in and out, on @grpc/grpc-js.
//
// The protos are loaded at run time by @grpc/proto-loader (rift.proto from this package's
// proto/ copy, google/rpc from google-proto-files); src/generated/ holds the typings that
// proto-loader-gen-types made of them with the same loader options, so every call is typed.

import * as path from 'node:path';

import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { getProtoPath } from 'google-proto-files';

import type { ProtoGrpcType } from './generated/rift';
import type { Status__Output } from './generated/google/rpc/Status';
import type { ErrorInfo__Output } from './generated/google/rpc/ErrorInfo';
import type { BadRequest__Output } from './generated/google/rpc/BadRequest';
import type { RetryInfo__Output } from './generated/google/rpc/RetryInfo';
import type { Value, Value__Output } from './generated/google/protobuf/Value';
import type { Struct__Output } from './generated/google/protobuf/Struct';
import type { RiftClient as RiftStub } from './generated/rift/v1/Rift';
import type { AnalysisStats__Output } from './generated/rift/v1/AnalysisStats';
import type { AnalyzeRequest } from './generated/rift/v1/AnalyzeRequest';
import type { AnalyzeResponse__Output } from './generated/rift/v1/AnalyzeResponse';
import type { DeleteTaskResponse__Output } from './generated/rift/v1/DeleteTaskResponse';
import type { NarrateResponse__Output } from './generated/rift/v1/NarrateResponse';
import type { ProgressResponse__Output } from './generated/rift/v1/ProgressResponse';
import type { Notification__Output } from './generated/rift/v1/Notification';
import type { TaskStatus__Output } from './generated/rift/v1/TaskStatus';

export const DEFAULT_TARGET = '127.0.0.1:50051';

/** Any JSON value: what `analyze` takes as items and what notification payloads hold. */
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

export interface FieldViolation {
  field: string;
  description: string;
}

/**
 * A call Rift (or the network on the way) refused. `code` is the gRPC status code and
 * `codeName` its name; `reason`/`domain` come from a google.rpc.ErrorInfo detail,
 * `fieldViolations` from google.rpc.BadRequest, `retryAfterMs` from google.rpc.RetryInfo.
 */
export class RiftError extends Error {
  readonly code: grpc.status;
  readonly codeName: string;
  readonly details: string;
  readonly reason?: string;
  readonly domain?: string;
  readonly metadata: Record<string, string>;
  readonly fieldViolations: FieldViolation[];
  readonly retryAfterMs?: number;

  constructor(init: {
    code: grpc.status;
    details: string;
    reason?: string;
    domain?: string;
    metadata?: Record<string, string>;
    fieldViolations?: FieldViolation[];
    retryAfterMs?: number;
  }) {
    const codeName = grpc.status[init.code] ?? String(init.code);
    super(`${codeName}: ${init.details}`);
    this.name = 'RiftError';
    this.code = init.code;
    this.codeName = codeName;
    this.details = init.details;
    this.reason = init.reason;
    this.domain = init.domain;
    this.metadata = init.metadata ?? {};
    this.fieldViolations = init.fieldViolations ?? [];
    this.retryAfterMs = init.retryAfterMs;
  }
}

export interface NumberStats {
  count: number;
  min: number;
  max: number;
  mean: number;
  sum: number;
}

export interface StringStats {
  count: number;
  distinct: number;
  /** The most frequent strings, most frequent first. */
  top: { value: string; count: number }[];
}

export interface AnalysisStats {
  itemCount: number;
  types: {
    nulls: number;
    booleans: number;
    numbers: number;
    strings: number;
    lists: number;
    objects: number;
  };
  /** Present when at least one item is a number. */
  numbers?: NumberStats;
  /** Present when at least one item is a string. */
  strings?: StringStats;
}

export interface AnalyzeResult {
  taskId: string;
  /** Exactly "Analyzed N items". */
  summary: string;
  /** How many analyses the task has had, this one included. */
  version: number;
  stats: AnalysisStats;
}

export interface NarrateResult {
  taskId: string;
  /** Exactly "The analysis for task <id> concluded: <summary>." */
  narrative: string;
  analysisVersion: number;
}

export type TaskStatus = TaskStatus__Output;

export interface ProgressResult {
  taskId: string;
  status: TaskStatus;
  /** Latest analysis version; 0 when there is none. */
  analysisVersion: number;
  /** The analysis version the narrative was built on; 0 when there is none. */
  narrativeAnalysisVersion: number;
}

export interface Notification {
  /** Resume token: pass it as `after` to get exactly what came after this one. */
  id: string;
  taskId: string;
  agent: string;
  action: string;
  payload: { [key: string]: Json };
  time?: Date;
}

export interface RiftClientOptions {
  /** Sent as `authorization: Bearer <token>` on every call. */
  token?: string;
  /** Deadline of each unary call, in milliseconds; `subscribe` has none. Default 30 s. */
  timeoutMs?: number;
  /** Default: plaintext, as Rift serves it. */
  credentials?: grpc.ChannelCredentials;
}

// The options proto-loader-gen-types was given (see generate.js): the typings describe
// exactly these objects.
const LOADER_OPTIONS: protoLoader.Options = {
  longs: Number,
  enums: String,
  defaults: true,
  oneofs: true,
  includeDirs: [
    path.join(__dirname, '..', '..', 'proto'),
    path.dirname(getProtoPath()),
  ],
};

let loaded: { definition: protoLoader.PackageDefinition; proto: ProtoGrpcType } | undefined;

function protos(): { definition: protoLoader.PackageDefinition; proto: ProtoGrpcType } {
  if (loaded === undefined) {
    const definition = protoLoader.loadSync(
      ['rift/v1/rift.proto', 'google/rpc/status.proto', 'google/rpc/error_details.proto'],
      LOADER_OPTIONS,
    );
    const proto = grpc.loadPackageDefinition(definition) as unknown as ProtoGrpcType;
    loaded = { definition, proto };
  }
  return loaded;
}

function decode<T extends object>(typeName: string, bytes: Buffer): T {
  const type = protos().definition[typeName] as protoLoader.MessageTypeDefinition<object, T>;
  return type.deserialize(bytes);
}

/** The status of a failed call with its google.rpc details decoded. */
export function riftErrorFrom(error: grpc.ServiceError): RiftError {
  const init: ConstructorParameters<typeof RiftError>[0] = {
    code: error.code,
    details: error.details,
  };
  const [encoded] = error.metadata?.get('grpc-status-details-bin') ?? [];
  if (encoded instanceof Buffer) {
    const status = decode<Status__Output>('google.rpc.Status', encoded);
    for (const detail of status.details) {
      const typeName = detail.type_url.slice(detail.type_url.lastIndexOf('/') + 1);
      if (typeName === 'google.rpc.ErrorInfo') {
        const info = decode<ErrorInfo__Output>(typeName, detail.value);
        init.reason = info.reason;
        init.domain = info.domain;
        init.metadata = info.metadata;
      } else if (typeName === 'google.rpc.BadRequest') {
        const badRequest = decode<BadRequest__Output>(typeName, detail.value);
        init.fieldViolations = badRequest.fieldViolations.map(({ field, description }) => ({
          field,
          description,
        }));
      } else if (typeName === 'google.rpc.RetryInfo') {
        const delay = decode<RetryInfo__Output>(typeName, detail.value).retryDelay;
        if (delay) init.retryAfterMs = delay.seconds * 1000 + delay.nanos / 1e6;
      }
    }
  }
  return new RiftError(init);
}

/**
 * The notifications of one Subscribe call, as an async iterable (`for await`). `cancel()`
 * ends it, after which the iteration simply finishes.
 */
export class Subscription implements AsyncIterable<Notification> {
  // Events not yet taken by the reader; the call is paused while this many wait.
  private static readonly HIGH_WATER = 64;
  private readonly buffer: Notification[] = [];
  private failure?: RiftError;
  private ended = false;
  private cancelled = false;
  private wake?: () => void;

  constructor(private readonly call: grpc.ClientReadableStream<Notification__Output>) {
    call.on('data', (message: Notification__Output) => {
      this.buffer.push(toNotification(message));
      if (this.buffer.length >= Subscription.HIGH_WATER) call.pause();
      this.notify();
    });
    call.on('error', (error: grpc.ServiceError) => {
      if (!(this.cancelled && error.code === grpc.status.CANCELLED)) {
        this.failure = riftErrorFrom(error);
      }
      this.ended = true;
      this.notify();
    });
    call.on('end', () => {
      this.ended = true;
      this.notify();
    });
  }

  /** The next notification, or undefined once the stream is over. Throws RiftError. */
  async next(): Promise<Notification | undefined> {
    for (;;) {
      const event = this.buffer.shift();
      if (event !== undefined) {
        if (this.buffer.length < Subscription.HIGH_WATER) this.call.resume();
        return event;
      }
      if (this.failure) throw this.failure;
      if (this.ended) return undefined;
      await new Promise<void>((resolve) => (this.wake = resolve));
    }
  }

  async *[Symbol.asyncIterator](): AsyncIterator<Notification> {
    try {
      for (;;) {
        const event = await this.next();
        if (event === undefined) return;
        yield event;
      }
    } finally {
      // Leaving a `for await` early (break, return, throw) ends the call.
      this.cancel();
    }
  }

  cancel(): void {
    if (!this.ended) {
      this.cancelled = true;
      this.call.cancel();
    }
  }

  private notify(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }
}

export class RiftClient {
  private readonly stub: RiftStub;
  private readonly metadata: grpc.Metadata;
  private readonly timeoutMs: number;

  /**
   * `target` is `host:port` (an `http://` prefix is accepted, as RIFT_ADDR has it).
   */
  constructor(target: string = DEFAULT_TARGET, options: RiftClientOptions = {}) {
    const Rift = protos().proto.rift.v1.Rift;
    this.stub = new Rift(
      target.replace(/^http:\/\//, ''),
      options.credentials ?? grpc.credentials.createInsecure(),
    );
    this.metadata = new grpc.Metadata();
    if (options.token !== undefined) this.metadata.set('authorization', `Bearer ${options.token}`);
    this.timeoutMs = options.timeoutMs ?? 30_000;
  }

  /**
   * TechAgent: analyse `data` (any JSON values) and store the analysis of task `taskId`.
   *
   * `requestId` makes a retry return the original answer instead of analysing twice.
   * `expectedVersion` (0: no analysis yet) refuses with ABORTED (reason VERSION_MISMATCH,
   * `metadata.current_version`) when another write came first.
   */
  async analyze(
    taskId: string,
    data: Json[],
    options: { requestId?: string; expectedVersion?: number } = {},
  ): Promise<AnalyzeResult> {
    const request: AnalyzeRequest = {
      taskId,
      data: data.map(toValue),
      requestId: options.requestId ?? '',
    };
    if (options.expectedVersion !== undefined) request.expectedVersion = options.expectedVersion;
    const response = await this.unary<AnalyzeResponse__Output>((metadata, options, done) =>
      this.stub.analyze(request, metadata, options, done),
    );
    return {
      taskId: response.taskId,
      summary: response.summary,
      version: response.version,
      stats: toStats(response.stats),
    };
  }

  /** ConceptAgent: the narrative of the task's latest analysis. FAILED_PRECONDITION (reason
   * ANALYSIS_MISSING) before any analysis. `requestId` as in `analyze`. */
  async narrate(taskId: string, options: { requestId?: string } = {}): Promise<NarrateResult> {
    const request = { taskId, requestId: options.requestId ?? '' };
    const response = await this.unary<NarrateResponse__Output>((metadata, callOptions, done) =>
      this.stub.narrate(request, metadata, callOptions, done),
    );
    return {
      taskId: response.taskId,
      narrative: response.narrative,
      analysisVersion: response.analysisVersion,
    };
  }

  /** TaskAgent: where the task stands; records completion. */
  async progress(taskId: string): Promise<ProgressResult> {
    const response = await this.unary<ProgressResponse__Output>((metadata, options, done) =>
      this.stub.progress({ taskId }, metadata, options, done),
    );
    return {
      taskId: response.taskId,
      status: response.status,
      analysisVersion: response.analysisVersion,
      narrativeAnalysisVersion: response.narrativeAnalysisVersion,
    };
  }

  /** Admin: remove everything stored for the task; false when there was nothing. */
  async deleteTask(taskId: string): Promise<boolean> {
    const response = await this.unary<DeleteTaskResponse__Output>((metadata, options, done) =>
      this.stub.deleteTask({ taskId }, metadata, options, done),
    );
    return response.deleted;
  }

  /**
   * Notifications of agent writes for `taskId` (every task when empty), those after the
   * resume token `after` ("" for only what happens from now on, "0" for everything retained,
   * or a Notification.id), then live ones.
   *
   * Resolves once Rift has the subscription in place (its response headers arrived), so every
   * write made after that is delivered. An error shows up on the first `next()`.
   */
  async subscribe(taskId = '', after = ''): Promise<Subscription> {
    const call = this.stub.subscribe({ taskId, after }, this.metadata);
    const subscription = new Subscription(call);
    await new Promise<void>((resolve) => {
      call.once('metadata', () => resolve());
      call.once('status', () => resolve());
    });
    return subscription;
  }

  close(): void {
    this.stub.close();
  }

  /** One unary call with this client's metadata and deadline; failures become RiftError. */
  private unary<Res>(
    invoke: (
      metadata: grpc.Metadata,
      options: grpc.CallOptions,
      done: grpc.requestCallback<Res>,
    ) => grpc.ClientUnaryCall,
  ): Promise<Res> {
    return new Promise((resolve, reject) => {
      invoke(this.metadata, { deadline: Date.now() + this.timeoutMs }, (error, response) => {
        if (error) reject(riftErrorFrom(error));
        else if (response === undefined) reject(new Error('empty response'));
        else resolve(response);
      });
    });
  }
}

function toValue(value: Json): Value {
  if (value === null) return { nullValue: 'NULL_VALUE' };
  switch (typeof value) {
    case 'boolean':
      return { boolValue: value };
    case 'number':
      return { numberValue: value };
    case 'string':
      return { stringValue: value };
  }
  if (Array.isArray(value)) return { listValue: { values: value.map(toValue) } };
  return {
    structValue: {
      fields: Object.fromEntries(Object.entries(value).map(([k, v]) => [k, toValue(v)])),
    },
  };
}

function fromValue(value: Value__Output): Json {
  switch (value.kind) {
    case 'boolValue':
      return value.boolValue ?? false;
    case 'numberValue':
      return value.numberValue ?? 0;
    case 'stringValue':
      return value.stringValue ?? '';
    case 'listValue':
      return (value.listValue?.values ?? []).map(fromValue);
    case 'structValue':
      return fromStruct(value.structValue);
    default:
      return null;
  }
}

function fromStruct(struct: Struct__Output | null | undefined): { [key: string]: Json } {
  return Object.fromEntries(
    Object.entries(struct?.fields ?? {}).map(([k, v]) => [k, fromValue(v)]),
  );
}

function toStats(stats: AnalysisStats__Output | null): AnalysisStats {
  const types = stats?.types;
  const result: AnalysisStats = {
    itemCount: stats?.itemCount ?? 0,
    types: {
      nulls: types?.nulls ?? 0,
      booleans: types?.booleans ?? 0,
      numbers: types?.numbers ?? 0,
      strings: types?.strings ?? 0,
      lists: types?.lists ?? 0,
      objects: types?.objects ?? 0,
    },
  };
  if (stats?.numbers) {
    const { count, min, max, mean, sum } = stats.numbers;
    result.numbers = { count, min, max, mean, sum };
  }
  if (stats?.strings) {
    const { count, distinct, top } = stats.strings;
    result.strings = { count, distinct, top: top.map(({ value, count }) => ({ value, count })) };
  }
  return result;
}

function toNotification(message: Notification__Output): Notification {
  const notification: Notification = {
    id: message.id,
    taskId: message.taskId,
    agent: message.agent,
    action: message.action,
    payload: fromStruct(message.payload),
  };
  if (message.time) {
    notification.time = new Date(message.time.seconds * 1000 + message.time.nanos / 1e6);
  }
  return notification;
}
