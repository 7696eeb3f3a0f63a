// The Hugging Face Hub cache on disk, laid out the way huggingface_hub lays it out so that genlab and
// the Python tools share one cache (a model either of them fetched is not fetched again):
//
//   <cache>/models--ORG--NAME/blobs/<etag>                 file contents, named by the Hub's ETag
//                                                          (sha256 for LFS files, git blob id otherwise)
//   <cache>/models--ORG--NAME/blobs/<etag>.incomplete      a download in progress (resumable)
//   <cache>/models--ORG--NAME/snapshots/<commit>/<file>    relative symlink to ../../blobs/<etag>
//   <cache>/models--ORG--NAME/refs/<revision>              the commit a branch or tag pointed at
//   <cache>/.locks/models--ORG--NAME/<etag>.lock           one writer per blob
//
// Only file-system work lives here; hub.ts talks to the Hub.

import { randomBytes } from 'node:crypto';
import { constants as fsConstants } from 'node:fs';
import { copyFile, link, mkdir, open, readFile, rename, stat, symlink, unlink } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { writeFileAtomic } from '../util/atomic.ts';

/** The Hub's environment variables genlab reads (a subset of process.env). */
export type HubEnv = Readonly<Record<string, string | undefined>>;

const expandHome = (p: string): string => (p === '~' || p.startsWith('~/') ? path.join(os.homedir(), p.slice(1)) : p);

/** $HF_HOME, else $XDG_CACHE_HOME/huggingface, else ~/.cache/huggingface (as huggingface_hub). */
export function hfHome(env: HubEnv = process.env): string {
  if (env['HF_HOME']) return expandHome(env['HF_HOME']);
  return path.join(env['XDG_CACHE_HOME'] ? expandHome(env['XDG_CACHE_HOME']) : path.join(os.homedir(), '.cache'), 'huggingface');
}

/** $HF_HUB_CACHE (or its older name HUGGINGFACE_HUB_CACHE), else $HF_HOME/hub. */
export function hubCacheDir(env: HubEnv = process.env): string {
  const direct = env['HF_HUB_CACHE'] || env['HUGGINGFACE_HUB_CACHE'];
  return direct ? expandHome(direct) : path.join(hfHome(env), 'hub');
}

/** `models--ORG--NAME`, the folder name huggingface_hub gives a model repository. */
export const repoFolderName = (repoId: string): string => ['models', ...repoId.split('/')].join('--');

export const isCommitHash = (s: string): boolean => /^[0-9a-f]{40}$/.test(s);

async function exists(p: string): Promise<boolean> {
  try {
    await stat(p);
    return true;
  } catch {
    return false;
  }
}

/** Size of a file, or 0 when it does not exist. */
export async function fileSize(p: string): Promise<number> {
  try {
    return (await stat(p)).size;
  } catch {
    return 0;
  }
}

/** Rejects names that would leave the repository folder (the Hub never sends them, a bad mirror might). */
function safeRelative(name: string, what: string): string {
  const parts = name.split('/');
  if (name === '' || name.startsWith('/') || name.includes('\\') || parts.some((p) => p === '' || p === '.' || p === '..')) {
    throw new Error(`refusing ${what} "${name}": it is not a plain relative path`);
  }
  return path.join(...parts);
}

/** One repository's folder in the cache. */
export class RepoCache {
  readonly root: string;

  constructor(
    readonly cacheDir: string,
    readonly repoId: string,
  ) {
    this.root = path.join(cacheDir, repoFolderName(repoId));
  }

  blobPath(etag: string): string {
    return path.join(this.root, 'blobs', safeRelative(etag, 'ETag'));
  }

  incompletePath(etag: string): string {
    return this.blobPath(etag) + '.incomplete';
  }

  snapshotDir(commit: string): string {
    return path.join(this.root, 'snapshots', safeRelative(commit, 'commit'));
  }

  snapshotFile(commit: string, file: string): string {
    return path.join(this.snapshotDir(commit), safeRelative(file, 'file name'));
  }

  /** The commit `revision` resolves to from the cache alone: itself for a cached commit, else refs/<revision>. */
  async cachedCommit(revision: string): Promise<string | null> {
    if (isCommitHash(revision)) return (await exists(this.snapshotDir(revision))) ? revision : null;
    try {
      const commit = (await readFile(path.join(this.root, 'refs', safeRelative(revision, 'revision')), 'utf8')).trim();
      return isCommitHash(commit) ? commit : null;
    } catch {
      return null;
    }
  }

