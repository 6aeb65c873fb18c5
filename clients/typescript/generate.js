#!/usr/bin/env node
// Regenerates the TypeScript typings (src/generated/) from proto/rift/v1/rift.proto, and the
// copy of that proto this package loads at run time (proto/), with @grpc/proto-loader's
// proto-loader-gen-types. Run after changing the proto:
//
//     npm run generate            (in clients/typescript, after `npm ci`)
//
// `--out DIR` writes under DIR instead: the drift test uses it to check that what is checked in
// is exactly what the current proto generates.
'use strict';

const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const HERE = __dirname;
// Relative to this directory, so the "Original file" comments in the output are the same on
// every machine and in every output directory.
const PROTO_ROOT = path.join('..', '..', 'proto');
// google/rpc/{status,error_details}.proto: the error details Rift sends.
const GOOGLE_PROTOS = path.relative(HERE, path.dirname(require('google-proto-files').getProtoPath()));
// The same options src/client.ts loads the protos with: the typings describe those objects.
const LOADER_OPTIONS = ['--longs=Number', '--enums=String', '--defaults', '--oneofs'];
const FILES = ['rift/v1/rift.proto', 'google/rpc/status.proto', 'google/rpc/error_details.proto'];

function generate(out) {
  const protoDir = path.join(out, 'proto');
  fs.mkdirSync(path.join(protoDir, 'rift', 'v1'), { recursive: true });
  fs.copyFileSync(
    path.join(HERE, PROTO_ROOT, 'rift', 'v1', 'rift.proto'),
    path.join(protoDir, 'rift', 'v1', 'rift.proto'),
  );
  const generated = path.join(out, 'src', 'generated');
  fs.rmSync(generated, { recursive: true, force: true });
  execFileSync(
    process.execPath,
    [
      require.resolve('@grpc/proto-loader/build/bin/proto-loader-gen-types.js'),
      // The files first: --includeDirs is an array option and would swallow them.
      ...FILES,
      ...LOADER_OPTIONS,
      '--grpcLib=@grpc/grpc-js',
      `--outDir=${generated}`,
      `--includeDirs=${PROTO_ROOT}`,
      `--includeDirs=${GOOGLE_PROTOS}`,
    ],
    { stdio: 'inherit', cwd: HERE },
  );
}

if (require.main === module) {
  const at = process.argv.indexOf('--out');
  generate(at === -1 ? HERE : path.resolve(process.argv[at + 1]));
}

module.exports = { generate };
