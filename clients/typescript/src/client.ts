// RiftClient: the rift.v1.Rift API with plain values in and out, over any connect-es
// Transport: gRPC on Node (./node), grpc-web in browsers (./web). Messages and the service
// descriptor are protobuf-es code generated into src/gen (generate.js); subscriptions resume by
// themselves (./resume).

import { create, fromJson, type JsonObject, type JsonValue, toJson } from '@bufbuild/protobuf';
import { timestampDate, ValueSchema } from '@bufbuild/protobuf/wkt';
import { type CallOptions, type Client, createClient, type Transport } from '@connectrpc/connect';

import { RiftError } from './errors';
import {
  type AnalysisStats as AnalysisStatsMessage,
  AnalyzeRequestSchema,
  type Notification as NotificationMessage,
  ProfileSchema,
  Rift,
  TaskStatus as TaskStatusEnum,
} from './gen/rift/v1/rift_pb';
import { type Backoff, Resumption } from './resume';

/** Any JSON value: what `analyze` takes as items and what notification payloads hold. */
export type Json = JsonValue;

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

/** The proto's TaskStatus value names. */
export type TaskStatus = keyof typeof TaskStatusEnum;

export interface ProgressResult {
  taskId: string;
  status: TaskStatus;
  /** Latest analysis version; 0 when there is none. */
  analysisVersion: number;
  /** The analysis version the narrative was built on; 0 when there is none. */
  narrativeAnalysisVersion: number;
}

export interface Chart {
  /** histogram, top_strings or type_mix. */
  kind: string;
  /** The record field it is about; empty for the items themselves. */
  field: string;
  title: string;
  /** A self-contained SVG document (labels from the data escaped, no scripts). */
  svg: string;
}

export interface ReportResult {
  taskId: string;
  /** The analysis version whose items were profiled. */
  analysisVersion: number;
  /** The profile in the proto's JSON form (lowerCamelCase; 64-bit integers as strings). */
  profile: JsonObject;
  charts: Chart[];
}

/** The agent of Rift's own notices about the stream (history_truncated, ...). */
export const NOTICE_AGENT = 'Rift';
/** The resume token pointed before the retained history; the notice's id resumes with the oldest event retained. */
export const HISTORY_TRUNCATED = 'history_truncated';
/** The history is a new, empty incarnation (Redis lost its data). */
export const HISTORY_RESET = 'history_reset';
/** Events this subscriber already received are gone from the history. */
export const HISTORY_DIVERGED = 'history_diverged';

export interface Notification {
  /** Resume token: pass it as `after` to get exactly what came after this one. */
  id: string;
  taskId: string;
  /** TechAgent, ConceptAgent, TaskAgent, or Rift (NOTICE_AGENT) for notices about the stream. */
  agent: string;
  action: string;
  payload: JsonObject;
  time?: Date;
  /**
   * W3C traceparent of the write, when Rift exports traces: make it the parent of the span
   * that handles the notification to continue the writer's trace.
   */
  traceparent?: string;
}

export interface RiftClientOptions {
  /** Sent as `authorization: Bearer <token>` on every call. */
  token?: string;
  /** Deadline of each unary call, in milliseconds; `subscribe` has none. Default 30 s. */
  timeoutMs?: number;
}

export interface SubscribeOptions {
  /** The reconnect backoff (defaults: DEFAULT_BACKOFF); `false`: a plain stream that ends with its connection. */
  reconnect?: Partial<Backoff> | false;
}

/**
 * The notifications of a subscription, as an async iterable (`for await`) or through `next()`;
 * it reconnects and resumes by itself unless made with `reconnect: false`. `cancel()` (or
 * leaving a `for await` early) ends it, after which iteration simply finishes. `after` is the
 * resume token a new connection would ask for; `reconnects` counts the connections made after
 * the first.
 */
export class Subscription implements AsyncIterable<Notification> {
  private abort?: AbortController;
  private stream?: AsyncIterator<NotificationMessage>;
  private pending?: Promise<IteratorResult<NotificationMessage>>;
  private stopped = false;
  private ended = false;
  private wake?: () => void;

