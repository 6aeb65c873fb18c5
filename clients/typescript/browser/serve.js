#!/usr/bin/env node
// Serves the browser example (this directory: index.html, dist/app.js) on 127.0.0.1, the page's
// own origin; the browser test uses the same server on a free port.
//
//     npm run build && node browser/serve.js 8080
//     open http://127.0.0.1:8080/?rift=http://127.0.0.1:50051&task=101
'use strict';

const fs = require('node:fs');
const http = require('node:http');
const path = require('node:path');

const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.map': 'application/json',
};

/** Listens on 127.0.0.1:`port` (0: a free one); resolves to the origin and a close(). */
function servePage(port = 0) {
  const server = http.createServer((request, response) => {
    const { pathname } = new URL(request.url ?? '/', 'http://page');
    const file = path.join(__dirname, pathname === '/' ? 'index.html' : decodeURIComponent(pathname));
    if (!file.startsWith(__dirname + path.sep) || !fs.statSync(file, { throwIfNoEntry: false })?.isFile()) {
      response.writeHead(404).end();
      return;
    }
    response.writeHead(200, { 'content-type': TYPES[path.extname(file)] ?? 'application/octet-stream' });
    fs.createReadStream(file).pipe(response);
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () =>
      resolve({
        origin: `http://127.0.0.1:${server.address().port}`,
        close: () => new Promise((done) => server.close(() => done())),
      }),
    );
  });
}

if (require.main === module) {
  servePage(Number(process.argv[2] ?? 8080)).then(({ origin }) => {
    process.stdout.write(`Serving the browser example at ${origin}/?rift=http://127.0.0.1:50051&task=101\n`);
  });
}

module.exports = { servePage };
