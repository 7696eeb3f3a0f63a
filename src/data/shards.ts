// Tokenized shards on disk, llm.c layout: a header of 256 little-endian int32 followed by the
// tokens. uint16 shards use llm.c's GPT-2 magic/version (20240520, 1) and uint32 shards its
// 32-bit magic/version (20240801, 7), so llm.c reads ours and we read llm.c's.
//   header[0] magic   header[1] version   header[2] token count
//   header[3] bytes per token (2 or 4; 0 in llm.c files, implied by the magic)
//   header[4] vocab size the tokens were checked against (0 = unknown; genlab extension)
// Readers never load a whole shard: they read the window they need with a positioned read.

import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { AtomicFileWriterSync } from '../util/atomic.ts';

export const SHARD_HEADER_INTS = 256;
export const SHARD_HEADER_BYTES = SHARD_HEADER_INTS * 4;
const FORMATS = [
  { magic: 20240520, version: 1, bytesPerToken: 2 as const },
  { magic: 20240801, version: 7, bytesPerToken: 4 as const },
];
/** llm.c stores the count in an int32. */
export const MAX_SHARD_TOKENS = 0x7fffffff;
export const DEFAULT_SHARD_TOKENS = 100_000_000;

export class ShardError extends Error {
  readonly file: string;
  constructor(file: string, message: string) {
    super(`token shard ${file}: ${message}`);
    this.name = 'ShardError';
    this.file = file;
  }
}

export interface ShardHeader {
  magic: number;
  version: number;
  tokenCount: number;
  bytesPerToken: 2 | 4;
  /** Vocab size recorded by the writer, or null when unknown (llm.c files). */
  vocabSize: number | null;
}

function parseHeader(file: string, header: Int32Array, fileSize: number): ShardHeader {
  const [magic, version, count, bpt, vocab] = [header[0]!, header[1]!, header[2]!, header[3]!, header[4]!];
  const fmt = FORMATS.find((f) => f.magic === magic);
  if (fmt === undefined) {
    throw new ShardError(file, `bad magic number ${magic} (expected ${FORMATS.map((f) => f.magic).join(' or ')}); not a token shard, or a corrupt one`);
  }
  if (version !== fmt.version) throw new ShardError(file, `unsupported version ${version} for magic ${magic} (expected ${fmt.version})`);
  if (bpt !== 0 && bpt !== fmt.bytesPerToken) throw new ShardError(file, `header says ${bpt} bytes per token but magic ${magic} means ${fmt.bytesPerToken}`);
  if (count < 0) throw new ShardError(file, `negative token count ${count}`);
  if (vocab < 0) throw new ShardError(file, `negative vocab size ${vocab}`);
  const expected = SHARD_HEADER_BYTES + count * fmt.bytesPerToken;
  if (fileSize < expected) {
    throw new ShardError(file, `truncated: header promises ${count} tokens (${expected} bytes) but the file has ${fileSize} bytes; re-run data preparation`);
  }
  if (fileSize > expected) {
    throw new ShardError(file, `${fileSize - expected} unexpected bytes after the ${count} tokens the header declares; the file is corrupt, re-run data preparation`);
  }
  return { magic, version, tokenCount: count, bytesPerToken: fmt.bytesPerToken, vocabSize: vocab === 0 ? null : vocab };
}

function checkLittleEndian(): void {
  // Typed-array views over file bytes assume the file's little-endian order.
  if (os.endianness() !== 'LE') throw new Error('token shards can only be used on little-endian hosts');
}

export function bytesPerTokenFor(vocabSize: number): 2 | 4 {
  return vocabSize <= 65536 ? 2 : 4;
}

function readFully(fd: number, file: string, target: Uint8Array, position: number): void {
  let done = 0;
  while (done < target.byteLength) {
    const got = fs.readSync(fd, target, done, target.byteLength - done, position + done);
    if (got === 0) throw new ShardError(file, `unexpected end of file at byte ${position + done} (the file changed while open?)`);
    done += got;
  }
}

/** Positioned-read access to one shard. */
export class ShardReader {
  readonly path: string;
  readonly header: ShardHeader;
  /** Tokens are checked against this bound on every read. */
  readonly vocabSize: number | null;
  private fd: number | null;
  private scratch = new Uint8Array(0);

  private constructor(file: string, fd: number, header: ShardHeader, vocabSize: number | null) {
    this.path = file;
    this.fd = fd;
    this.header = header;
    this.vocabSize = vocabSize;
  }

