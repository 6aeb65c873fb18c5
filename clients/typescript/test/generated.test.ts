// The checked-in protobuf-es code is exactly what generate.js makes of the current protos.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { it } from 'node:test';

import { PACKAGE_ROOT } from './fixtures';

// Plain JavaScript beside package.json, not compiled: loaded at run time.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { generate, GENERATED } = require(path.join(PACKAGE_ROOT, 'generate.js')) as {
  generate: (out: string) => void;
  GENERATED: string;
};

function files(root: string): string[] {
  const base = path.join(root, GENERATED);
  return (fs.readdirSync(base, { recursive: true }) as string[])
    .filter((name) => fs.statSync(path.join(base, name)).isFile())
    .map((name) => path.join(GENERATED, name))
    .sort();
}

it('generated code matches the protos', () => {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'rift-ts-gen-'));
  try {
    generate(out);
    const generated = files(out);
    assert.ok(generated.length > 0, 'generate.js wrote nothing');
    assert.deepEqual(files(PACKAGE_ROOT), generated, `the set of files in ${GENERATED} changed`);
    const stale = generated.filter(
      (name) => !fs.readFileSync(path.join(out, name)).equals(fs.readFileSync(path.join(PACKAGE_ROOT, name))),
    );
    assert.deepEqual(
      stale,
      [],
      'these differ from what the protos generate: run `npm run generate` in clients/typescript ' +
        '(after `npm ci`) and commit the result',
    );
  } finally {
    fs.rmSync(out, { recursive: true, force: true });
  }
});

it('loads no .proto at run time and has no google-proto-files', () => {
  const manifest = JSON.parse(fs.readFileSync(path.join(PACKAGE_ROOT, 'package.json'), 'utf8'));
  const runtime = Object.keys(manifest.dependencies ?? {});
  assert.deepEqual(runtime.sort(), [
    '@bufbuild/protobuf',
    '@connectrpc/connect',
    '@connectrpc/connect-node',
    '@connectrpc/connect-web',
  ]);
  const sources = fs.readdirSync(path.join(PACKAGE_ROOT, 'src')).filter((name) => name.endsWith('.ts'));
  for (const name of sources) {
    assert.doesNotMatch(fs.readFileSync(path.join(PACKAGE_ROOT, 'src', name), 'utf8'), /\.proto['"]/, name);
  }
});
