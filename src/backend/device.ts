// A Device is one linear memory plus the kernels that compute on it. Every tensor's data lives in
// that memory, so the wasm kernels (and their worker threads, which share the memory) read tensors
// in place; the ref backend uses the same layout with a plain memory, which keeps one allocator and
// one Tensor type for all backends.
//
// Two allocation regimes:
// - heap: long-lived blocks (parameters, user tensors, caches), returned to size-class free lists
//   when the owning Storage is garbage-collected (FinalizationRegistry) or freed explicitly.
// - arena: inside `scope()`, activations bump-allocate from reused chunks and the scope's end
//   releases them all at once; Storage objects are pooled too, so a steady-state training step
//   allocates neither memory nor Storage objects per op. What does not fit spills to the heap for
//   that scope, and the arena then grows by new chunks, taken first from free holes in the heap
//   (e.g. where parameters were before they moved into the flat block), then from its top.

import type { Kernels, Ptr } from './kernels.ts';

const ALIGN = 16; // elements (64 bytes): SIMD- and cache-line aligned blocks
/** Blocks of at least this many elements (256 KiB) are merged and split; smaller ones reuse by exact size. */
const LARGE = 1 << 16;
const PAGE_ELEMS = 65536 / 4;

export type BackendName = 'ref' | 'wasm' | 'native';

/**
 * The linear memory a device allocates from: a WebAssembly.Memory (ref, wasm) or anything with the
 * same two members. grow() takes 64 KiB pages and the buffer may be replaced by a larger one
 * afterwards. The native backend's buffer is instead allocated at its full reserved size once
 * (it never moves) and grows by byteLength, the part in use.
 */
export interface DeviceMemory {
  readonly buffer: ArrayBuffer | SharedArrayBuffer;
  /** Where element 0 lies in the buffer (default 0). */
  readonly byteOffset?: number;
  /** Bytes from element 0 the allocator may use now (default: the whole buffer). */
  readonly byteLength?: number;
  grow(deltaPages: number): number;
}

/** Backend-specific pieces a Device is built from. */
export interface BackendParts {
  name: BackendName;
  memory: DeviceMemory;
  kernels: Kernels;
  /** First element the allocator may use (above any static data of the kernels). */
  heapBase: Ptr;
  /** Threads the kernels use (1 for ref). */
  threads: number;
  setThreads?: (n: number) => void;
  /** Releases worker threads; the device is unusable afterwards. */
  close?: () => Promise<void>;
}

/** A block of device memory; tensors are views into one. */
export class Storage {
  constructor(
    public device: Device,
    public ptr: Ptr,
    public size: number,
    /** Arena blocks are released by the scope, not by the GC. */
    public inArena: boolean,
  ) {}
}

interface HeapToken {
  ptr: Ptr;
  size: number;
}

export class Device {
  readonly name: BackendName;
  readonly memory: DeviceMemory;
  readonly kernels: Kernels;
  f32: Float32Array;
  i32: Int32Array;
  private readonly parts: BackendParts;

  // heap
  private top: Ptr;
  private readonly free = new Map<number, Ptr[]>();
  /** End → start of every block in the free lists (for giving the heap's top back). */
  private readonly freeEnds = new Map<Ptr, Ptr>();
  /** Free large blocks, start → size and end → start (merged with free neighbours). */
  private readonly large = new Map<Ptr, number>();
  private readonly largeEnds = new Map<Ptr, Ptr>();
  private readonly registry: FinalizationRegistry<HeapToken>;
  private heapInUse = 0;
  private heapPeak = 0;

  // arena
  private readonly arenaChunks: Storage[] = [];
  private chunk = 0;
  private chunkUsed = 0;
  private spilled = 0;
  private arenaUsed = 0;
  private arenaNeed = 0;
  private arenaDepth = 0;
  private readonly overflow: Storage[] = [];
  private readonly storagePool: Storage[] = [];
  private storagePoolNext = 0;
  private lastScopePeak = 0;
  private readonly scopeEndHooks: Array<() => void> = [];
  /** Storage objects constructed so far (a steady-state step adds none). */
  storagesCreated = 0;

  constructor(parts: BackendParts) {
    this.parts = parts;
    this.name = parts.name;
    this.memory = parts.memory;
    this.kernels = parts.kernels;
    this.top = Math.ceil(Math.max(parts.heapBase, ALIGN) / ALIGN) * ALIGN;
    this.f32 = new Float32Array(this.memory.buffer, this.memory.byteOffset ?? 0, this.memoryBytes() / 4);
    this.i32 = new Int32Array(this.memory.buffer, this.memory.byteOffset ?? 0, this.memoryBytes() / 4);
    this.registry = new FinalizationRegistry((t) => this.release(t.ptr, t.size));
  }

  get threads(): number {
    return this.parts.threads;
  }

  setThreads(n: number): void {
    if (!Number.isInteger(n) || n < 1) throw new Error(`setThreads: expected a positive integer, got ${n}`);
    if (this.parts.setThreads) this.parts.setThreads(n);
    else if (n !== 1) throw new Error(`setThreads: the ${this.name} backend runs on one thread only`);
  }