  constructor(
    private readonly open: (request: { taskId: string; after: string }, options: CallOptions) => AsyncIterable<NotificationMessage>,
    private readonly resumption: Resumption,
    private readonly reconnect: boolean,
  ) {}

  get after(): string {
    return this.resumption.after;
  }

  get reconnects(): number {
    return this.resumption.reconnects;
  }

  /** Opens a stream and waits for Rift's headers (the subscription is in place) or its end. */
  async connect(): Promise<void> {
    const abort = new AbortController();
    this.abort = abort;
    let headers!: () => void;
    const accepted = new Promise<void>((resolve) => (headers = resolve));
    const stream = this.open(this.resumption.request(), { signal: abort.signal, onHeader: () => headers() })[
      Symbol.asyncIterator
    ]();
    this.stream = stream;
    this.pending = stream.next();
    const settled = this.pending.then(
      () => false,
      () => false,
    );
    if (await Promise.race([accepted.then(() => true), settled])) this.resumption.connected();
  }

  /** The next notification, or undefined once the subscription is over. Throws RiftError. */
  async next(): Promise<Notification | undefined> {
    while (!this.ended && !this.stopped) {
      if (this.pending === undefined) await this.connect();
      let failure: RiftError | undefined;
      try {
        const result = await this.pending!;
        this.pending = undefined;
        if (!result.done) {
          this.pending = this.stream!.next();
          // Unhandled until read: a failure of this read surfaces on the next call.
          this.pending.catch(() => undefined);
          const notification = toNotification(result.value);
          this.resumption.delivered(notification);
          return notification;
        }
      } catch (error) {
        this.pending = undefined;
        failure = RiftError.from(error);
      }
      if (this.stopped) break;
      if (!this.reconnect) {
        this.ended = true;
        if (failure) throw failure;
        break;
      }
      let delay: number;
      try {
        delay = this.resumption.retryInMs(failure);
      } catch (error) {
        this.ended = true;
        throw error;
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, delay);
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.wake = undefined;
    }
    this.ended = true;
    return undefined;
  }

  async *[Symbol.asyncIterator](): AsyncIterator<Notification> {
    try {
      for (;;) {
        const event = await this.next();
        if (event === undefined) return;
        yield event;
      }
    } finally {
      // Leaving a `for await` early (break, return, throw) ends the subscription.
      this.cancel();
    }
  }

  cancel(): void {
    this.stopped = true;
    this.abort?.abort();
    this.wake?.();
  }
}

export class RiftClient {
  private readonly client: Client<typeof Rift>;
  private readonly headers: Record<string, string>;
  private readonly timeoutMs: number;

  /**
   * A client over `transport`: `createGrpcTransport` from @connectrpc/connect-node or
   * `createGrpcWebTransport` from @connectrpc/connect-web (createRiftClient and
   * createRiftWebClient make both for you). `onClose` runs at `close()`.
   */
  constructor(
    transport: Transport,
    options: RiftClientOptions = {},
    private readonly onClose: () => void = () => undefined,
  ) {
    this.client = createClient(Rift, transport);
    this.headers = options.token !== undefined ? { authorization: `Bearer ${options.token}` } : {};
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
    const request = create(AnalyzeRequestSchema, {
      taskId,
      data: data.map((item) => fromJson(ValueSchema, item)),
      requestId: options.requestId ?? '',
    });
    if (options.expectedVersion !== undefined) request.expectedVersion = BigInt(options.expectedVersion);
    const response = await this.unary((call) => this.client.analyze(request, call));
    return {
      taskId: response.taskId,
      summary: response.summary,
      version: Number(response.version),
      stats: toStats(response.stats),
    };
  }

  /** ConceptAgent: the narrative of the task's latest analysis. FAILED_PRECONDITION (reason
   * ANALYSIS_MISSING) before any analysis. `requestId` as in `analyze`. */
  async narrate(taskId: string, options: { requestId?: string } = {}): Promise<NarrateResult> {
    const request = { taskId, requestId: options.requestId ?? '' };
    const response = await this.unary((call) => this.client.narrate(request, call));
    return {
      taskId: response.taskId,
      narrative: response.narrative,
      analysisVersion: Number(response.analysisVersion),
    };
  }

