// RiftClient against a live Rift on a real Redis: the task flow with the prototype's exact
// texts, typed errors with decoded details, and Subscribe with replay, resume and live events.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { promisify } from 'node:util';

import { Code, RiftClient, RiftError, createRiftClient } from '../src';
import { Live, PACKAGE_ROOT, startLive, take } from './fixtures';

async function failure(call: Promise<unknown>): Promise<RiftError> {
  try {
    await call;
  } catch (error) {
    assert.ok(error instanceof RiftError, `not a RiftError: ${String(error)}`);
    return error;
  }
  assert.fail('the call succeeded');
}

describe('RiftClient on a live Rift', () => {
  let live: Live;
  let rift: RiftClient;

  beforeEach(async () => {
    live = await startLive();
    rift = createRiftClient(live.grpcAddr);
  });

  afterEach(async () => {
    rift?.close();
    await live?.stop();
  });

  it('runs the prototype flow to the byte', async () => {
    assert.deepEqual(await rift.analyze('101', ['data1', 'data2', 'data3']), {
      taskId: '101',
      summary: 'Analyzed 3 items',
      version: 1,
      stats: {
        itemCount: 3,
        types: { nulls: 0, booleans: 0, numbers: 0, strings: 3, lists: 0, objects: 0 },
        strings: {
          count: 3,
          distinct: 3,
          top: [
            { value: 'data1', count: 1 },
            { value: 'data2', count: 1 },
            { value: 'data3', count: 1 },
          ],
        },
      },
    });
    assert.deepEqual(await rift.narrate('101'), {
      taskId: '101',
      narrative: 'The analysis for task 101 concluded: Analyzed 3 items.',
      analysisVersion: 1,
    });
    assert.deepEqual(await rift.progress('101'), {
      taskId: '101',
      status: 'COMPLETED',
      analysisVersion: 1,
      narrativeAnalysisVersion: 1,
    });
    const report = await rift.report('101');
    assert.equal(report.analysisVersion, 1);
    assert.equal(report.profile.itemCount, '3');
    assert.deepEqual(
      report.charts.map((chart) => chart.kind),
      ['type_mix', 'top_strings'],
    );
    assert.ok(report.charts.every((chart) => chart.svg.startsWith('<svg')));
  });

  it('follows a task through every status', async () => {
    assert.equal((await rift.progress('7')).status, 'NOT_STARTED');
    await rift.analyze('7', [1]);
    assert.equal((await rift.progress('7')).status, 'IN_PROGRESS');
    await rift.narrate('7');
    assert.equal((await rift.progress('7')).status, 'COMPLETED');
    assert.equal((await rift.analyze('7', [1, 2])).version, 2);
    const stale = await rift.progress('7');
    assert.deepEqual(
      [stale.status, stale.analysisVersion, stale.narrativeAnalysisVersion],
      ['STALE', 2, 1],
    );
  });

  it('analyses any JSON values', async () => {
    const result = await rift.analyze('mixed', [1, 2.5, 'a', 'a', 'b', null, true, [1], { k: 'v' }]);
    assert.equal(result.summary, 'Analyzed 9 items');
    assert.deepEqual(result.stats.types, {
      nulls: 1,
      booleans: 1,
      numbers: 2,
      strings: 3,
      lists: 1,
      objects: 1,
    });
    assert.deepEqual(result.stats.numbers, { count: 2, min: 1, max: 2.5, mean: 1.75, sum: 3.5 });
    assert.deepEqual(result.stats.strings?.top, [
      { value: 'a', count: 2 },
      { value: 'b', count: 1 },
    ]);
  });

  for (const taskId of ['', 'has space', 'x'.repeat(129)]) {
    it(`refuses task id ${JSON.stringify(taskId.slice(0, 12))} naming the field`, async () => {
      const error = await failure(rift.analyze(taskId, ['a']));
      assert.equal(error.code, Code.InvalidArgument);
      assert.equal(error.codeName, 'INVALID_ARGUMENT');
      assert.deepEqual(
        error.fieldViolations.map((v) => v.field),
        ['task_id'],
      );
      assert.ok(error.fieldViolations[0].description.length > 0);
      assert.equal(error.reason, undefined);
    });
  }

  it('says ANALYSIS_MISSING for narrate before analyze', async () => {
    const error = await failure(rift.narrate('never-analyzed'));
    assert.equal(error.code, Code.FailedPrecondition);
    assert.deepEqual([error.reason, error.domain], ['ANALYSIS_MISSING', 'rift.v1']);
    assert.equal(error.details, 'task never-analyzed has no analysis yet: analyze it first');
    assert.equal(error.message, `FAILED_PRECONDITION: ${error.details}`);
  });

  it('replays, then resumes exactly after a token, then goes live', async () => {
    await rift.analyze('101', ['x']);
    await rift.narrate('101');
    await rift.progress('101');
    await rift.analyze('202', []); // another task: not in task 101's stream

    const all = await rift.subscribe('101', '0');
    const replayed = await take(all, 3);
    all.cancel();
    assert.deepEqual(
      replayed.map((e) => [e.taskId, e.agent, e.action]),
      [
        ['101', 'TechAgent', 'analysis_stored'],
        ['101', 'ConceptAgent', 'narrative_stored'],
        ['101', 'TaskAgent', 'progress_completed'],
      ],
    );
    assert.equal(replayed[0].payload.summary, 'Analyzed 1 items');
    assert.ok(replayed[0].time instanceof Date);

    const resumed = await rift.subscribe('101', replayed[0].id);
    assert.deepEqual(
      (await take(resumed, 2)).map((e) => e.id),
      replayed.slice(1).map((e) => e.id),
    );
    // Nothing else was replayed: the next event is one written now.
    await rift.analyze('202', ['other task']);
    const fresh = await rift.analyze('101', ['y', 'z']);
    const [next] = await take(resumed, 1);
    resumed.cancel();
    assert.deepEqual(
      [next.taskId, next.action, next.payload.version],
      ['101', 'analysis_stored', fresh.version],
    );
  });

  it('from now on sees only later writes, through for await', async () => {
    await rift.analyze('old', ['before']);
    const events = await rift.subscribe();
    await rift.analyze('new', ['after']);
    for await (const event of events) {
      assert.deepEqual(
        [event.taskId, event.agent, event.action],
        ['new', 'TechAgent', 'analysis_stored'],
      );
      break; // ends the call
    }
    assert.equal(await events.next(), undefined);
  });

  it('refuses a bad resume token on the first read', async () => {
    const events = await rift.subscribe('101', 'not-a-token');
    const error = await failure(events.next());
    assert.equal(error.code, Code.InvalidArgument);
    assert.deepEqual(
      error.fieldViolations.map((v) => v.field),
      ['after'],
    );
  });

  it('aborts a stale expected version, carrying the current one', async () => {
    await rift.analyze('101', [1]);
    const error = await failure(rift.analyze('101', [2], { expectedVersion: 0 }));
    assert.equal(error.code, Code.Aborted);
    assert.equal(error.reason, 'VERSION_MISMATCH');
    assert.deepEqual(error.metadata, { current_version: '1' });
    assert.equal((await rift.analyze('101', [2], { expectedVersion: 1 })).version, 2);
  });

  it('returns the original answer to a retry with the same request id', async () => {
    const first = await rift.analyze('101', ['a'], { requestId: 'retry-1' });
    assert.deepEqual(await rift.analyze('101', ['a'], { requestId: 'retry-1' }), first);
    assert.equal(first.version, 1);
    assert.deepEqual(
      await rift.narrate('101', { requestId: 'n-1' }),
      await rift.narrate('101', { requestId: 'n-1' }),
    );
    assert.equal((await rift.progress('101')).analysisVersion, 1);
  });

  it('deletes a task', async () => {
    await rift.analyze('101', [1]);
    assert.equal(await rift.deleteTask('101'), true);
    assert.equal(await rift.deleteTask('101'), false);
    assert.equal((await rift.progress('101')).status, 'NOT_STARTED');
  });

  it('runs the example as documented', async () => {
    const { stdout } = await promisify(execFile)(
      process.execPath,
      [path.join(PACKAGE_ROOT, 'dist', 'example.js')],
      { env: { ...process.env, RIFT_ADDR: live.grpcAddr }, timeout: 60_000 },
    );
    const lines = stdout.trim().split('\n');
    assert.deepEqual(lines.slice(0, 4), [
      'Analyzed 3 items',
      'The analysis for task 101 concluded: Analyzed 3 items.',
      'COMPLETED',
      'FAILED_PRECONDITION ANALYSIS_MISSING',
    ]);
    assert.deepEqual(
      lines.slice(4).map((line) => line.split(' ').slice(1)),
      [
        ['TechAgent', 'analysis_stored'],
        ['ConceptAgent', 'narrative_stored'],
        ['TaskAgent', 'progress_completed'],
      ],
    );
  });
});

