// The checked-in typings and proto copy are exactly what generate.js makes of the current proto.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { it } from 'node:test';

import { PACKAGE_ROOT } from './fixtures';

// Plain JavaScript beside package.json, not compiled: loaded at run time.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { generate } = require(path.join(PACKAGE_ROOT, 'generate.js')) as {
  generate: (out: string) => void;
};

function files(root: string, under: string): string[] {
  const base = path.join(root, under);
  return (fs.readdirSync(base, { recursive: true }) as string[])
    .filter((name) => fs.statSync(path.join(base, name)).isFile())
    .map((name) => path.join(under, name))
    .sort();
}

it('generated code matches the proto', () => {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'rift-ts-gen-'));
  try {
    generate(out);
    for (const under of ['proto', path.join('src', 'generated')]) {
      const generated = files(out, under);
      assert.deepEqual(files(PACKAGE_ROOT, under), generated, `the set of files in ${under} changed`);
      const stale = generated.filter(
        (name) =>
          !fs.readFileSync(path.join(out, name)).equals(fs.readFileSync(path.join(PACKAGE_ROOT, name))),
      );
      assert.deepEqual(
        stale,
        [],
        'these differ from what proto/ generates: run `npm run generate` in clients/typescript ' +
          '(after `npm ci`) and commit the result',
      );
    }
  } finally {
    fs.rmSync(out, { recursive: true, force: true });
  }
});
