// The Tokenizer interface the rest of genlab uses, and its fast implementation for GPT-2-style
// byte-level BPE (HfTokenizer in hf-tokenizer.ts reads other Hugging Face tokenizer.json files).
//
// The byte-level BPE tokenizer: GPT-2 pre-tokenization, merges applied on integer ids, a word →
// ids cache (natural text repeats a few tens of thousands of words, so almost every word is one
// hash probe), special tokens matched before pre-tokenization.
//
// Round trip: decode(encode(s)) === s for every well-formed string. A lone surrogate (half of a
// UTF-16 pair, which UTF-8 cannot express) is encoded as U+FFFD, like TextEncoder and every other
// byte-level tokenizer do, so decode(encode(s)) === toWellFormed(s) for all strings.

import { bpeMerge, PairRanks } from './bpe.ts';
import { BYTE_TO_CHAR, bytesToTokenString, renderBytes, utf8Encode } from './byte-level.ts';
import { specialTokenRegex, splitOnSpecials } from './pretokenize.ts';
import { wordEnd } from './scanner.ts';
import { TokenBuffer } from './token-buffer.ts';
import { NO_TOKENIZER_CONFIG, type TokenizerConfig } from './tokenizer-config.ts';
import { MAX_VOCAB } from './tokenizer-json.ts';
import { WordCache } from './word-cache.ts';

export { MAX_VOCAB };

export const END_OF_TEXT = '<|endoftext|>';

export interface SpecialToken {
  id: number;
  content: string;
}

/** Everything a tokenizer is made of; the file formats and the trainer produce this. */
export interface TokenizerParts {
  /** Bytes of each ordinary token by id; null at ids of special tokens (and unused ids). */
  vocab: ReadonlyArray<Uint8Array | null>;
  /** Merges in rank order, as pairs of token ids. */
  merges: ReadonlyArray<readonly [number, number]>;
  specialTokens: ReadonlyArray<SpecialToken>;
}

export interface EncodeOptions {
  /**
   * Recognize special tokens in the text (default true). Pass false for untrusted input, so that a
   * user typing '<|endoftext|>' gets the ordinary tokens for those characters.
   */
  allowSpecial?: boolean;
  /**
   * Add the tokens the tokenizer adds around a text (Llama's BOS), as Hugging Face's
   * `add_special_tokens=True` does (default false: the ids of the text alone, so encodings of
   * pieces can be concatenated). GPT-2-style byte-level BPE adds nothing either way.
   */
  addSpecialTokens?: boolean;
}

/** Incremental decoding for generation: push ids, get the text that became complete. */
export interface StreamDecoder {
  push(id: number): string;
  /** Ends the stream and returns what was held back (U+FFFD for an unfinished character). */
  flush(): string;
}

/**
 * What the rest of genlab uses of a tokenizer. Two implementations: ByteLevelTokenizer (GPT-2-style
 * byte-level BPE, what genlab trains; fast) and HfTokenizer (any supported Hugging Face
 * tokenizer.json: Llama, Mistral, Qwen, ...).
 */
export interface Tokenizer {
  /** Number of ids (max id + 1), including special tokens: the embedding table's row count. */
  readonly vocabSize: number;
  /** The end-of-text token: documents are separated by it and generation stops at it; null if none. */
  readonly eotId: number | null;
  /** Special token content → id. */
  readonly specialTokens: ReadonlyMap<string, number>;
  /** What tokenizer_config.json says (chat template, BOS/EOS); empty for a tokenizer built in memory. */
  readonly config: TokenizerConfig;
  encode(text: string, opts?: EncodeOptions): number[];
  /** Appends the ids of `text` to `out` and returns how many were appended. */
  encodeInto(text: string, out: TokenBuffer, opts?: EncodeOptions): number;
  encodeToUint32(text: string, opts?: EncodeOptions): Uint32Array;
  /** Text of the ids, special tokens included; invalid UTF-8 becomes U+FFFD. */
  decode(ids: ArrayLike<number>): string;
  /** One token's bytes (a special token's as its UTF-8 text). */
  tokenBytes(id: number): Uint8Array;
  /** One token as display text: complete characters as text, loose bytes of a partial character as `<0xF0>`. */
  tokenText(id: number): string;
  /** Per-token text whose concatenation is decode(ids); a character split over tokens belongs to the token that completes it. */
  tokenPieces(ids: ArrayLike<number>): string[];
  streamDecoder(): StreamDecoder;
  /** The vocabulary string of a token ('Ġthe', '▁the', '<0x0A>', or a special token's text). */
  idToToken(id: number): string;
  tokenToId(token: string): number | undefined;
  isSpecial(id: number): boolean;
  /** Forgets cached word encodings (memory, or timing cold-cache encoding). */
  clearCache(): void;
}

