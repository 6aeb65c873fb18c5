#!/usr/bin/env node
// Bundles the browser example (browser/app.ts, with the client and connect-web) into
// browser/dist/app.js for index.html, with esbuild from node_modules. `npm run build` runs it.
'use strict';

const path = require('node:path');
const esbuild = require('esbuild');

esbuild.buildSync({
  entryPoints: [path.join(__dirname, 'app.ts')],
  outfile: path.join(__dirname, 'dist', 'app.js'),
  bundle: true,
  format: 'esm',
  platform: 'browser',
  target: 'es2022',
  sourcemap: true,
  logLevel: 'warning',
});
