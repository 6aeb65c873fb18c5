// Self-resuming subscriptions: the policy, apart from the calling and the waiting.
//
// A subscription that loses its stream (Rift restarted, the network dropped, Redis briefly
// gone) connects again by itself after an exponential backoff with jitter and a cap, and asks
// for what came strictly after the last notification it delivered: every event once, in
// order, no gap. Rift's notices (agent `Rift`: history_truncated, history_reset,
// history_diverged) are delivered like any notification and move the position too, since
// each carries as its id the position to go on from. Failures a retry cannot fix are thrown.
// The Python client (clients/python/rift_client/resume.py) follows the same policy.

import { Code } from '@connectrpc/connect';

import { RiftError } from './errors';

/** Failures a later connection may not have: the server or the network, not the request. */
export const RETRYABLE: ReadonlySet<Code> = new Set([
  Code.Unavailable,
  Code.ResourceExhausted,
  Code.DeadlineExceeded,
  Code.Aborted,
  // A connection reset mid-stream, or a fetch that failed in a browser.
  Code.Internal,
  Code.Unknown,
]);

/** Rift cut the subscriber off for not reading; ErrorInfo metadata `resume_after` says where. */
export const SUBSCRIBER_TOO_SLOW = 'SUBSCRIBER_TOO_SLOW';

/**
 * How long to wait before reconnecting: `initialMs`, times `multiplier` after each failed
 * attempt, never more than `maxMs`; each delay shortened by a random part of up to `jitter` of
 * it, so the subscribers of one restarted server do not all come back at once. The count starts
 * again once a connection succeeds; `maxAttempts` consecutive failures give up, throwing the
 * last error (undefined: never).
 */
export interface Backoff {
  initialMs: number;
  maxMs: number;
  multiplier: number;
  jitter: number;
  maxAttempts?: number;
}

export const DEFAULT_BACKOFF: Readonly<Backoff> = {
  initialMs: 100,
  maxMs: 5000,
  multiplier: 2,
  jitter: 0.5,
};

/** Milliseconds before reconnect attempt `attempt` (0: the first after a failure). */
export function backoffDelay(backoff: Backoff, attempt: number, random: () => number = Math.random): number {
  const ceiling = Math.min(backoff.maxMs, backoff.initialMs * backoff.multiplier ** Math.min(attempt, 64));
  return ceiling * (1 - backoff.jitter * random());
}

function checked(backoff: Backoff): Backoff {
  const { initialMs, maxMs, multiplier, jitter } = backoff;
  if (!(initialMs > 0 && initialMs <= maxMs && multiplier >= 1 && jitter >= 0 && jitter <= 1)) {
    throw new RangeError(`not a backoff: ${JSON.stringify(backoff)}`);
  }
  return backoff;
}

/**
 * Where a self-resuming subscription stands. `after` is the token the next connection asks
 * for: the one given, then the id of each notification delivered. One started with
 * `after = ""` (live only) has no position until its first notification: events written while
 * it is disconnected before then are not replayed.
 */
export class Resumption {
  /** Connections made after the first. */
  reconnects = 0;
  private failures = 0;
  readonly backoff: Backoff;

  constructor(
    readonly taskId: string,
    public after: string,
    backoff: Partial<Backoff> = {},
    private readonly random: () => number = Math.random,
  ) {
    this.backoff = checked({ ...DEFAULT_BACKOFF, ...backoff });
  }

  request(): { taskId: string; after: string } {
    return { taskId: this.taskId, after: this.after };
  }

  /** Rift accepted the subscription (its headers arrived): the backoff starts again. */
  connected(): void {
    this.failures = 0;
  }

  delivered(notification: { id: string }): void {
    if (notification.id) this.after = notification.id;
  }

  /**
   * The stream failed with `error` (undefined: Rift ended it, as at shutdown): milliseconds to
   * wait before the next connection. Throws `error` when retrying cannot help.
   */
  retryInMs(error: RiftError | undefined): number {
    if (error !== undefined) {
      if (!RETRYABLE.has(error.code)) throw error;
      // The last id delivered is the safer position (what was in flight was never delivered);
      // the server's is better than none for a live-only subscription.
      if (error.reason === SUBSCRIBER_TOO_SLOW && !this.after) {
        this.after = error.metadata.resume_after ?? '';
      }
    }
    const { maxAttempts, maxMs } = this.backoff;
    if (maxAttempts !== undefined && this.failures >= maxAttempts) {
      throw error ?? new RiftError({ code: Code.Unavailable, details: 'the stream kept ending' });
    }
    let delay = backoffDelay(this.backoff, this.failures, this.random);
    if (error?.retryAfterMs !== undefined) delay = Math.max(delay, Math.min(error.retryAfterMs, maxMs));
    this.failures += 1;
    this.reconnects += 1;
    return delay;
  }
}
