// gRPC Analyze by k6: VUS virtual users, each with its own connection to Rift (k6 gives each VU
// a client of its own), calling rift.v1.Rift/Analyze with 3 items one call at a time for
// DURATION_S seconds. The service is found by server reflection, as grpcurl finds it, so no
// .proto is read here. Only Rift: the prototype has no gRPC. scripts/k6/run.py reads SUMMARY.
import grpc from 'k6/net/grpc';
import { check } from 'k6';
import { Counter } from 'k6/metrics';
import exec from 'k6/execution';

const ADDR = __ENV.GRPC_ADDR || '127.0.0.1:50051';
const VUS = parseInt(__ENV.VUS || '64', 10);
const DURATION_S = parseFloat(__ENV.DURATION_S || '10');
const TAG = __ENV.TAG || String(Date.now() % 1e9).padStart(9, '0');

export const options = {
  scenarios: {
    analyze: { executor: 'constant-vus', vus: VUS, duration: `${DURATION_S}s` },
  },
  thresholds: { bad_replies: ['count==0'], analyzed: ['count>0'] },
  summaryTrendStats: ['avg', 'med', 'p(90)', 'p(99)', 'max'],
};

const analyzed = new Counter('analyzed');
const badReplies = new Counter('bad_replies');
const client = new grpc.Client();
let connected = false;

export default function () {
  if (!connected) {
    client.connect(ADDR, { plaintext: true, reflect: true });
    connected = true;
  }
  const taskId = `${TAG}${String(exec.vu.idInTest).padStart(5, '0')}`;
  const response = client.invoke('rift.v1.Rift/Analyze', {
    task_id: taskId,
    data: ['data1', 'data2', 'data3'],
  });
  const good = check(response, {
    'status OK': (r) => r && r.status === grpc.StatusOK,
    'summary is the prototype\'s': (r) => r && r.message && r.message.summary === 'Analyzed 3 items',
  });
  if (good) analyzed.add(1);
  else badReplies.add(1);
}

export function handleSummary(data) {
  const out = {};
  if (__ENV.SUMMARY) out[__ENV.SUMMARY] = JSON.stringify(data, null, 1);
  return out;
}
