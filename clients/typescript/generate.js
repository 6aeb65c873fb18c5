#!/usr/bin/env node
// Regenerates src/gen/ (protobuf-es messages and the Rift service descriptor, which
// connect-es clients take as is) from ../../proto and the vendored proto/google/rpc, with buf
// and protoc-gen-es from node_modules as buf.gen.yaml says. Run after changing the proto:
//
//     npm run generate            (in clients/typescript, after `npm ci`)
//
// `--out DIR` writes DIR/src/gen instead: the drift test uses it to check that what is checked
// in is exactly what the current proto generates.
'use strict';

const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const HERE = __dirname;
const GENERATED = path.join('src', 'gen');

function generate(out) {
  fs.rmSync(path.join(out, GENERATED), { recursive: true, force: true });
  execFileSync(
    process.execPath,
    [require.resolve('@bufbuild/buf/bin/buf'), 'generate', '--template', 'buf.gen.yaml', '--output', out],
    { stdio: 'inherit', cwd: HERE },
  );
}

if (require.main === module) {
  const at = process.argv.indexOf('--out');
  generate(at === -1 ? HERE : path.resolve(process.argv[at + 1]));
}

module.exports = { generate, GENERATED };
