// The time-window layer's public API (re-exported from src/index.ts).
export { parseDuration } from './duration.js';
export { createTimeRolling, restoreTimeRolling, rollingByTime } from './rolling.js';
export { createWindows, restoreWindows, windowsByTime } from './windows.js';
export { createCountWindows, restoreCountWindows } from './count.js';
export { normalizeCountWindowSpec, normalizeDurationRolling, normalizeWindowSpec } from './spec.js';
