// What require('streamkernel') gets: streamkernel is an ES module package, so
// say so and how to load it, instead of Node's ERR_PACKAGE_PATH_NOT_EXPORTED.
'use strict';
const error = new Error(
  "streamkernel is ESM only: use import (import { rolling } from 'streamkernel'), " +
    "or from CommonJS: const { rolling } = await import('streamkernel')",
);
error.code = 'ERR_REQUIRE_ESM';
throw error;