  /** Open and validate the header and size. `vocabSize` (if given) must agree with the header's. */
  static open(file: string, opts: { vocabSize?: number } = {}): ShardReader {
    checkLittleEndian();
    let fd: number;
    try {
      fd = fs.openSync(file, 'r');
    } catch (err) {
      throw new ShardError(file, `cannot open: ${(err as Error).message}`);
    }
    try {
      const size = fs.fstatSync(fd).size;
      if (size < SHARD_HEADER_BYTES) throw new ShardError(file, `only ${size} bytes, shorter than the ${SHARD_HEADER_BYTES}-byte header (truncated or not a token shard)`);
      const raw = new Uint8Array(SHARD_HEADER_BYTES);
      readFully(fd, file, raw, 0);
      const header = parseHeader(file, new Int32Array(raw.buffer), size);
      if (opts.vocabSize !== undefined && header.vocabSize !== null && header.vocabSize !== opts.vocabSize) {
        throw new ShardError(file, `was written for vocab size ${header.vocabSize} but the tokenizer has ${opts.vocabSize}; re-run data preparation with this tokenizer`);
      }
      return new ShardReader(file, fd, header, opts.vocabSize ?? header.vocabSize);
    } catch (err) {
      fs.closeSync(fd);
      throw err;
    }
  }

  get tokenCount(): number {
    return this.header.tokenCount;
  }

  /** Read tokens [start, start+count) as int32 into `out` at `outOffset` (allocated if omitted). */
  read(start: number, count: number, out?: Int32Array, outOffset = 0): Int32Array {
    if (this.fd === null) throw new ShardError(this.path, 'reader is closed');
    if (!(Number.isSafeInteger(start) && Number.isSafeInteger(count) && start >= 0 && count >= 0 && start + count <= this.tokenCount)) {
      throw new ShardError(this.path, `read of tokens [${start}, ${start + count}) is outside the shard's ${this.tokenCount} tokens`);
    }
    const dest = out ?? new Int32Array(count);
    if (outOffset + count > dest.length) throw new RangeError(`output has room for ${dest.length - outOffset} tokens, need ${count}`);
    const bpt = this.header.bytesPerToken;
    const nbytes = count * bpt;
    if (this.scratch.byteLength < nbytes) this.scratch = new Uint8Array(Math.max(nbytes, 4096));
    const bytes = this.scratch.subarray(0, nbytes);
    readFully(this.fd, this.path, bytes, SHARD_HEADER_BYTES + start * bpt);
    const src = bpt === 2 ? new Uint16Array(bytes.buffer, 0, count) : new Uint32Array(bytes.buffer, 0, count);
    const vocab = this.vocabSize ?? Infinity;
    for (let i = 0; i < count; i++) {
      const v = src[i]!;
      if (v >= vocab) {
        throw new ShardError(this.path, `token ${v} at position ${start + i} is >= vocab size ${vocab}; the shard was made with a different tokenizer (re-run data preparation)`);
      }
      dest[outOffset + i] = v;
    }
    return dest;
  }

  /** Scan every token against the vocab bound (reads in 4 MB windows). */
  validate(): void {
    const step = 1 << 21;
    const buf = new Int32Array(step);
    for (let s = 0; s < this.tokenCount; s += step) this.read(s, Math.min(step, this.tokenCount - s), buf);
  }

  close(): void {
    if (this.fd !== null) fs.closeSync(this.fd);
    this.fd = null;
  }
}

/** Several shards seen as one token stream (windows may span a shard boundary). */
export class ShardSet {
  readonly shards: readonly ShardReader[];
  readonly tokenCount: number;
  private readonly starts: number[];

  constructor(shards: ShardReader[]) {
    this.shards = shards;
    this.starts = [];
    let total = 0;
    for (const s of shards) {
      this.starts.push(total);
      total += s.tokenCount;
    }
    this.tokenCount = total;
  }

  static open(files: readonly string[], opts: { vocabSize?: number } = {}): ShardSet {
    if (files.length === 0) throw new Error('no token shards given; run data preparation first');
    const readers: ShardReader[] = [];
    try {
      for (const f of files) readers.push(ShardReader.open(f, opts));
    } catch (err) {
      for (const r of readers) r.close();
      throw err;
    }
    return new ShardSet(readers);
  }

  read(start: number, count: number, out?: Int32Array, outOffset = 0): Int32Array {
    if (start < 0 || count < 0 || start + count > this.tokenCount) {
      throw new RangeError(`read of tokens [${start}, ${start + count}) is outside the ${this.tokenCount} tokens of ${this.shards.length} shard(s)`);
    }
    const dest = out ?? new Int32Array(count);
    // Binary search for the shard holding `start`.
    let lo = 0;
    let hi = this.shards.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.starts[mid]! <= start) lo = mid;
      else hi = mid - 1;
    }
    let pos = start;
    let o = outOffset;
    let left = count;
    for (let i = lo; left > 0; i++) {
      const shard = this.shards[i]!;
      const local = pos - this.starts[i]!;
      const n = Math.min(left, shard.tokenCount - local);
      if (n > 0) shard.read(local, n, dest, o);
      pos += n;
      o += n;
      left -= n;
    }
    return dest;
  }

  close(): void {
    for (const s of this.shards) s.close();
  }
}

export interface ShardFileInfo {
  /** File name inside the output folder. */
  file: string;
  path: string;
  tokens: number;
}

