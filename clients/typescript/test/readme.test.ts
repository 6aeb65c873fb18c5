// The README's TypeScript section works as written: its snippet, bundled as it stands (imports
// from './src' resolved in this package), runs after the example against a live Rift and prints
// exactly what its comments say.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, it } from 'node:test';
import { promisify } from 'node:util';

import { buildSync } from 'esbuild';

import { Live, PACKAGE_ROOT, startLive } from './fixtures';

const README = path.join(PACKAGE_ROOT, '..', '..', 'README.md');
// `console.log(...) // what it prints`: the comment is the line the log writes.
const LOGS = /console\.log\(.*\/\/ (?<expected>.+)$/;

function typescriptSection(): string {
  const readme = fs.readFileSync(README, 'utf8');
  const start = readme.indexOf('**TypeScript** (`clients/typescript`');
  assert.ok(start >= 0, 'the README has no TypeScript section');
  return readme.slice(start, readme.indexOf('**Browsers (grpc-web).**', start));
}

let live: Live | undefined;
after(async () => {
  await live?.stop();
});

it('the snippet prints what its comments say, after the example', async () => {
  const snippets = [...typescriptSection().matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]);
  assert.equal(snippets.length, 1);
  const expected = snippets[0]
    .split('\n')
    .map((line) => LOGS.exec(line)?.groups?.expected.trim())
    .filter((line): line is string => line !== undefined);
  assert.ok(expected.length > 0, 'no commented console.log lines');

  // Started here, not in before(): a missing binary fails this test rather than cancelling it.
  live = await startLive();
  const env = { ...process.env, RIFT_ADDR: live.grpcAddr };
  const run = promisify(execFile);
  await run(process.execPath, [path.join(PACKAGE_ROOT, 'dist', 'example.js')], { env, timeout: 60_000 });

  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rift-ts-readme-'));
  try {
    const script = path.join(dir, 'snippet.js');
    buildSync({
      stdin: { contents: snippets[0], resolveDir: PACKAGE_ROOT, loader: 'ts' },
      bundle: true,
      platform: 'node',
      format: 'cjs',
      outfile: script,
      logLevel: 'error',
    });
    const { stdout } = await run(process.execPath, [script], { env, timeout: 60_000 });
    assert.deepEqual(stdout.trim().split('\n'), expected);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

it('the commands it gives are the package scripts', () => {
  const section = typescriptSection();
  assert.match(section, /npm ci && npm run build\nRIFT_ADDR=127\.0\.0\.1:50051 node dist\/example\.js/);
  const manifest = JSON.parse(fs.readFileSync(path.join(PACKAGE_ROOT, 'package.json'), 'utf8'));
  assert.ok(manifest.scripts.build && manifest.scripts.generate, 'build and generate scripts');
  assert.ok(fs.existsSync(path.join(PACKAGE_ROOT, 'browser', 'serve.js')));
});
