// The BPE model of a Hugging Face tokenizer.json, applied to one pre-tokenized piece:
// - the piece's initial symbols are its characters, or with a ByteLevel pre-tokenizer its UTF-8
//   bytes (as GPT-2 byte-alphabet characters);
// - a character missing from the vocabulary becomes its UTF-8 bytes as <0xHH> tokens when
//   byte_fallback is on (SentencePiece style: Llama 2, Mistral), else unk_token (runs of
//   them fused into one with fuse_unk), else it is dropped, as HF does;
// - continuing_subword_prefix / end_of_word_suffix mark non-initial / final symbols;
// - with ignore_merges (Llama 3) a piece that is itself in the vocabulary is that one token;
// - then merges apply by rank, lowest first, leftmost on ties (bpe.ts, shared with GPT-2's path).
// Results are cached per piece text (word-cache.ts), so a repeated word costs one hash probe.
// Files without a pre-tokenizer (Llama 2's legacy conversion) hand over whole texts as one piece;
// when no token of the vocabulary has '▁' right after another character, no merge can cross the
// point before such a '▁', so the piece is cut there into words that the cache serves (same ids).

import { bpeMerge, PairRanks } from './bpe.ts';
import { BYTE_TO_CHAR, bytesToTokenString, utf8Encode } from './byte-level.ts';
import { at, bool, fail, type Where } from './hf-components.ts';
import type { TokenBuffer } from './token-buffer.ts';
import { describe, readMerges, readVocab } from './tokenizer-json.ts';
import { WordCache } from './word-cache.ts';

/** Pieces longer than this (UTF-16 units) are not cached: they rarely repeat. */
const MAX_CACHED_PIECE = 64;

const textEncoder = new TextEncoder();
const META = '▁';
const META_CODE = META.charCodeAt(0);

export class BpeModel {
  /** Token string → id. */
  readonly vocab: Map<string, number>;
  /** One past the largest id. */
  readonly size: number;
  private readonly ranks: PairRanks;
  private readonly mergeResult: Int32Array;
  private readonly unkId: number;
  private readonly fuseUnk: boolean;
  private readonly byteFallback: boolean;
  private readonly ignoreMerges: boolean;
  private readonly prefix: string;
  private readonly suffix: string;
  /** Byte → id of its byte-alphabet character; all 256 set enables the fast byte path. */
  private readonly byteToId = new Int32Array(256).fill(-1);
  private readonly fastBytes: boolean;
  /** <0xHH> token ids (byte fallback), -1 where missing. */
  private readonly fallbackIds = new Int32Array(256).fill(-1);
  private readonly cache = new WordCache();
  /** Whether pieces may be cut before a '▁' that follows another character (see above). */
  private readonly cutBeforeMeta: boolean;
  private syms = new Int32Array(256);
  private bytes = new Uint8Array(768);

  constructor(
    model: Record<string, unknown>,
    w: Where,
    private readonly byteLevel: boolean,
  ) {
    if (model['type'] !== undefined && model['type'] !== 'BPE') {
      fail(at(w, 'type'), `is ${describe(model['type'])}; genlab reads BPE models only (WordPiece, Unigram and WordLevel are not supported)`);
    }
    const dropout = model['dropout'];
    if (dropout !== undefined && dropout !== null && dropout !== 0) fail(at(w, 'dropout'), `is ${describe(dropout)}; BPE dropout is not supported (set it to null)`);
    this.vocab = readVocab(model['vocab'], w.file, `${w.path}.vocab`);
    let size = 0;
    for (const id of this.vocab.values()) size = Math.max(size, id + 1);
    this.size = size;
    this.prefix = optionalString(model, 'continuing_subword_prefix', w);
    this.suffix = optionalString(model, 'end_of_word_suffix', w);
    this.fuseUnk = bool(model, 'fuse_unk', w, false);
    this.byteFallback = bool(model, 'byte_fallback', w, false);
    this.ignoreMerges = bool(model, 'ignore_merges', w, false);
    const unk = model['unk_token'];
    if (unk !== undefined && unk !== null && typeof unk !== 'string') fail(at(w, 'unk_token'), `is ${describe(unk)}; expected a token string or null`);
    this.unkId = typeof unk === 'string' ? (this.vocab.get(unk) ?? fail(at(w, 'unk_token'), `${JSON.stringify(unk)} is not in the vocabulary`)) : -1;

    for (let b = 0; b < 256; b++) {
      this.byteToId[b] = this.vocab.get(BYTE_TO_CHAR[b]!) ?? -1;
      this.fallbackIds[b] = this.vocab.get(`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`) ?? -1;
    }
    this.fastBytes = byteLevel && this.prefix === '' && this.suffix === '' && this.byteToId.every((id) => id >= 0);
    // (A character without a token must not vanish: that would glue the '▁'s around it together.)
    const noDrops = this.unkId >= 0 || (this.byteFallback && this.fallbackIds.every((id) => id >= 0));
    this.cutBeforeMeta =
      !byteLevel && !this.ignoreMerges && noDrops && this.prefix === '' && this.suffix === '' && this.vocab.has(META) && [...this.vocab.keys()].every((t) => !/[^▁]▁/u.test(t));

    const merges = readMerges(model['merges'], w.file);
    const pairs: [number, number][] = [];
    this.mergeResult = new Int32Array(merges.length);
    merges.forEach(({ left, right, where }, r) => {
      const a = this.vocab.get(left);
      const b = this.vocab.get(right);
      if (a === undefined || b === undefined) fail({ file: w.file, path: where }, `uses ${describe(a === undefined ? left : right)}, which is not in the vocabulary`);
      // With a subword prefix, "a ##b" makes "ab".
      const merged = left + (this.prefix !== '' && right.startsWith(this.prefix) ? right.slice(this.prefix.length) : right);
      const id = this.vocab.get(merged);
      if (id === undefined) fail({ file: w.file, path: where }, `makes ${describe(merged)}, which is not in the vocabulary`);
      pairs.push([a, b]);
      this.mergeResult[r] = id;
    });
    this.ranks = new PairRanks(pairs);
  }

