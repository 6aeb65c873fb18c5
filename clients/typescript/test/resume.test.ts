// Self-resuming subscriptions: the policy on its own, then against live Rift processes stopped
// and started again on the same port and Redis, and a history trimmed below the resume token.
import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';

import {
  Code,
  HISTORY_DIVERGED,
  HISTORY_RESET,
  HISTORY_TRUNCATED,
  NOTICE_AGENT,
  Notification,
  Resumption,
  RiftClient,
  RiftError,
  Subscription,
  backoffDelay,
  createRiftClient,
} from '../src';
import { Live, startLive, take, within } from './fixtures';

const FAST = { initialMs: 50, maxMs: 500 };

function assertInOrderOnce(events: Notification[]): void {
  const ids = events.map((e) => e.id.split('-').map(Number));
  for (let i = 1; i < ids.length; i++) {
    const [ms, seq] = ids[i];
    const [pms, pseq] = ids[i - 1];
    assert.ok(ms > pms || (ms === pms && seq > pseq), `ids out of order or repeated: ${events.map((e) => e.id)}`);
  }
}

describe('the resume policy', () => {
  it('backs off up to its cap, with jitter below each ceiling', () => {
    const backoff = { initialMs: 100, maxMs: 2000, multiplier: 2, jitter: 0.5 };
    const ceilings = [100, 200, 400, 800, 1600, 2000, 2000];
    assert.deepEqual(ceilings.map((_, n) => backoffDelay(backoff, n, () => 0)), ceilings);
    assert.deepEqual(
      ceilings.map((_, n) => backoffDelay(backoff, n, () => 1)),
      ceilings.map((c) => c / 2),
    );
    assert.ok(backoffDelay(backoff, 10_000) <= 2000);
    assert.throws(() => new Resumption('', '', { initialMs: 0 }), RangeError);
    assert.throws(() => new Resumption('', '', { jitter: 2 }), RangeError);
  });

  it('moves the position with every delivered notification, notices included', () => {
    const resumption = new Resumption('101', '0', FAST);
    resumption.delivered({ id: '5-0' });
    assert.deepEqual(resumption.request(), { taskId: '101', after: '5-0' });
    for (const [action, position] of [
      [HISTORY_TRUNCATED, '9-0'],
      [HISTORY_RESET, '0'],
      [HISTORY_DIVERGED, '12-0'],
    ]) {
      resumption.delivered({ id: position, agent: NOTICE_AGENT, action } as Notification);
      assert.equal(resumption.after, position);
    }
    resumption.delivered({ id: '' });
    assert.equal(resumption.after, '12-0');
  });

  it('retries what a reconnection may fix, starting again once connected, and throws the rest', () => {
    const resumption = new Resumption('', '', { initialMs: 100, maxMs: 400, jitter: 0 });
    const unavailable = new RiftError({ code: Code.Unavailable, details: 'gone' });
    assert.deepEqual([1, 2, 3, 4].map(() => resumption.retryInMs(unavailable)), [100, 200, 400, 400]);
    resumption.connected();
    assert.equal(resumption.retryInMs(undefined), 100);
    assert.equal(resumption.reconnects, 5);
    const later = new RiftError({ code: Code.Unavailable, details: 'later', retryAfterMs: 300 });
    assert.equal(new Resumption('', '', { initialMs: 100, jitter: 0 }).retryInMs(later), 300);
    for (const code of [Code.InvalidArgument, Code.Unauthenticated, Code.PermissionDenied, Code.FailedPrecondition]) {
      const error = new RiftError({ code, details: 'no' });
      assert.throws(() => new Resumption('', '0', FAST).retryInMs(error), (thrown) => thrown === error);
    }
    const giveUp = new Resumption('', '0', { ...FAST, maxAttempts: 1 });
    giveUp.retryInMs(unavailable);
    assert.throws(() => giveUp.retryInMs(unavailable), (thrown) => thrown === unavailable);
  });

  it('resumes a slow subscriber from its own position, or the server’s when it has none', () => {
    const tooSlow = new RiftError({
      code: Code.ResourceExhausted,
      details: 'too slow',
      reason: 'SUBSCRIBER_TOO_SLOW',
      metadata: { resume_after: '7-0' },
    });
    const delivered = new Resumption('', '3-0', FAST);
    delivered.retryInMs(tooSlow);
    assert.equal(delivered.after, '3-0');
    const liveOnly = new Resumption('', '', FAST);
    liveOnly.retryInMs(tooSlow);
    assert.equal(liveOnly.after, '7-0');
  });
});

