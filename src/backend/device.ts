// A Device is one linear memory plus the kernels that compute on it. Every tensor's data lives in
// that memory, so the wasm kernels (and their worker threads, which share the memory) read tensors
// in place; the ref backend uses the same layout with a plain memory, which keeps one allocator and
// one Tensor type for all backends.
//
// Two allocation regimes:
// - heap: long-lived blocks (parameters, user tensors, caches), returned to size-class free lists
//   when the owning Storage is garbage-collected (FinalizationRegistry) or freed explicitly.
// - arena: inside `scope()`, activations bump-allocate from one reused block and the scope's end
//   releases them all at once; Storage objects are pooled too, so a steady-state training step
//   allocates neither memory nor Storage objects per op. The arena grows to the peak seen.

import type { Kernels, Ptr } from './kernels.ts';

const ALIGN = 16; // elements (64 bytes): SIMD- and cache-line aligned blocks
const PAGE_ELEMS = 65536 / 4;

export type BackendName = 'ref' | 'wasm' | 'native';

/**
 * The linear memory a device allocates from: a WebAssembly.Memory (ref, wasm) or anything with the
 * same two members (a native backend can expose its own block). grow() takes 64 KiB pages and the
 * buffer may be replaced by a larger one afterwards.
 */
export interface DeviceMemory {
  readonly buffer: ArrayBuffer | SharedArrayBuffer;
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
  private readonly registry: FinalizationRegistry<HeapToken>;
  private heapInUse = 0;
  private heapPeak = 0;

  // arena
  private arenaBlock: Storage | null = null;
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
    this.f32 = new Float32Array(this.memory.buffer);
    this.i32 = new Int32Array(this.memory.buffer);
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
      totalBytes: this.memory.buffer.byteLength,
    };
  }

  /** Allocates `n` elements: from the arena inside a scope, else from the heap (GC-released). */
  allocStorage(n: number): Storage {
    const size = roundUp(Math.max(n, 1));
    if (this.arenaDepth > 0) {
      const s = this.pooledStorage();
      const block = this.arenaBlock;
      if (block && this.arenaUsed + size <= block.size) {
        s.ptr = block.ptr + this.arenaUsed;
        s.size = size;
      } else {
        // Spill to the heap for this scope; the arena grows to fit next time.
        const ptr = this.heapAlloc(size);
        s.ptr = ptr;
        s.size = size;
        this.overflow.push(s);
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

  /** Re-creates the typed views after the memory grew (old views keep their old length). */
  refreshViews(): void {
    if (this.f32.buffer !== this.memory.buffer || this.f32.length * 4 !== this.memory.buffer.byteLength) {
      this.f32 = new Float32Array(this.memory.buffer);
      this.i32 = new Int32Array(this.memory.buffer);
    }
  }

  private endScope(): void {
    this.lastScopePeak = this.arenaNeed;
    for (const s of this.overflow) this.release(s.ptr, s.size);
    this.overflow.length = 0;
    if (!this.arenaBlock || this.arenaBlock.size < this.arenaNeed) {
      if (this.arenaBlock) this.release(this.arenaBlock.ptr, this.arenaBlock.size);
      const size = roundUp(Math.ceil(this.arenaNeed * 1.1));
      this.arenaBlock = new Storage(this, this.heapAlloc(size), size, true);
    }
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

  private heapAlloc(size: number): Ptr {
    this.heapInUse += size;
    if (this.heapInUse > this.heapPeak) this.heapPeak = this.heapInUse;
    const list = this.free.get(size);
    if (list && list.length > 0) {
      const reused = list.pop()!;
      this.freeEnds.delete(reused + size);
      return reused;
    }
    const ptr = this.top;
    const end = ptr + size;
    const have = this.memory.buffer.byteLength / 4;
    if (end > have) {
      const pages = Math.ceil((end - have) / PAGE_ELEMS);
      try {
        this.memory.grow(Math.max(pages, Math.ceil(have / PAGE_ELEMS / 8)));
      } catch {
        try {
          this.memory.grow(pages);
        } catch {
          throw new Error(
            `out of device memory: cannot grow the ${this.name} memory to ${((end * 4) / 2 ** 30).toFixed(2)} GiB ` +
              `(wasm32 memories stop at 4 GiB); use a smaller model, batch or context`,
          );
        }
      }
      this.refreshViews();
    }
    this.top = end;
    return ptr;
  }

  private release(ptr: Ptr, size: number): void {
    this.heapInUse -= size;
    if (ptr + size === this.top) {
      // Give the top of the heap back, and any free blocks that now end there, so a large block
      // freed at the top (a first step's spill) can be reused whole (the arena that replaces it).
      this.top = ptr;
      for (let below = this.freeEnds.get(this.top); below !== undefined; below = this.freeEnds.get(this.top)) {
        const blockSize = this.top - below;
        this.freeEnds.delete(this.top);
        const blocks = this.free.get(blockSize)!;
        blocks.splice(blocks.lastIndexOf(below), 1);
        this.top = below;
      }
      return;
    }
    let list = this.free.get(size);
    if (!list) this.free.set(size, (list = []));
    list.push(ptr);
    this.freeEnds.set(ptr + size, ptr);
  }
}

function roundUp(n: number): number {
  return Math.ceil(n / ALIGN) * ALIGN;
}