/**
 * Per-token text from a stream decoder: what each id released, with what the end of the stream
 * releases added to the last piece, so the pieces concatenate to the whole decoded text.
 */
export function streamPieces(dec: StreamDecoder, ids: ArrayLike<number>): string[] {
  const out: string[] = [];
  for (let i = 0; i < ids.length; i++) out.push(dec.push(ids[i]!));
  const tail = dec.flush();
  if (tail && out.length > 0) out[out.length - 1] += tail;
  return out;
}

/** The error for an id that names no token. */
export function unknownIdError(id: number, vocabSize: number): RangeError {
  if (Number.isInteger(id) && id >= 0 && id < vocabSize) return new RangeError(`token id ${id} is not assigned to any token in this vocabulary`);
  return new RangeError(`token id ${id} is out of range: this vocabulary has ids 0..${vocabSize - 1}`);
}

/** encode() through a tokenizer's reusable scratch buffer: one array, and no huge buffer kept. */
export function encodeThrough(tok: Tokenizer, buf: TokenBuffer, text: string, opts?: EncodeOptions): number[] {
  buf.clear();
  buf.reserve(text.length >> 2); // ~4 characters per token in English: usually no regrowth
  tok.encodeInto(text, buf, opts);
  const ids = buf.toArray();
  if (buf.data.length > 1 << 22) buf.data = new Uint32Array(4096); // don't pin a huge buffer
  buf.clear();
  return ids;
}

/** encodeToUint32() for any tokenizer. */
export function encodeToNewUint32(tok: Tokenizer, text: string, opts?: EncodeOptions): Uint32Array {
  const buf = new TokenBuffer(Math.max(16, text.length >> 2));
  tok.encodeInto(text, buf, opts);
  return buf.data.slice(0, buf.length);
}

/** Words longer than this (in UTF-16 units) are not cached: they rarely repeat. */
const MAX_CACHED_WORD = 64;

/** GPT-2-style byte-level BPE: GPT-2's pre-tokenizer, every added token special, no normalizer. */
export class ByteLevelTokenizer implements Tokenizer {
  readonly vocabSize: number;
  /** Id of '<|endoftext|>' if it is a special token, else of the first special token, else null. */
  readonly eotId: number | null;
  readonly specialTokens: ReadonlyMap<string, number>;
  readonly config: TokenizerConfig;

  private readonly parts: TokenizerParts;
  private readonly bytesById: (Uint8Array | null)[];
  private readonly specialById: (string | null)[];
  private readonly stringToId = new Map<string, number>();
  private readonly byteToId = new Int32Array(256).fill(-1);
  private readonly ranks: PairRanks;
  private readonly mergeResult: Int32Array;
  private readonly specialRe: RegExp | null;
  private readonly cache = new WordCache();
  private byteScratch = new Uint8Array(256);
  private symScratch = new Int32Array(256);
  private symCount = 0;
  private readonly scratchBuffer = new TokenBuffer(4096);