  async close(): Promise<void> {
    await this.parts.close?.();
  }

  /** Bytes of heap blocks in use now / at most, and the arena's high-water mark of the last scope. */
  memoryStats(): { heapBytes: number; heapPeakBytes: number; arenaPeakBytes: number; totalBytes: number } {
    return {
      heapBytes: this.heapInUse * 4,
      heapPeakBytes: this.heapPeak * 4,
      arenaPeakBytes: this.lastScopePeak * 4,
      totalBytes: this.memoryBytes(),
    };
  }

  /** Allocates `n` elements: from the arena inside a scope, else from the heap (GC-released). */
  allocStorage(n: number): Storage {
    const size = roundUp(Math.max(n, 1));
    if (this.arenaDepth > 0) {
      const s = this.pooledStorage();
      const chunks = this.arenaChunks;
      while (this.chunk < chunks.length && this.chunkUsed + size > chunks[this.chunk]!.size) {
        this.chunk++;
        this.chunkUsed = 0;
      }
      if (this.chunk < chunks.length) {
        s.ptr = chunks[this.chunk]!.ptr + this.chunkUsed;
        s.size = size;
        this.chunkUsed += size;
      } else {
        // Spill to the heap for this scope; the arena grows to fit next time.
        s.ptr = this.heapAlloc(size);
        s.size = size;
        this.overflow.push(s);
        this.spilled += size;
      }
      this.arenaUsed += size;
      if (this.arenaUsed > this.arenaNeed) this.arenaNeed = this.arenaUsed;
      return s;
    }
    const ptr = this.heapAlloc(size);
    this.storagesCreated++;
    const s = new Storage(this, ptr, size, false);
    this.registry.register(s, { ptr, size }, s);
    return s;
  }

  /** Returns a heap storage's memory now instead of waiting for the garbage collector. */
  freeStorage(s: Storage): void {
    if (s.inArena || s.size === 0) return;
    this.registry.unregister(s);
    this.release(s.ptr, s.size);
    s.size = 0;
  }

  /**
   * Runs fn with activations allocated from the arena. Tensors created inside are recycled when
   * the outermost scope ends: return plain values (numbers, arrays), or tensors made outside.
   */
  scope<T>(fn: () => T): T {
    this.arenaDepth++;
    try {
      return fn();
    } finally {
      this.arenaDepth--;
      if (this.arenaDepth === 0) this.endScope();
    }
  }

  /** Registers a callback run when the outermost scope ends (object pools rewind here). */
  onScopeEnd(hook: () => void): void {
    this.scopeEndHooks.push(hook);
  }

  /** Runs fn with allocations from the heap even inside a scope (for long-lived tensors). */
  heapScope<T>(fn: () => T): T {
    const depth = this.arenaDepth;
    this.arenaDepth = 0;
    try {
      return fn();
    } finally {
      this.arenaDepth = depth;
    }
  }

  get inScope(): boolean {
    return this.arenaDepth > 0;
  }

  /** Bytes of the memory in use from element 0 (pointers and views end there). */
  memoryBytes(): number {
    return this.memory.byteLength ?? this.memory.buffer.byteLength;
  }

  /** Re-creates the typed views after the memory grew (old views keep their old length). */
  refreshViews(): void {
    const n = this.memoryBytes() / 4;
    if (this.f32.buffer !== this.memory.buffer || this.f32.length !== n) {
      this.f32 = new Float32Array(this.memory.buffer, this.memory.byteOffset ?? 0, n);
      this.i32 = new Int32Array(this.memory.buffer, this.memory.byteOffset ?? 0, n);
    }
  }

  private endScope(): void {
    this.lastScopePeak = this.arenaNeed;
    for (const s of this.overflow) this.release(s.ptr, s.size);
    this.overflow.length = 0;
    let grow = this.spilled > 0 ? roundUp(Math.ceil(this.spilled * 1.1)) : 0;
    if (grow > 0 && this.arenaChunks.length >= 8) {
      // Varying shapes kept spilling past many chunks: start over with room for this scope's need.
      for (const c of this.arenaChunks) this.release(c.ptr, c.size);
      this.arenaChunks.length = 0;
      grow = roundUp(Math.ceil(this.arenaNeed * 1.1));
    }
    while (grow > 0) {
      const chunk = this.takeChunk(grow);
      this.arenaChunks.push(chunk);
      grow -= chunk.size;
    }
    this.spilled = 0;
    this.chunk = 0;
    this.chunkUsed = 0;
    this.arenaUsed = 0;
    this.arenaNeed = 0;
    this.storagePoolNext = 0;
    for (const hook of this.scopeEndHooks) hook();
  }

  private pooledStorage(): Storage {
    if (this.storagePoolNext < this.storagePool.length) return this.storagePool[this.storagePoolNext++]!;
    this.storagesCreated++;
    const s = new Storage(this, 0, 0, true);
    this.storagePool.push(s);
    this.storagePoolNext++;
    return s;
  }

