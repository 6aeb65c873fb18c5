// WebSocket Analyze by k6, the load tool the project did not write: VUS connections, each
// sending the prototype's natural-language Analyze command and waiting for its reply before the
// next (closed loop, as rift-bench's `ws --op analyze`), for DURATION_S seconds. Run against Rift
// or the prototype (SERVER=prototype: numeric task ids, each reply exactly the prototype's
// text); scripts/k6/run.py drives both and reads the summary this writes to SUMMARY.
//
// k6 has no sub-millisecond clock in scripts (no performance.now), so the latency trend is in
// whole milliseconds: use it for the tail, not for p50.
import { WebSocket } from 'k6/experimental/websockets';
import { Counter, Trend } from 'k6/metrics';
import exec from 'k6/execution';

const URL = __ENV.WS_URL || 'ws://127.0.0.1:8000/ws';
const SERVER = __ENV.SERVER || 'rift';
const VUS = parseInt(__ENV.VUS || '64', 10);
const DURATION_MS = parseFloat(__ENV.DURATION_S || '10') * 1000;
// Digits only, whatever the server: the prototype takes no other task id.
const TAG = __ENV.TAG || String(Date.now() % 1e9).padStart(9, '0');

export const options = {
  scenarios: {
    analyze: {
      executor: 'per-vu-iterations',
      vus: VUS,
      iterations: 1,
      maxDuration: `${Math.ceil(DURATION_MS / 1000) + 30}s`,
    },
  },
  // A wrong reply fails the run (k6 exits non-zero), as in rift-bench.
  thresholds: { bad_replies: ['count==0'], analyzed: ['count>0'] },
  summaryTrendStats: ['avg', 'med', 'p(90)', 'p(99)', 'max'],
};

const analyzed = new Counter('analyzed');
const badReplies = new Counter('bad_replies');
const latency = new Trend('analyze_ms');
// The first wrong reply of a VU is logged, not every one.
let reported = false;

export default function () {
  const id = `${TAG}${String(exec.vu.idInTest).padStart(5, '0')}`;
  const command = `Analyze data for task ${id} with data: ["data1", "data2", "data3"]`;
  // The prototype's reply; Rift's starts the same and carries more fields.
  const prototypeReply = `{"task_id": "${id}", "summary": "Analyzed 3 items"}`;
  const riftPrefix = prototypeReply.slice(0, -1);
  const ws = new WebSocket(URL);
  let sentAt = 0;
  let until = 0;
  ws.onopen = () => {
    until = Date.now() + DURATION_MS;
    sentAt = Date.now();
    ws.send(command);
  };
  ws.onmessage = (event) => {
    const now = Date.now();
    const reply = String(event.data);
    const good = SERVER === 'prototype' ? reply === prototypeReply : reply.startsWith(riftPrefix);
    if (good) {
      analyzed.add(1);
      latency.add(now - sentAt);
    } else {
      badReplies.add(1);
      if (!reported) console.error(`unexpected reply: ${reply}`);
      reported = true;
    }
    if (now >= until) {
      ws.close();
      return;
    }
    sentAt = Date.now();
    ws.send(command);
  };
  ws.onerror = (event) => {
    badReplies.add(1);
    console.error(`WebSocket error: ${event.error}`);
  };
}

export function handleSummary(data) {
  const out = {};
  if (__ENV.SUMMARY) out[__ENV.SUMMARY] = JSON.stringify(data, null, 1);
  return out;
}