  /** Appends the ids of the piece text[start..end) to `out`. */
  encode(text: string, start: number, end: number, out: TokenBuffer): void {
    if (this.cutBeforeMeta && end - start > MAX_CACHED_PIECE) {
      let from = start;
      for (let i = text.indexOf(META, start + 1); i >= 0 && i < end; i = text.indexOf(META, i + 1)) {
        if (text.charCodeAt(i - 1) === META_CODE) continue;
        this.encodeWord(text, from, i, out);
        from = i;
      }
      this.encodeWord(text, from, end, out);
      return;
    }
    this.encodeWord(text, start, end, out);
  }

  private encodeWord(text: string, start: number, end: number, out: TokenBuffer): void {
    const len = end - start;
    if (len === 0) return;
    if (len <= MAX_CACHED_PIECE) {
      const h = WordCache.hash(text, start, end);
      if (this.cache.get(text, start, end, h)) {
        const ids = this.cache.ids;
        for (let at = this.cache.found, stop = at + this.cache.foundCount; at < stop; at++) out.push(ids[at]!);
        return;
      }
      const n = this.tokenize(text, start, end);
      this.cache.set(text, start, end, h, this.syms, n);
      for (let i = 0; i < n; i++) out.push(this.syms[i]!);
      return;
    }
    const n = this.tokenize(text, start, end);
    for (let i = 0; i < n; i++) out.push(this.syms[i]!);
  }

  clearCache(): void {
    this.cache.clear();
  }

  /** BPE on the piece; leaves the ids in syms[0..n) and returns n. */
  private tokenize(text: string, start: number, end: number): number {
    const need = (end - start) * 3 + 2;
    if (this.bytes.length < need) this.bytes = new Uint8Array(need * 2);
    if (this.syms.length < need * 4) this.syms = new Int32Array(need * 8); // byte fallback: up to 4 ids per character
    let n: number;
    if (this.fastBytes) {
      const nb = utf8Encode(text, this.bytes, start, end);
      if (this.ignoreMerges) {
        const whole = this.vocab.get(bytesToTokenString(this.bytes.subarray(0, nb)));
        if (whole !== undefined) {
          this.syms[0] = whole;
          return 1;
        }
      }
      for (let i = 0; i < nb; i++) this.syms[i] = this.byteToId[this.bytes[i]!]!;
      n = nb;
    } else {
      n = this.initialSymbols(this.modelText(text, start, end));
      if (n < 0) return 1; // ignore_merges hit, in syms[0]
    }
    return bpeMerge(this.syms, n, this.ranks, this.mergeResult);
  }

  /** The piece as the vocabulary spells it: itself, or its bytes in GPT-2's byte alphabet. */
  private modelText(text: string, start: number, end: number): string {
    if (!this.byteLevel) return text.slice(start, end);
    return bytesToTokenString(this.bytes.subarray(0, utf8Encode(text, this.bytes, start, end)));
  }

  /** Initial symbols of `piece` into syms; returns their count, or -1 when ignore_merges found the whole piece. */
  private initialSymbols(piece: string): number {
    if (this.ignoreMerges) {
      const whole = this.vocab.get(piece);
      if (whole !== undefined) {
        this.syms[0] = whole;
        return -1;
      }
    }
    const syms = this.syms;
    let n = 0;
    let lastWasUnk = false;
    for (let i = 0; i < piece.length; ) {
      const cp = piece.codePointAt(i)!;
      const ch = String.fromCodePoint(cp);
      const first = i === 0;
      i += ch.length;
      const symbol = (first || this.prefix === '' ? '' : this.prefix) + ch + (i === piece.length ? this.suffix : '');
      const id = this.vocab.get(symbol);
      if (id !== undefined) {
        syms[n++] = id;
        lastWasUnk = false;
        continue;
      }
      if (this.byteFallback) {
        const b = textEncoder.encode(ch);
        let ok = true;
        for (const x of b) if (this.fallbackIds[x]! < 0) ok = false;
        if (ok) {
          for (const x of b) syms[n++] = this.fallbackIds[x]!;
          lastWasUnk = false;
          continue;
        }
      }
      if (this.unkId >= 0) {
        if (!(this.fuseUnk && lastWasUnk)) syms[n++] = this.unkId;
        lastWasUnk = true;
      }
      // No unk token: HF drops the character.
    }
    return n;
  }
}

function optionalString(model: Record<string, unknown>, key: string, w: Where): string {
  const v = model[key];
  if (v === undefined || v === null) return '';
  if (typeof v !== 'string') fail(at(w, key), `is ${describe(v)}; expected a string or null`);
  return v;
}