  /** An arena chunk of at most `size` elements: the largest free hole if one is big enough to matter, else new memory. */
  private takeChunk(size: number): Storage {
    let best = -1;
    let bestSize = 0;
    for (const [ptr, blockSize] of this.large) {
      if (blockSize > bestSize) {
        best = ptr;
        bestSize = blockSize;
      }
    }
    // Holes smaller than an eighth of what is needed would fragment the arena into many chunks.
    if (best >= 0 && bestSize >= size / 8) {
      const take = Math.min(size, bestSize);
      this.large.delete(best);
      this.largeEnds.delete(best + bestSize);
      if (bestSize > take) this.addFree(best + take, bestSize - take);
      this.heapInUse += take;
      if (this.heapInUse > this.heapPeak) this.heapPeak = this.heapInUse;
      return new Storage(this, best, take, true);
    }
    return new Storage(this, this.heapAlloc(size), size, true);
  }

  private heapAlloc(size: number): Ptr {
    this.heapInUse += size;
    if (this.heapInUse > this.heapPeak) this.heapPeak = this.heapInUse;
    if (size >= LARGE) {
      const ptr = this.takeLarge(size);
      if (ptr >= 0) return ptr;
    } else {
      const list = this.free.get(size);
      if (list && list.length > 0) {
        const reused = list.pop()!;
        this.freeEnds.delete(reused + size);
        return reused;
      }
    }
    const ptr = this.top;
    const end = ptr + size;
    const have = this.memoryBytes() / 4;
    if (end > have) {
      const pages = Math.ceil((end - have) / PAGE_ELEMS);
      try {
        this.memory.grow(Math.max(pages, Math.ceil(have / PAGE_ELEMS / 8)));
      } catch {
        try {
          this.memory.grow(pages);
        } catch (err) {
          this.heapInUse -= size;
          // The native memory says which limit it hit; a WebAssembly.Memory only says it could not grow.
          const why = this.name === 'native' ? (err as Error).message : 'wasm32 memories stop at 4 GiB (the native backend, on Linux, goes to 16 GiB)';
          throw new Error(
            `out of device memory: a block of ${((size * 4) / 2 ** 20).toFixed(1)} MiB needs the ${this.name} memory to grow to ` +
              `${((end * 4) / 2 ** 30).toFixed(2)} GiB, but ${why}; use a smaller model, batch or context`,
          );
        }
      }
      this.refreshViews();
    }
    this.top = end;
    return ptr;
  }

  /** Best fit among free large blocks, splitting off the rest; -1 when none is big enough. */
  private takeLarge(size: number): Ptr {
    let best = -1;
    let bestSize = Infinity;
    for (const [ptr, blockSize] of this.large) {
      if (blockSize >= size && blockSize < bestSize) {
        best = ptr;
        bestSize = blockSize;
        if (blockSize === size) break;
      }
    }
    if (best < 0) return -1;
    this.large.delete(best);
    this.largeEnds.delete(best + bestSize);
    if (bestSize > size) this.addFree(best + size, bestSize - size);
    return best;
  }

  private release(ptr: Ptr, size: number): void {
    this.heapInUse -= size;
    this.addFree(ptr, size);
  }

  /**
   * Returns a block to the free pool. Small blocks go to exact-size lists (fast reuse by the same
   * shapes); large ones merge with free large neighbours so that big frees (a model's parameters
   * copied into the flat block, a first step's spill) can serve later big allocations. A block
   * that ends at the heap's top lowers the top instead.
   */
  private addFree(ptr: Ptr, size: number): void {
    if (size >= LARGE) {
      const before = this.largeEnds.get(ptr);
      if (before !== undefined) {
        const beforeSize = this.large.get(before)!;
        this.large.delete(before);
        this.largeEnds.delete(ptr);
        ptr = before;
        size += beforeSize;
      }
      const afterSize = this.large.get(ptr + size);
      if (afterSize !== undefined) {
        this.large.delete(ptr + size);
        this.largeEnds.delete(ptr + size + afterSize);
        size += afterSize;
      }
    }
    if (ptr + size === this.top) {
      this.top = ptr;
      this.trimTop();
      return;
    }
    if (size >= LARGE) {
      this.large.set(ptr, size);
      this.largeEnds.set(ptr + size, ptr);
      return;
    }
    let list = this.free.get(size);
    if (!list) this.free.set(size, (list = []));
    list.push(ptr);
    this.freeEnds.set(ptr + size, ptr);
  }

  /** Lowers the top past free blocks that end at it. */
  private trimTop(): void {
    for (;;) {
      const small = this.freeEnds.get(this.top);
      if (small !== undefined) {
        const blocks = this.free.get(this.top - small)!;
        blocks.splice(blocks.lastIndexOf(small), 1);
        this.freeEnds.delete(this.top);
        this.top = small;
        continue;
      }
      const big = this.largeEnds.get(this.top);
      if (big !== undefined) {
        this.large.delete(big);
        this.largeEnds.delete(this.top);
        this.top = big;
        continue;
      }
      return;
    }
  }
}

function roundUp(n: number): number {
  return Math.ceil(n / ALIGN) * ALIGN;
}