  /** Records that `revision` (a branch or tag) pointed at `commit`; huggingface_hub writes the bare hash. */
  async writeRef(revision: string, commit: string): Promise<void> {
    if (revision === commit) return;
    const p = path.join(this.root, 'refs', safeRelative(revision, 'revision'));
    await mkdir(path.dirname(p), { recursive: true });
    await writeFileAtomic(p, commit);
  }

  /** Whether the snapshot has `file` with its contents present (a dangling symlink does not count). */
  hasFile(commit: string, file: string): Promise<boolean> {
    return exists(this.snapshotFile(commit, file));
  }

  /**
   * Points snapshots/<commit>/<file> at blobs/<etag> with a relative symlink, as huggingface_hub
   * does. Where symlinks are not allowed (Windows without developer mode, some network or FAT
   * drives) a hard link keeps one copy of the data, and a plain copy is the last resort.
   */
  async linkSnapshotFile(commit: string, file: string, etag: string): Promise<string> {
    const dest = this.snapshotFile(commit, file);
    const blob = this.blobPath(etag);
    await mkdir(path.dirname(dest), { recursive: true });
    // Made beside the destination and renamed over it, so a reader of `dest` never sees it missing.
    const tmp = `${dest}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
    try {
      await symlink(path.relative(path.dirname(dest), blob), tmp);
    } catch {
      try {
        await link(blob, tmp);
      } catch {
        await copyFile(blob, tmp, fsConstants.COPYFILE_FICLONE);
      }
    }
    try {
      await rename(tmp, dest);
    } catch (err) {
      await unlink(tmp).catch(() => undefined);
      throw err;
    }
    return dest;
  }

  /** Moves a finished download into place as blobs/<etag>. */
  async commitBlob(etag: string): Promise<void> {
    await rename(this.incompletePath(etag), this.blobPath(etag));
  }

  blobExists(etag: string): Promise<boolean> {
    return exists(this.blobPath(etag));
  }

  /**
   * Runs `fn` while holding the blob's lock file, so two downloads never append to the same
   * .incomplete file. Within this process the lock is a set entry (claimed synchronously); across
   * processes it is the file, made with O_EXCL and holding our pid. A lock left by a process that
   * died (or an old empty one other tools leave behind) is taken over.
   */
  async withBlobLock<T>(etag: string, fn: () => Promise<T>, opts: { pollMs?: number; onWait?: (lockPath: string) => void } = {}): Promise<T> {
    const lockPath = path.join(this.cacheDir, '.locks', repoFolderName(this.repoId), safeRelative(etag, 'ETag') + '.lock');
    await mkdir(path.dirname(lockPath), { recursive: true });
    let warned = false;
    for (;;) {
      if (heldLocks.has(lockPath)) {
        await new Promise((r) => setTimeout(r, opts.pollMs ?? 50));
        continue;
      }
      heldLocks.add(lockPath);
      try {
        const fh = await open(lockPath, 'wx');
        try {
          await fh.writeFile(String(process.pid));
        } finally {
          await fh.close();
        }
        break;
      } catch (err) {
        heldLocks.delete(lockPath);
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
      if (await heldElsewhere(lockPath)) {
        if (!warned) opts.onWait?.(lockPath);
        warned = true;
        await new Promise((r) => setTimeout(r, opts.pollMs ?? 500));
      } else {
        await unlink(lockPath).catch(() => undefined);
      }
    }
    try {
      return await fn();
    } finally {
      await unlink(lockPath).catch(() => undefined);
      heldLocks.delete(lockPath);
    }
  }
}

const heldLocks = new Set<string>();

/**
 * Whether another process holds the lock file: a live process named in it. A lock without a pid
 * counts as held only while fresh (its writer may not have written the pid yet); older ones are
 * leftovers of other tools. Our own pid in it is left from an earlier process with the same pid.
 */
async function heldElsewhere(lockPath: string): Promise<boolean> {
  let text: string;
  let mtimeMs: number;
  try {
    [text, mtimeMs] = await Promise.all([readFile(lockPath, 'utf8'), stat(lockPath).then((s) => s.mtimeMs)]);
  } catch {
    return false;
  }
  const pid = Number(text.trim());
  if (!Number.isInteger(pid) || pid <= 0) return Date.now() - mtimeMs < 5000;
  return pid !== process.pid && processAlive(pid);
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it exists but belongs to another user.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