describe('RiftClient on a Rift that asks for tokens', () => {
  it('sends the token, and is refused what its role may not do', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rift-ts-tokens-'));
    const tokens = path.join(dir, 'tokens');
    fs.writeFileSync(tokens, 'reader reader-token-0123456789\nwriter writer-token-0123456789\n');
    const live = await startLive(['--tokens-file', tokens]);
    const clients: RiftClient[] = [];
    const client = (token?: string): RiftClient => {
      const made = createRiftClient(live.grpcAddr, { token });
      clients.push(made);
      return made;
    };
    try {
      assert.equal((await failure(client().progress('101'))).code, Code.Unauthenticated);
      const reader = client('reader-token-0123456789');
      assert.equal((await reader.progress('101')).status, 'NOT_STARTED');
      assert.equal(
        (await failure(reader.analyze('101', [1]))).code,
        Code.PermissionDenied,
      );
      const writer = client('writer-token-0123456789');
      assert.equal((await writer.analyze('101', [1])).version, 1);
      const events = await writer.subscribe('101', '0');
      assert.equal((await events.next())?.action, 'analysis_stored');
      events.cancel();
    } finally {
      for (const made of clients) made.close();
      await live.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('RiftClient without a Rift', () => {
  it('says UNAVAILABLE', async () => {
    // A port that was just free: nothing listens there once the probe is closed.
    const probe = net.createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const { port } = probe.address() as net.AddressInfo;
    await new Promise((resolve) => probe.close(resolve));
    const rift = createRiftClient(`127.0.0.1:${port}`, { timeoutMs: 10_000 });
    try {
      const error = await failure(rift.progress('101'));
      assert.equal(error.code, Code.Unavailable);
    } finally {
      rift.close();
    }
  });
});
