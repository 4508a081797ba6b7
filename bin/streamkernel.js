#!/usr/bin/env node
// The streamkernel command: a thin shim over the compiled CLI (npm run build:ts).
import { run } from '../dist/src/cli.js';

run(process.argv.slice(2));