  constructor(parts: TokenizerParts, config: TokenizerConfig = NO_TOKENIZER_CONFIG) {
    this.parts = parts;
    this.config = config;
    const { vocab, merges, specialTokens } = parts;
    let size = vocab.length;
    for (const s of specialTokens) size = Math.max(size, s.id + 1);
    if (size > MAX_VOCAB) throw new Error(`token id ${size - 1} is too large: ids must be below ${MAX_VOCAB}`);
    this.vocabSize = size;
    this.bytesById = new Array(size).fill(null);
    this.specialById = new Array(size).fill(null);

    for (let id = 0; id < vocab.length; id++) {
      const bytes = vocab[id];
      if (!bytes) continue;
      if (bytes.length === 0) throw new Error(`token ${id} is empty; every ordinary token needs at least one byte`);
      const key = bytesToTokenString(bytes);
      const other = this.stringToId.get(key);
      if (other !== undefined) throw new Error(`tokens ${other} and ${id} are both ${JSON.stringify(key)}; each byte string needs exactly one id`);
      this.stringToId.set(key, id);
      this.bytesById[id] = bytes;
      if (bytes.length === 1) this.byteToId[bytes[0]!] = id;
    }
    for (let b = 0; b < 256; b++) {
      if (this.byteToId[b]! < 0) {
        throw new Error(`no token for byte 0x${b.toString(16).padStart(2, '0')} (${JSON.stringify(BYTE_TO_CHAR[b])}); a byte-level vocabulary needs all 256 single-byte tokens`);
      }
    }

    const specials = new Map<string, number>();
    for (const { id, content } of specialTokens) {
      if (!Number.isInteger(id) || id < 0) throw new Error(`special token ${JSON.stringify(content)} has invalid id ${id}; ids are non-negative integers`);
      if (content.length === 0) throw new Error(`special token ${id} is empty`);
      if (this.bytesById[id]) throw new Error(`special token ${JSON.stringify(content)} has id ${id}, which ordinary token ${JSON.stringify(bytesToTokenString(this.bytesById[id]!))} already uses`);
      if (this.specialById[id] !== null) throw new Error(`id ${id} is given to two special tokens: ${JSON.stringify(this.specialById[id])} and ${JSON.stringify(content)}`);
      if (specials.has(content)) throw new Error(`special token ${JSON.stringify(content)} is listed twice (ids ${specials.get(content)} and ${id})`);
      specials.set(content, id);
      this.specialById[id] = content;
      this.bytesById[id] = new TextEncoder().encode(content);
    }
    this.specialTokens = specials;
    this.eotId = specials.get(END_OF_TEXT) ?? (specialTokens.length > 0 ? specialTokens[0]!.id : null);
    this.specialRe = specialTokenRegex([...specials.keys()]);

    this.mergeResult = new Int32Array(merges.length);
    for (let r = 0; r < merges.length; r++) {
      const [a, b] = merges[r]!;
      const ba = this.ordinaryBytes(a, r);
      const bb = this.ordinaryBytes(b, r);
      const key = bytesToTokenString(ba) + bytesToTokenString(bb);
      const id = this.stringToId.get(key);
      if (id === undefined) throw new Error(`merge ${r} (${a} + ${b}) makes ${JSON.stringify(key)}, which is not in the vocabulary`);
      this.mergeResult[r] = id;
    }
    this.ranks = new PairRanks(merges);
  }

  private ordinaryBytes(id: number, rank: number): Uint8Array {
    const bytes = Number.isInteger(id) && id >= 0 && id < this.vocabSize && this.specialById[id] === null ? this.bytesById[id] : null;
    if (!bytes) throw new Error(`merge ${rank} uses id ${id}, which is not an ordinary token of this vocabulary`);
    return bytes;
  }

  /** The parts this tokenizer was built from (vocab bytes by id, merges, special tokens). */
  toParts(): TokenizerParts {
    return this.parts;
  }

  /** Merges in rank order, as id pairs. */
  get merges(): ReadonlyArray<readonly [number, number]> {
    return this.parts.merges;
  }

  encode(text: string, opts?: EncodeOptions): number[] {
    return encodeThrough(this, this.scratchBuffer, text, opts);
  }

  /** Appends the ids of `text` to `out` and returns how many were appended. */
  encodeInto(text: string, out: TokenBuffer, opts?: EncodeOptions): number {
    const start = out.length;
    const specialRe = opts?.allowSpecial === false ? null : this.specialRe;
    if (specialRe === null) {
      this.encodeOrdinary(text, 0, text.length, out);
    } else {
      splitOnSpecials(
        text,
        specialRe,
        (s, e) => this.encodeOrdinary(text, s, e, out),
        (content) => out.push(this.specialTokens.get(content)!),
      );
    }
    return out.length - start;
  }

  /** Encodes `text` into a fresh Uint32Array. */
  encodeToUint32(text: string, opts?: EncodeOptions): Uint32Array {
    return encodeToNewUint32(this, text, opts);
  }

  /** Encodes text[start..end), which holds no special tokens. */
  private encodeOrdinary(text: string, start: number, end: number, out: TokenBuffer): void {
    const cache = this.cache;
    let data = out.data;
    let len = out.length;
    for (let i = start; i < end; ) {
      const e = wordEnd(text, i, end);
      if (e - i <= MAX_CACHED_WORD) {
        const h = WordCache.hash(text, i, e);
        if (cache.get(text, i, e, h)) {
          const k = cache.foundCount;
          if (len + k > data.length) {
            out.length = len;
            out.reserve(k);
            data = out.data;
          }
          const ids = cache.ids;
          for (let at = cache.found, stop = at + k; at < stop; at++) data[len++] = ids[at]!;
          i = e;
          continue;
        }
        const k = this.bpeWord(text, i, e);
        cache.set(text, i, e, h, this.symScratch, k);
      } else {
        this.bpeWord(text, i, e);
      }
      // cache miss or long word: the ids are in symScratch
      const k = this.symCount;
      if (len + k > data.length) {
        out.length = len;
        out.reserve(k);
        data = out.data;
      }
      const syms = this.symScratch;
      for (let at = 0; at < k; at++) data[len++] = syms[at]!;
      i = e;
    }
    out.length = len;
  }

