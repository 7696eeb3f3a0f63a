// Word → token ids cache keyed by a range of the input text, so a hit costs one hash over the
// word's code units and one comparison, without creating a string. Keys and ids live in flat
// typed-array pools; the whole cache is dropped when a pool limit is reached, which bounds memory
// on huge corpora (the working set of natural text refills it quickly).

const MAX_ENTRIES = 1 << 19;
const MAX_POOL = 1 << 23;

export class WordCache {
  private mask = (1 << 16) - 1;
  private slotHash = new Int32Array(1 << 16);
  /** Key length in code units; 0 marks an empty slot. */
  private slotLen = new Int32Array(1 << 16);
  private slotKey = new Int32Array(1 << 16);
  private slotIds = new Int32Array(1 << 16);
  private slotCount = new Int32Array(1 << 16);
  private chars: Uint16Array = new Uint16Array(1 << 16);
  private charsUsed = 0;
  /** The cached ids; read them with `found` + `foundCount` after a hit. */
  ids: Uint32Array = new Uint32Array(1 << 16);
  private idsUsed = 0;
  size = 0;
  found = 0;
  foundCount = 0;

  /** FNV-1a over text[start..end). */
  static hash(text: string, start: number, end: number): number {
    let h = 0x811c9dc5;
    for (let k = start; k < end; k++) h = Math.imul(h ^ text.charCodeAt(k), 0x01000193);
    return h;
  }

  /** Looks up text[start..end) with hash h; on a hit sets `found`/`foundCount` and returns true. */
  get(text: string, start: number, end: number, h: number): boolean {
    const len = end - start;
    const mask = this.mask;
    const chars = this.chars;
    let s = h & mask;
    for (;;) {
      const l = this.slotLen[s]!;
      if (l === 0) return false;
      if (l === len && this.slotHash[s] === h) {
        const key = this.slotKey[s]!;
        let k = 0;
        while (k < len && chars[key + k] === text.charCodeAt(start + k)) k++;
        if (k === len) {
          this.found = this.slotIds[s]!;
          this.foundCount = this.slotCount[s]!;
          return true;
        }
      }
      s = (s + 1) & mask;
    }
  }

  /** Stores ids[0..count) for text[start..end) (which must not be cached yet). */
  set(text: string, start: number, end: number, h: number, ids: ArrayLike<number>, count: number): void {
    const len = end - start;
    if (this.size >= MAX_ENTRIES || this.charsUsed + len > MAX_POOL || this.idsUsed + count > MAX_POOL) this.clear();
    if ((this.size + 1) * 2 > this.mask + 1) this.growTable();
    if (this.charsUsed + len > this.chars.length) this.chars = grow16(this.chars, this.charsUsed + len);
    if (this.idsUsed + count > this.ids.length) this.ids = grow32(this.ids, this.idsUsed + count);
    const key = this.charsUsed;
    for (let k = 0; k < len; k++) this.chars[key + k] = text.charCodeAt(start + k);
    this.charsUsed += len;
    const at = this.idsUsed;
    for (let k = 0; k < count; k++) this.ids[at + k] = ids[k]!;
    this.idsUsed += count;
    let s = h & this.mask;
    while (this.slotLen[s] !== 0) s = (s + 1) & this.mask;
    this.slotHash[s] = h;
    this.slotLen[s] = len;
    this.slotKey[s] = key;
    this.slotIds[s] = at;
    this.slotCount[s] = count;
    this.size++;
  }

  clear(): void {
    this.slotLen.fill(0);
    this.size = 0;
    this.charsUsed = 0;
    this.idsUsed = 0;
  }

  private growTable(): void {
    const old = { h: this.slotHash, l: this.slotLen, k: this.slotKey, i: this.slotIds, c: this.slotCount };
    const cap = old.l.length * 2;
    this.mask = cap - 1;
    this.slotHash = new Int32Array(cap);
    this.slotLen = new Int32Array(cap);
    this.slotKey = new Int32Array(cap);
    this.slotIds = new Int32Array(cap);
    this.slotCount = new Int32Array(cap);
    for (let s = 0; s < old.l.length; s++) {
      if (old.l[s] === 0) continue;
      let t = old.h[s]! & this.mask;
      while (this.slotLen[t] !== 0) t = (t + 1) & this.mask;
      this.slotHash[t] = old.h[s]!;
      this.slotLen[t] = old.l[s]!;
      this.slotKey[t] = old.k[s]!;
      this.slotIds[t] = old.i[s]!;
      this.slotCount[t] = old.c[s]!;
    }
  }
}

function grow16(a: Uint16Array, need: number): Uint16Array {
  let cap = a.length * 2;
  while (cap < need) cap *= 2;
  const b = new Uint16Array(cap);
  b.set(a);
  return b;
}

function grow32(a: Uint32Array, need: number): Uint32Array {
  let cap = a.length * 2;
  while (cap < need) cap *= 2;
  const b = new Uint32Array(cap);
  b.set(a);
  return b;
}
