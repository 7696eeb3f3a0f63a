/** A growable Uint32Array of token ids, for encoding large corpora without number[] overhead. */
export class TokenBuffer {
  data: Uint32Array;
  length = 0;

  constructor(initialCapacity = 1024) {
    this.data = new Uint32Array(Math.max(16, initialCapacity));
  }

  /** Makes room for `extra` more ids. */
  reserve(extra: number): void {
    const need = this.length + extra;
    if (need <= this.data.length) return;
    let cap = this.data.length * 2;
    while (cap < need) cap *= 2;
    const grown = new Uint32Array(cap);
    grown.set(this.data.subarray(0, this.length));
    this.data = grown;
  }

  push(id: number): void {
    if (this.length === this.data.length) this.reserve(1);
    this.data[this.length++] = id;
  }

  /** The ids written so far (a view: it is invalidated when the buffer grows or is cleared). */
  view(): Uint32Array {
    return this.data.subarray(0, this.length);
  }

  toArray(): number[] {
    const n = this.length;
    const out = new Array<number>(n); // preallocated: much faster than n pushes for big texts
    const d = this.data;
    for (let i = 0; i < n; i++) out[i] = d[i]!;
    return out;
  }

  clear(): void {
    this.length = 0;
  }
}
