// The browser example (browser/) in a real headless Chromium, over grpc-web against a live Rift:
// the task flow, the task's notifications replayed then live, and a subscription that survives
// Rift being restarted on its port. The page is served from an origin of its own (a static
// server, browser/serve.js), as a deployment would, and Rift is told that origin where it asks.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';

import { type Browser, type Page, chromium } from 'playwright-core';

import { createRiftClient, RiftClient } from '../src';
import { Live, PACKAGE_ROOT, originArgs, startLive } from './fixtures';

const BROWSER_DIR = path.join(PACKAGE_ROOT, 'browser');
const WAIT_MS = 30_000;

// Plain JavaScript in browser/, not compiled: the server the README runs.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { servePage } = require(path.join(BROWSER_DIR, 'serve.js')) as {
  servePage: (port?: number) => Promise<{ origin: string; close: () => Promise<void> }>;
};

function chromiumPath(): string {
  const candidates = process.env.RIFT_CHROMIUM
    ? [process.env.RIFT_CHROMIUM]
    : ['/usr/bin/chromium', ...(process.env.PATH ?? '').split(path.delimiter).map((dir) => path.join(dir, 'chromium'))];
  const found = candidates.find((candidate) => candidate && fs.existsSync(candidate));
  if (!found) {
    throw new Error(
      'Chromium not found. Install it with `apt-get install -y chromium` (or run ' +
        '`bash scripts/test.sh`, which does), or set RIFT_CHROMIUM to its path.',
    );
  }
  return found;
}

async function shown(page: Page, count: number): Promise<{ text: string; id: string; version: string }[]> {
  await page.waitForFunction((n) => document.querySelectorAll('#events li').length >= n, count, {
    timeout: WAIT_MS,
  });
  return page.$$eval('#events li', (items) =>
    items.map((li) => ({
      text: li.textContent ?? '',
      id: (li as HTMLElement).dataset.id ?? '',
      version: (li as HTMLElement).dataset.version ?? '',
    })),
  );
}

describe('the browser example in Chromium, over grpc-web', () => {
  let browser: Browser;
  let page: Page;
  let pageServer: Awaited<ReturnType<typeof servePage>>;
  let live: Live;
  let writer: RiftClient;
  const problems: string[] = [];

  before(async () => {
    assert.ok(fs.existsSync(path.join(BROWSER_DIR, 'dist', 'app.js')), 'run `npm run build` first');
    pageServer = await servePage();
    live = await startLive(originArgs(pageServer.origin));
    // A second Rift on the same Redis: writes while the page's Rift is gone.
    writer = createRiftClient((await live.startRift(originArgs(pageServer.origin))).grpcAddr);
  });

  after(async () => {
    await browser?.close();
    writer?.close();
    await live?.stop();
    await pageServer?.close();
  });

  it('runs the task flow, then shows the notifications live, across a restart of Rift', async () => {
    // Launched here, not in before(): a missing Chromium fails this test rather than cancelling it.
    browser = await chromium.launch({
      executablePath: chromiumPath(),
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
    page = await browser.newPage();
    page.on('pageerror', (error) => problems.push(String(error)));
    const query = new URLSearchParams({ rift: `http://${live.grpcAddr}`, task: 'web-1' });
    await page.goto(`${pageServer.origin}/?${query}`);

    await page.waitForFunction(() => (document.getElementById('flow')?.textContent ?? '').split('\n').length > 4, null, {
      timeout: WAIT_MS,
    });
    const flow = (await page.textContent('#flow'))?.trim().split('\n');
    assert.deepEqual(flow, [
      'Analyzed 3 items',
      'The analysis for task web-1 concluded: Analyzed 3 items.',
      'COMPLETED',
      'FAILED_PRECONDITION ANALYSIS_MISSING',
    ]);
    assert.deepEqual(
      (await shown(page, 3)).map((e) => e.text),
      ['TechAgent analysis_stored', 'ConceptAgent narrative_stored', 'TaskAgent progress_completed'],
    );

    // Live: a write from elsewhere reaches the page.
    await writer.analyze('web-1', ['from node']);
    assert.equal((await shown(page, 4))[3].version, '2');

    // Rift restarted on its port: the page's subscription resumes after what it showed.
    await live.rift.stop();
    await writer.analyze('web-1', ['while it was gone']);
    await live.startRift(originArgs(pageServer.origin), live.grpcAddr);
    const marker = await writer.analyze('web-1', ['after the restart']);
    const events = await shown(page, 6);
    assert.deepEqual(
      events.slice(3).map((e) => [e.text, e.version]),
      [
        ['TechAgent analysis_stored', '2'],
        ['TechAgent analysis_stored', '3'],
        ['TechAgent analysis_stored', String(marker.version)],
      ],
    );
    assert.equal(new Set(events.map((e) => e.id)).size, events.length, 'a notification was shown twice');
    assert.match((await page.textContent('#state')) ?? '', /^live \(reconnected [1-9]\d* times\)$/);
    assert.deepEqual(problems, []);
  });
});
