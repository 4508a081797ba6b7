// Errors of the Redis scale-out layer. Every message names what is wrong and
// never carries a secret: URLs appear only redacted (see config.ts).

/** Why a Redis job could not start or go on. */
export type RedisJobErrorCode =
  /** A bad option or URL. */
  | 'CONFIG'
  /** The server cannot be reached (refused, unknown host, timeout). */
  | 'CONNECT'
  /** The server refused the user name or password. */
  | 'AUTH'
  /** The TLS handshake failed (certificate, protocol). */
  | 'TLS'
  /** The connection was lost for longer than the allowed outage. */
  | 'CONNECTION_LOST'
  /** No job of that name exists on the server. */
  | 'NO_JOB'
  /** The job exists with other parameters (partitions, spec). */
  | 'JOB_MISMATCH'
  /** A partition's checkpoint cannot be restored (corrupt, another build, another spec). */
  | 'BAD_CHECKPOINT'
  /** The server answered something this version does not understand. */
  | 'PROTOCOL';

/**
 * A Redis job could not start or go on. `code` is for programs; the message
 * says it for people and never holds a password.
 */
export class RedisJobError extends Error {
  /** What went wrong, for programs: see {@link RedisJobErrorCode}. */
  readonly code: RedisJobErrorCode;

  constructor(code: RedisJobErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'RedisJobError';
    this.code = code;
  }
}
