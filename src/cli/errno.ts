// File-system errors in words, for the CLI's one-line messages.

const MESSAGES: Record<string, string> = {
  ENOENT: 'no such file or directory',
  EACCES: 'permission denied',
  EISDIR: 'is a directory',
  ENOTDIR: 'not a directory',
  ELOOP: 'too many symbolic links',
  ENAMETOOLONG: 'file name too long',
  EROFS: 'read-only file system',
  EPERM: 'operation not permitted',
  ENOSPC: 'no space left on device',
  EEXIST: 'file exists',
};

/** A short description of a Node file-system error: a plain phrase for the common codes, else Node's message. */
export function describeErrno(err: NodeJS.ErrnoException): string {
  return (err.code !== undefined ? MESSAGES[err.code] : undefined) ?? err.message;
}
