// Bundles the CLI for bin/streamkernel.js (run after tsc): dist/src/cli.js and
// the scheduler's worker entry, each with all it imports, into one file each
// in dist/src/cli-bundle/. Node's ESM loader resolves, reads, compiles and
// links each module of a graph on its own: ~90 modules for `run`, ~12 per
// worker. In one file, a command's on-demand imports (run, demo, bench, the
// Redis commands, csv-parse) are still evaluated only when used, and V8 only
// pre-parses the functions never called. (Code splitting, which keeps them in
// files of their own, left ~30 chunks to load and measured slower.) The
// directory sits where the modules' relative URLs still hold:
// `../../bench/run.js` (bench), `./worker-node.js` (the scheduler's workers)
// and the package.json above (the version). dist/src's modules stay as they
// are for library users. The Redis commands and `bench` are left out, loaded
// from dist/src when asked for: bundled, the Node built-ins they import
// (node:net, node:readline, node:child_process: ~6 ms) were loaded at every
// start.
import { build } from 'esbuild';
import { rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
/** cli.ts's on-demand imports kept out of the bundle, as imports of the modules in dist/src. */
const LEFT_OUT = /^\.\/(redis\/cli|cli\/bench)\.js$/;
const leaveOut = {
  name: 'leave-out',
  setup(b) {
    b.onResolve({ filter: LEFT_OUT }, (args) => (args.importer.endsWith(path.join('dist', 'src', 'cli.js')) ? { path: `../${args.path.slice(2)}`, external: true } : undefined));
  },
};
const outdir = path.join(root, 'dist', 'src', 'cli-bundle');
rmSync(outdir, { recursive: true, force: true });
await build({
  absWorkingDir: root,
  entryPoints: { cli: 'dist/src/cli.js', 'worker-node': 'dist/src/scheduler/worker-node.js' },
  outdir,
  bundle: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  // The optional peer dependencies stay imports: loaded (or reported missing) on first use, as from dist/src.
  external: ['redis', 'apache-arrow'],
  // Names kept as written (profiles, stack traces with STREAMKERNEL_DEBUG=1).
  minify: false,
  plugins: [leaveOut],
  logLevel: 'warning',
});
