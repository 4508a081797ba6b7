#!/usr/bin/env node
// A stand-alone entry for the Redis commands (until they are wired into
// `streamkernel`): node dist/src/redis/main.js worker|produce [options]
import { runProduceCommand, runWorkerCommand, PRODUCE_HELP, WORKER_HELP } from './cli.js';

const [command, ...rest] = process.argv.slice(2);
const io = { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr, env: process.env };
if (command === 'worker') process.exitCode = await runWorkerCommand(rest, io);
else if (command === 'produce') process.exitCode = await runProduceCommand(rest, io);
else {
  process.stderr.write(`usage: main.js worker|produce [options]\n\n${WORKER_HELP}\n${PRODUCE_HELP}`);
  process.exitCode = 1;
}
