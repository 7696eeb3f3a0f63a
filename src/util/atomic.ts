// Atomic file writes: data goes to a temp file in the destination folder, is fsynced, then renamed
// over the destination. A crash or an error mid-write leaves either the old file or the new one,
// never a torn mix, and the temp file is removed on error. The temp file must live in the same
// folder because rename is only atomic within one filesystem.

import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';

function tempPathFor(target: string): string {
  const dir = path.dirname(target);
  const base = path.basename(target);
  return path.join(dir, `.${base}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
}

function toBytes(data: string | ArrayBufferView): Uint8Array {
  if (typeof data === 'string') return Buffer.from(data, 'utf8');
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

/** fsync the folder so the rename itself survives a power loss; not supported everywhere. */
function fsyncDirSync(dir: string): void {
  let fd: number | undefined;
  try {
    fd = fs.openSync(dir, 'r');
    fs.fsyncSync(fd);
  } catch {
    // Some platforms (Windows) cannot open or fsync folders; the rename is still atomic there.
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

async function fsyncDir(dir: string): Promise<void> {
  let fh: fsp.FileHandle | undefined;
  try {
    fh = await fsp.open(dir, 'r');
    await fh.sync();
  } catch {
    // See fsyncDirSync.
  } finally {
    await fh?.close();
  }
}

function describeWriteError(target: string, err: unknown): Error {
  const e = err as NodeJS.ErrnoException;
  const hint =
    e.code === 'ENOENT'
      ? ' (the destination folder does not exist; create it first)'
      : e.code === 'ENOSPC'
        ? ' (the disk is full; free some space)'
        : e.code === 'EACCES' || e.code === 'EPERM'
          ? ' (no permission to write there; choose another folder)'
          : '';
  const out = new Error(`could not write ${target}: ${e.message ?? String(err)}${hint}`);
  (out as Error & { cause?: unknown }).cause = err;
  return out;
}

/**
 * A synchronous streaming writer whose result appears at `target` only on commit().
 * Supports positioned writes so headers can be patched after the body is streamed.
 */
export class AtomicFileWriterSync {
  readonly target: string;
  readonly tempPath: string;
  private fd: number | null;
  private position = 0;

  constructor(target: string) {
    this.target = path.resolve(target);
    this.tempPath = tempPathFor(this.target);
    try {
      this.fd = fs.openSync(this.tempPath, 'wx', 0o644);
    } catch (err) {
      throw describeWriteError(this.target, err);
    }
  }

  /** Bytes appended so far (positioned writes do not move this). */
  get bytesWritten(): number {
    return this.position;
  }

  /** Append bytes at the current end. */
  write(data: string | ArrayBufferView): void {
    const bytes = toBytes(data);
    this.writeAt(bytes, this.position);
    this.position += bytes.byteLength;
  }

  /** Write bytes at an absolute offset (e.g. to patch a header). */
  writeAt(data: string | ArrayBufferView, offset: number): void {
    const fd = this.requireOpen();
    const bytes = toBytes(data);
    let done = 0;
    try {
      while (done < bytes.byteLength) {
        done += fs.writeSync(fd, bytes, done, bytes.byteLength - done, offset + done);
      }
    } catch (err) {
      this.abort();
      throw describeWriteError(this.target, err);
    }
  }

  /** fsync, close and rename into place. */
  commit(): void {
    const fd = this.requireOpen();
    try {
      fs.fsyncSync(fd);
      fs.closeSync(fd);
      this.fd = null;
      fs.renameSync(this.tempPath, this.target);
    } catch (err) {
      this.abort();
      throw describeWriteError(this.target, err);
    }
    fsyncDirSync(path.dirname(this.target));
  }

  /** Discard everything written; safe to call more than once. */
  abort(): void {
    if (this.fd !== null) {
      try {
        fs.closeSync(this.fd);
      } catch {
        // Already closed or invalid: nothing left to release.
      }
      this.fd = null;
    }
    try {
      fs.unlinkSync(this.tempPath);
    } catch {
      // Already removed (or renamed into place).
    }
  }

  private requireOpen(): number {
    if (this.fd === null) throw new Error(`atomic writer for ${this.target} is already closed`);
    return this.fd;
  }
}

/** The asynchronous counterpart of AtomicFileWriterSync, for large files written from async code. */
export class AtomicFileWriter {
  readonly target: string;
  readonly tempPath: string;
  private fh: fsp.FileHandle | null;
  private position = 0;

  private constructor(target: string, tempPath: string, fh: fsp.FileHandle) {
    this.target = target;
    this.tempPath = tempPath;
    this.fh = fh;
  }

  static async open(target: string): Promise<AtomicFileWriter> {
    const abs = path.resolve(target);
    const tmp = tempPathFor(abs);
    try {
      return new AtomicFileWriter(abs, tmp, await fsp.open(tmp, 'wx', 0o644));
    } catch (err) {
      throw describeWriteError(abs, err);
    }
  }

  get bytesWritten(): number {
    return this.position;
  }

  async write(data: string | ArrayBufferView): Promise<void> {
    const bytes = toBytes(data);
    await this.writeAt(bytes, this.position);
    this.position += bytes.byteLength;
  }

  async writeAt(data: string | ArrayBufferView, offset: number): Promise<void> {
    const fh = this.requireOpen();
    const bytes = toBytes(data);
    let done = 0;
    try {
      while (done < bytes.byteLength) {
        const r = await fh.write(bytes, done, bytes.byteLength - done, offset + done);
        done += r.bytesWritten;
      }
    } catch (err) {
      await this.abort();
      throw describeWriteError(this.target, err);
    }
  }

  async commit(): Promise<void> {
    const fh = this.requireOpen();
    try {
      await fh.sync();
      await fh.close();
      this.fh = null;
      await fsp.rename(this.tempPath, this.target);
    } catch (err) {
      await this.abort();
      throw describeWriteError(this.target, err);
    }
    await fsyncDir(path.dirname(this.target));
  }

  async abort(): Promise<void> {
    if (this.fh !== null) {
      try {
        await this.fh.close();
      } catch {
        // Already closed.
      }
      this.fh = null;
    }
    await fsp.unlink(this.tempPath).catch(() => undefined);
  }

  private requireOpen(): fsp.FileHandle {
    if (this.fh === null) throw new Error(`atomic writer for ${this.target} is already closed`);
    return this.fh;
  }
}

/** Write a whole file atomically. */
export async function writeFileAtomic(target: string, data: string | ArrayBufferView): Promise<void> {
  const w = await AtomicFileWriter.open(target);
  await w.write(data);
  await w.commit();
}

/** Synchronous writeFileAtomic (for exit handlers and other places that cannot await). */
export function writeFileAtomicSync(target: string, data: string | ArrayBufferView): void {
  const w = new AtomicFileWriterSync(target);
  w.write(data);
  w.commit();
}

/** JSON with 2-space indent and a trailing newline, the layout Hugging Face tools write. */
export function formatJson(obj: unknown, indent = 2): string {
  const text = JSON.stringify(obj, null, indent);
  if (text === undefined) throw new Error('cannot serialise undefined (or a function) as JSON');
  return text + '\n';
}

export async function writeJsonAtomic(target: string, obj: unknown, indent = 2): Promise<void> {
  await writeFileAtomic(target, formatJson(obj, indent));
}

export function writeJsonAtomicSync(target: string, obj: unknown, indent = 2): void {
  writeFileAtomicSync(target, formatJson(obj, indent));
}