  /** BPE on the word text[start..end); leaves its ids in symScratch[0..symCount) and returns symCount. */
  private bpeWord(text: string, start: number, end: number): number {
    const need = (end - start) * 3;
    if (this.byteScratch.length < need) {
      this.byteScratch = new Uint8Array(need * 2);
      this.symScratch = new Int32Array(need * 2);
    }
    const bytes = this.byteScratch;
    const syms = this.symScratch;
    const n = utf8Encode(text, bytes, start, end);
    for (let i = 0; i < n; i++) syms[i] = this.byteToId[bytes[i]!]!;
    this.symCount = bpeMerge(syms, n, this.ranks, this.mergeResult);
    return this.symCount;
  }

  /** Forgets cached word encodings (memory, or timing cold-cache encoding). */
  clearCache(): void {
    this.cache.clear();
  }

  /** The bytes the ids stand for (special tokens as their UTF-8 text). */
  decodeBytes(ids: ArrayLike<number>): Uint8Array {
    let total = 0;
    for (let i = 0; i < ids.length; i++) total += this.bytesOf(ids[i]!).length;
    const out = new Uint8Array(total);
    let pos = 0;
    for (let i = 0; i < ids.length; i++) {
      const b = this.bytesOf(ids[i]!);
      out.set(b, pos);
      pos += b.length;
    }
    return out;
  }

  /** Decodes ids to text; byte sequences that are not valid UTF-8 become U+FFFD. */
  decode(ids: ArrayLike<number>): string {
    return textDecoder.decode(this.decodeBytes(ids));
  }

  /** A copy of one token's bytes. */
  tokenBytes(id: number): Uint8Array {
    return this.bytesOf(id).slice();
  }

  /**
   * One token as display text. A token can be part of a UTF-8 sequence (the first bytes of an
   * emoji): complete characters show as text, the loose bytes as `<0xF0>`.
   */
  tokenText(id: number): string {
    const special = this.specialById[id];
    if (special !== null && special !== undefined) return special;
    return renderBytes(this.bytesOf(id));
  }

  /**
   * Per-token text whose concatenation equals decode(ids): a character split over several tokens
   * is attributed to the token that completes it (the others get ''), which is how a streaming
   * display shows it.
   */
  tokenPieces(ids: ArrayLike<number>): string[] {
    return streamPieces(this.streamDecoder(), ids);
  }

  /** Incremental decoding for generation: push ids, get the text that became complete. */
  streamDecoder(): StreamDecoder {
    return new ByteStreamDecoder(this);
  }

  /** The vocabulary string of a token (byte-level form such as 'Ġthe', or a special token's text). */
  idToToken(id: number): string {
    const special = this.specialById[id];
    if (special !== null && special !== undefined) return special;
    return bytesToTokenString(this.bytesOf(id));
  }

  /** Id of a vocabulary string (byte-level form or special token text), or undefined. */
  tokenToId(token: string): number | undefined {
    return this.specialTokens.get(token) ?? this.stringToId.get(token);
  }

  isSpecial(id: number): boolean {
    return this.specialById[id] !== null && this.specialById[id] !== undefined;
  }

  private bytesOf(id: number): Uint8Array {
    const b = this.bytesById[id];
    if (!b) throw unknownIdError(id, this.vocabSize);
    return b;
  }
}

// ignoreBOM keeps a leading U+FEFF (TextDecoder strips it by default, breaking round trips).
const textDecoder = new TextDecoder('utf-8', { ignoreBOM: true });

/** Decodes a stream of ids, holding back bytes of characters not yet complete. */
class ByteStreamDecoder implements StreamDecoder {
  private readonly decoder = new TextDecoder('utf-8', { ignoreBOM: true });

  constructor(private readonly tokenizer: ByteLevelTokenizer) {}

  push(id: number): string {
    return this.decoder.decode(this.tokenizer.tokenBytes(id), { stream: true });
  }

  /** Ends the stream; returns U+FFFD for an unfinished character, if any. */
  flush(): string {
    return this.decoder.decode();
  }
}
