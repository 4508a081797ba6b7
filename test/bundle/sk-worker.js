// The app's own scheduler worker entry (the recipe in docs/SCHEDULER.md): the
// bundler bundles it like any entry, so the worker needs no extra setup.
import 'streamkernel/scheduler/worker-browser.js';
