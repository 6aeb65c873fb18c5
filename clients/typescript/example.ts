// Rift from TypeScript: the task flow, a typed error, and a replay of the task's notifications.
//
//     cd clients/typescript && npm ci && npm run build
//     RIFT_ADDR=127.0.0.1:50051 node dist/example.js
import { createRiftClient, RiftError } from './src';

async function main(): Promise<void> {
  const rift = createRiftClient(process.env.RIFT_ADDR ?? '127.0.0.1:50051', {
    token: process.env.RIFT_TOKEN,
  });
  try {
    console.log((await rift.analyze('101', ['data1', 'data2', 'data3'])).summary);
    console.log((await rift.narrate('101')).narrative);
    console.log((await rift.progress('101')).status);

    try {
      await rift.narrate('never-analyzed');
    } catch (error) {
      if (!(error instanceof RiftError)) throw error;
      console.log(error.codeName, error.reason);
    }

    // "0": everything retained, then live; a notification's id resumes right after it. The
    // subscription reconnects and resumes by itself if the stream is lost.
    let shown = 0;
    for await (const event of await rift.subscribe('101', '0')) {
      console.log(event.id, event.agent, event.action);
      if (++shown === 3) break;
    }
  } finally {
    rift.close();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