describe('a self-resuming subscription on live Rift processes', () => {
  let live: Live | undefined;
  const clients: RiftClient[] = [];
  const client = (addr: string): RiftClient => {
    const made = createRiftClient(addr);
    clients.push(made);
    return made;
  };

  afterEach(async () => {
    for (const made of clients.splice(0)) made.close();
    await live?.stop();
    live = undefined;
  });

  it('survives Rift being restarted on its port: no gap, no duplicate', async () => {
    live = await startLive();
    // A second Rift on the same Redis writes while the subscriber's own is gone.
    const writer = client((await live.startRift()).grpcAddr);
    await writer.analyze('r', [0]);
    const events = await client(live.grpcAddr).subscribe('r', '0', { reconnect: FAST });
    // Reads on, and so reconnects, while the servers change.
    const reading = take(events, 7);
    await writer.analyze('r', [1]);

    await live.rift.stop();
    for (const n of [2, 3, 4]) await writer.analyze('r', [n]); // while it cannot reach its Rift
    await live.startRift([], live.grpcAddr);
    await writer.analyze('r', [5]);
    // A marker: had anything been delivered twice, it would come before this one.
    const marker = await writer.analyze('r', ['last']);
    const received = await reading;
    events.cancel();

    assert.deepEqual(
      received.map((e) => e.payload.version),
      [1, 2, 3, 4, 5, 6, marker.version],
    );
    assertInOrderOnce(received);
    assert.ok(events.reconnects >= 1, 'it never reconnected');
    assert.equal(events.after, received[received.length - 1].id);
    assert.equal(await events.next(), undefined);
  });

  it('without reconnect, ends when Rift stops', async () => {
    live = await startLive();
    const events = await client(live.grpcAddr).subscribe('r', '', { reconnect: false });
    await live.rift.stop();
    try {
      assert.equal(await within(events.next(), 'the end'), undefined);
    } catch (error) {
      assert.ok(error instanceof RiftError && error.code === Code.Unavailable, String(error));
    }
    assert.equal(events.reconnects, 0);
  });

  it('announces a truncated history once, then resumes from the notice', async () => {
    // MAXLEN ~ trims whole stream nodes (100 entries each by default): write past two.
    live = await startLive(['--max-events', '10']);
    const rift = client(live.grpcAddr);
    for (let n = 0; n < 250; n++) await rift.analyze('h', [n]);
    const events = await rift.subscribe('h', '1-0', { reconnect: FAST });
    const [notice, oldest] = await take(events, 2);
    assert.deepEqual([notice.agent, notice.action], [NOTICE_AGENT, HISTORY_TRUNCATED]);
    assert.equal(notice.payload.requested_after, '1-0');
    assert.equal(notice.payload.oldest_retained, oldest.id);
    const retained = [oldest, ...(await take(events, 250 - Number(oldest.payload.version)))];
    assert.equal(retained[retained.length - 1].payload.version, 250);

    // Restarted, it resumes after what it delivered: no second notice, no replay.
    const next = take(events, 1);
    await live.rift.stop();
    const restarted = await live.startRift(['--max-events', '10'], live.grpcAddr);
    await client(restarted.grpcAddr).analyze('h', ['new']);
    const [fresh] = await next;
    events.cancel();
    assert.deepEqual([fresh.action, fresh.payload.version], ['analysis_stored', 251]);
    assertInOrderOnce([notice, ...retained, fresh]);
  });

  it('throws a refused token instead of retrying it', async () => {
    live = await startLive();
    const events = await client(live.grpcAddr).subscribe('101', 'not-a-token', { reconnect: FAST });
    await assert.rejects(events.next(), (error) => error instanceof RiftError && error.code === Code.InvalidArgument);
    assert.equal(events.reconnects, 0);
    assert.equal(await events.next(), undefined);
  });
});
