// A compact open-addressing map from 64-bit keys (given as two uint32 halves) to int32 values,
// for dedup indexes over corpora with millions of documents: 12 bytes per slot in typed arrays,
// where a JavaScript Map costs several times that per entry and stops at 2^24 entries.

export class U64Map {
  private hi: Uint32Array;
  private lo: Uint32Array;
  private val: Int32Array;
  private used: Uint8Array;
  private count = 0;

  constructor(initialCapacity = 1024) {
    let cap = 16;
    while (cap < initialCapacity * 2) cap *= 2;
    this.hi = new Uint32Array(cap);
    this.lo = new Uint32Array(cap);
    this.val = new Int32Array(cap);
    this.used = new Uint8Array(cap);
  }

  get size(): number {
    return this.count;
  }

  /** Bytes held by the table's arrays. */
  get bytes(): number {
    return this.hi.length * 13;
  }

  private slot(hi: number, lo: number): number {
    const mask = this.hi.length - 1;
    // The keys are already hashes; one multiply spreads any remaining structure over the slots.
    let i = (Math.imul(lo ^ Math.imul(hi, 0x9e3779b1), 0x85ebca6b) >>> 0) & mask;
    while (this.used[i] && (this.hi[i] !== hi || this.lo[i] !== lo)) i = (i + 1) & mask;
    return i;
  }

  get(hi: number, lo: number): number | undefined {
    const i = this.slot(hi >>> 0, lo >>> 0);
    return this.used[i] ? this.val[i]! : undefined;
  }

  /** The value already stored for the key, or undefined after storing `value`. */
  getOrSet(hi: number, lo: number, value: number): number | undefined {
    hi >>>= 0;
    lo >>>= 0;
    let i = this.slot(hi, lo);
    if (this.used[i]) return this.val[i]!;
    if ((this.count + 1) * 2 > this.hi.length) {
      this.grow();
      i = this.slot(hi, lo);
    }
    this.used[i] = 1;
    this.hi[i] = hi;
    this.lo[i] = lo;
    this.val[i] = value;
    this.count++;
    return undefined;
  }

  private grow(): void {
    const { hi, lo, val, used } = this;
    const cap = hi.length * 2;
    this.hi = new Uint32Array(cap);
    this.lo = new Uint32Array(cap);
    this.val = new Int32Array(cap);
    this.used = new Uint8Array(cap);
    for (let j = 0; j < hi.length; j++) {
      if (!used[j]) continue;
      const i = this.slot(hi[j]!, lo[j]!);
      this.used[i] = 1;
      this.hi[i] = hi[j]!;
      this.lo[i] = lo[j]!;
      this.val[i] = val[j]!;
    }
  }
}
