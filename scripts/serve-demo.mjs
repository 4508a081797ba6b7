#!/usr/bin/env node
// `npm run demo:web`: serves the demo page (web/) and the files it loads
// (the built library in dist/src/, uPlot, csv-parse's browser build) on
// localhost, and prints the URL. Needs `npm run build` first.
//
//   node scripts/serve-demo.mjs [--port N]     (default 8080; 0 picks a free port)

import { createReadStream, existsSync, statSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(fileURLToPath(new URL('..', import.meta.url)));
/** Only these folders are served. */
const ALLOWED = ['web/', 'dist/src/', 'node_modules/uplot/dist/', 'node_modules/csv-parse/dist/esm/'];
const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.wasm': 'application/wasm',
  '.png': 'image/png',
  '.svg': 'image/svg+xml',
};

export function createServer() {
  return http.createServer((req, res) => {
    let rel;
    try {
      rel = decodeURIComponent(new URL(req.url ?? '/', 'http://localhost').pathname).replace(/^\/+/, '');
    } catch {
      res.writeHead(400).end('bad request');
      return;
    }
    if (rel === '' || rel === 'index.html') rel = 'web/index.html';
    const file = path.resolve(ROOT, rel);
    const inside = file.startsWith(ROOT + path.sep) && ALLOWED.some((dir) => (path.relative(ROOT, file) + (file.endsWith(path.sep) ? '' : '')).startsWith(dir));
    if (!inside || !existsSync(file) || !statSync(file).isFile() || (req.method !== 'GET' && req.method !== 'HEAD')) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end(`not found: /${rel}\n`);
      return;
    }
    res.writeHead(200, {
      'content-type': TYPES[path.extname(file)] ?? 'application/octet-stream',
      'cache-control': 'no-cache',
      'x-content-type-options': 'nosniff',
    });
    if (req.method === 'HEAD') res.end();
    else createReadStream(file).pipe(res);
  });
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const i = process.argv.indexOf('--port');
  const port = i > 0 ? Number(process.argv[i + 1]) : Number(process.env.PORT ?? 8080);
  if (!existsSync(path.join(ROOT, 'dist/src/index.js'))) {
    console.error('streamkernel demo: dist/src/index.js is missing: run `npm run build` first');
    process.exit(1);
  }
  const server = createServer();
  server.listen(port, '127.0.0.1', () => {
    const { port: actual } = server.address();
    console.log(`streamkernel demo: http://127.0.0.1:${actual}/`);
  });
  const stop = () => server.close(() => process.exit(0));
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}
