// The browser example: runs the task flow against Rift over grpc-web, then follows the task's
// notifications with a self-resuming subscription, which survives Rift being restarted.
// Parameters come from the page's query: rift (Rift's gRPC port as a URL, default
// http://127.0.0.1:50051), task (default 101), token (optional).
import { RiftError, createRiftWebClient } from '../src/web';

const query = new URLSearchParams(location.search);
const task = query.get('task') ?? '101';
const rift = createRiftWebClient(query.get('rift') ?? 'http://127.0.0.1:50051', {
  token: query.get('token') ?? undefined,
});

const flow = document.getElementById('flow')!;
const events = document.getElementById('events')!;
const state = document.getElementById('state')!;

function show(line: string): void {
  flow.textContent += `${line}\n`;
}

async function main(): Promise<void> {
  show((await rift.analyze(task, ['data1', 'data2', 'data3'])).summary);
  show((await rift.narrate(task)).narrative);
  show((await rift.progress(task)).status);
  try {
    await rift.narrate('never-analyzed');
  } catch (error) {
    if (!(error instanceof RiftError)) throw error;
    show(`${error.codeName} ${error.reason}`);
  }

  const subscription = await rift.subscribe(task, '0');
  state.textContent = 'live';
  for await (const event of subscription) {
    const item = document.createElement('li');
    item.dataset.id = event.id;
    item.dataset.version = String(event.payload.version ?? '');
    item.textContent = `${event.agent} ${event.action}`;
    events.append(item);
    state.textContent = `live (reconnected ${subscription.reconnects} times)`;
  }
}

main().catch((error: unknown) => {
  state.textContent = `failed: ${String(error)}`;
});
