#!/usr/bin/env node
// The streamkernel command: a thin shim over the compiled CLI (npm run build:ts).
// It runs the bundled CLI (dist/src/cli-bundle/, scripts/bundle-cli.mjs: a few
// files instead of ~90 modules to load), unless that is missing or older than
// dist/src/cli.js (tsc run alone after a change): then the modules themselves.
import { statSync } from 'node:fs';

const mtime = (rel) => {
  try {
    return statSync(new URL(rel, import.meta.url)).mtimeMs;
  } catch {
    return -1;
  }
};
const bundled = mtime('../dist/src/cli-bundle/cli.js') >= mtime('../dist/src/cli.js');
const { run } = await import(bundled ? '../dist/src/cli-bundle/cli.js' : '../dist/src/cli.js');

run(process.argv.slice(2));