  /** ReportAgent: profile and chart the items of the task's latest analysis, and store the
   * report. FAILED_PRECONDITION: reason ANALYSIS_MISSING before any analysis, DATA_MISSING
   * when another writer (the prototype) stored the latest one. */
  async report(taskId: string): Promise<ReportResult> {
    const response = await this.unary((call) => this.client.report({ taskId }, call));
    return {
      taskId: response.taskId,
      analysisVersion: Number(response.analysisVersion),
      profile: response.profile ? (toJson(ProfileSchema, response.profile) as JsonObject) : {},
      charts: response.charts.map(({ kind, field, title, svg }) => ({ kind, field, title, svg })),
    };
  }

  /** TaskAgent: where the task stands; records completion. */
  async progress(taskId: string): Promise<ProgressResult> {
    const response = await this.unary((call) => this.client.progress({ taskId }, call));
    return {
      taskId: response.taskId,
      status: TaskStatusEnum[response.status] as TaskStatus,
      analysisVersion: Number(response.analysisVersion),
      narrativeAnalysisVersion: Number(response.narrativeAnalysisVersion),
    };
  }

  /** Admin: remove everything stored for the task; false when there was nothing. */
  async deleteTask(taskId: string): Promise<boolean> {
    return (await this.unary((call) => this.client.deleteTask({ taskId }, call))).deleted;
  }

  /**
   * Notifications of agent writes for `taskId` (every task when empty), those after the
   * resume token `after` ("" for only what happens from now on, "0" for everything retained,
   * or a Notification.id), then live ones.
   *
   * Resolves once Rift has the subscription in place (its response headers arrived), so every
   * write made after that is delivered. A lost stream reconnects with backoff and resumes after
   * the last notification delivered; errors a retry cannot fix show up on `next()`.
   */
  async subscribe(taskId = '', after = '', options: SubscribeOptions = {}): Promise<Subscription> {
    const reconnect = options.reconnect ?? {};
    const subscription = new Subscription(
      (request, call) => this.client.subscribe(request, { ...call, headers: this.headers }),
      new Resumption(taskId, after, reconnect === false ? {} : reconnect),
      reconnect !== false,
    );
    await subscription.connect();
    return subscription;
  }

  /** Ends the client's connection (on Node); a browser's fetches need no closing. */
  close(): void {
    this.onClose();
  }

  /** One unary call with this client's headers and deadline; failures become RiftError. */
  private async unary<Res>(invoke: (options: CallOptions) => Promise<Res>): Promise<Res> {
    try {
      return await invoke({ headers: this.headers, timeoutMs: this.timeoutMs });
    } catch (error) {
      throw RiftError.from(error);
    }
  }
}

function toStats(stats: AnalysisStatsMessage | undefined): AnalysisStats {
  const types = stats?.types;
  const result: AnalysisStats = {
    itemCount: Number(stats?.itemCount ?? 0),
    types: {
      nulls: Number(types?.nulls ?? 0),
      booleans: Number(types?.booleans ?? 0),
      numbers: Number(types?.numbers ?? 0),
      strings: Number(types?.strings ?? 0),
      lists: Number(types?.lists ?? 0),
      objects: Number(types?.objects ?? 0),
    },
  };
  if (stats?.numbers) {
    const { count, min, max, mean, sum } = stats.numbers;
    result.numbers = { count: Number(count), min, max, mean, sum };
  }
  if (stats?.strings) {
    const { count, distinct, top } = stats.strings;
    result.strings = {
      count: Number(count),
      distinct: Number(distinct),
      top: top.map(({ value, count }) => ({ value, count: Number(count) })),
    };
  }
  return result;
}

function toNotification(message: NotificationMessage): Notification {
  const notification: Notification = {
    id: message.id,
    taskId: message.taskId,
    agent: message.agent,
    action: message.action,
    payload: message.payload ?? {},
  };
  if (message.time) notification.time = timestampDate(message.time);
  if (message.traceparent) notification.traceparent = message.traceparent;
  return notification;
}