export interface ShardWriterOptions {
  dir: string;
  /** Files are named PREFIX_000000.bin, PREFIX_000001.bin, ... */
  prefix: string;
  vocabSize: number;
  /** Roll to a new shard after this many tokens. */
  shardTokens?: number;
  /** Default: 2 when vocabSize <= 65536, else 4. */
  bytesPerToken?: 2 | 4;
}

/**
 * Streams token ids into shards. Each shard is written to a temp file and renamed into place
 * when full or at finish(), so a shard file that exists is always complete.
 */
export class ShardWriter {
  readonly dir: string;
  readonly prefix: string;
  readonly vocabSize: number;
  readonly shardTokens: number;
  readonly bytesPerToken: 2 | 4;
  private readonly done: ShardFileInfo[] = [];
  private current: AtomicFileWriterSync | null = null;
  private inShard = 0;
  private total = 0;
  private readonly buf: Uint16Array | Uint32Array;
  private buffered = 0;
  private closed = false;

  constructor(opts: ShardWriterOptions) {
    checkLittleEndian();
    this.dir = opts.dir;
    this.prefix = opts.prefix;
    this.vocabSize = opts.vocabSize;
    this.shardTokens = opts.shardTokens ?? DEFAULT_SHARD_TOKENS;
    this.bytesPerToken = opts.bytesPerToken ?? bytesPerTokenFor(opts.vocabSize);
    if (!(Number.isSafeInteger(this.vocabSize) && this.vocabSize > 0)) throw new Error(`vocabSize must be a positive integer, got ${this.vocabSize}`);
    if (this.bytesPerToken === 2 && this.vocabSize > 65536) {
      throw new Error(`vocab size ${this.vocabSize} does not fit uint16 tokens; use bytesPerToken 4`);
    }
    if (!(Number.isSafeInteger(this.shardTokens) && this.shardTokens > 0 && this.shardTokens <= MAX_SHARD_TOKENS)) {
      throw new Error(`shardTokens must be an integer in [1, ${MAX_SHARD_TOKENS}], got ${this.shardTokens}`);
    }
    const cap = Math.min(1 << 20, this.shardTokens);
    this.buf = this.bytesPerToken === 2 ? new Uint16Array(cap) : new Uint32Array(cap);
  }

  get tokenCount(): number {
    return this.total;
  }

  /** Append token ids; all are checked (integer, 0 <= id < vocabSize) before any is written. */
  append(ids: ArrayLike<number>): void {
    if (this.closed) throw new Error(`shard writer ${this.prefix} is already finished`);
    for (let i = 0; i < ids.length; i++) {
      const v = ids[i]!;
      if (!(Number.isInteger(v) && v >= 0 && v < this.vocabSize)) {
        throw new Error(`token id ${v} at index ${i} is not an integer in [0, ${this.vocabSize}); check the tokenizer's vocab size`);
      }
    }
    let i = 0;
    while (i < ids.length) {
      if (this.current === null) this.openShard();
      const room = Math.min(this.shardTokens - this.inShard, this.buf.length - this.buffered);
      const n = Math.min(room, ids.length - i);
      for (let k = 0; k < n; k++) this.buf[this.buffered + k] = ids[i + k]!;
      this.buffered += n;
      this.inShard += n;
      this.total += n;
      i += n;
      if (this.buffered === this.buf.length) this.flush();
      if (this.inShard === this.shardTokens) this.closeShard();
    }
  }

  /** Close the last shard and return every shard written. */
  finish(): ShardFileInfo[] {
    if (!this.closed) {
      if (this.current !== null) this.closeShard();
      this.closed = true;
    }
    return this.done.slice();
  }

  /** Drop the shard in progress (finished shards stay on disk; the caller owns them). */
  abort(): void {
    this.current?.abort();
    this.current = null;
    this.closed = true;
  }

  private shardPath(index: number): string {
    return path.join(this.dir, `${this.prefix}_${String(index).padStart(6, '0')}.bin`);
  }

  private openShard(): void {
    this.current = new AtomicFileWriterSync(this.shardPath(this.done.length));
    this.current.write(new Uint8Array(SHARD_HEADER_BYTES));
    this.inShard = 0;
  }

  private flush(): void {
    if (this.buffered === 0 || this.current === null) return;
    this.current.write(this.buf.subarray(0, this.buffered));
    this.buffered = 0;
  }

  private closeShard(): void {
    this.flush();
    const w = this.current!;
    const fmt = FORMATS.find((f) => f.bytesPerToken === this.bytesPerToken)!;
    const header = new Int32Array(SHARD_HEADER_INTS);
    header[0] = fmt.magic;
    header[1] = fmt.version;
    header[2] = this.inShard;
    header[3] = this.bytesPerToken;
    header[4] = this.vocabSize;
    w.writeAt(header, 0);
    w.commit();
    this.done.push({ file: path.basename(w.target), path: w.target, tokens: this.inShard });
    this.current = null;
    this.inShard = 0;
  }
}

/** Read just the header of a shard (validated against the file size). */
export function readShardHeader(file: string): ShardHeader {
  const r = ShardReader.open(file);
  r.close();
  return r.header;
}
