// Server-side paths as API responses show them. A client learns where the server keeps its files
// only as far as it needs to: relative to the server's working directory, never the machine's
// absolute layout (user names, home folders).

import path from 'node:path';

/** `p` relative to `cwd` when it lies inside it (or is it: '.'), else null. */
export function relativeInside(p: string, cwd: string = process.cwd()): string | null {
  const rel = path.relative(cwd, path.resolve(cwd, p));
  if (rel === '') return '.';
  return rel === '..' || rel.startsWith(`..${path.sep}`) || path.isAbsolute(rel) ? null : rel;
}

/** `p` relative to the working directory when inside it, else only its last name. */
export function shownPath(p: string, cwd: string = process.cwd()): string {
  return relativeInside(p, cwd) ?? path.basename(path.resolve(cwd, p));
}

/** A message with every absolute mention of the working directory made relative. */
export function withoutWorkingDir(message: string, cwd: string = process.cwd()): string {
  return message.split(cwd + path.sep).join('');
}
