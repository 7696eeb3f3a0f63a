// A Hugging Face tokenizer.json (+ tokenizer_config.json) as a genlab Tokenizer: byte-level BPE
// with its own pre-tokenizer regex (Llama 3, Qwen) and SentencePiece-style BPE with byte fallback
// and '▁' (Llama 2, Mistral). Encoding follows HF tokenizers step by step:
//   added tokens → normalizer → pre-tokenizer → BPE model → post-processor (with add_special_tokens)
// and decoding runs the decoder chain on the token strings. hf-tokenizer.test.ts checks ids and
// text against HF's own Rust implementation on real files.
//
// Every component type genlab does not implement is refused when the file is read, with its place
// in the file: a tokenizer that loads encodes as HF does, up to characters whose Unicode data
// differs between Node and HF (README.md). Truncation and padding settings are ignored: genlab
// never truncates or pads.

import { renderBytes, toWellFormed } from './byte-level.ts';
import { AddedTokens, readAddedTokens, type AddedToken } from './hf-added-tokens.ts';
import { BpeModel } from './hf-bpe.ts';
import type { Where } from './hf-components.ts';
import { readDecoder, tokenPieceBytes, type Decoder } from './hf-decoders.ts';
import { readNormalizer } from './hf-normalizers.ts';
import { readPostProcessor, type Wrap } from './hf-post-processor.ts';
import { readPreTokenizer, type PreTokenizer } from './hf-pretokenizers.ts';
import { TokenBuffer } from './token-buffer.ts';
import { encodeThrough, encodeToNewUint32, END_OF_TEXT, streamPieces, unknownIdError, type EncodeOptions, type StreamDecoder, type Tokenizer } from './tokenizer.ts';
import { NO_TOKENIZER_CONFIG, type TokenizerConfig } from './tokenizer-config.ts';
import { describe, isObject, MAX_VOCAB, parseJson, TokenizerFileError } from './tokenizer-json.ts';

/** A file a tokenizer was read from, written back unchanged when it is saved. */
export interface SourceFile {
  name: string;
  text: string;
}

export class HfTokenizer implements Tokenizer {
  readonly vocabSize: number;
  /** The config's eos_token, else '<|endoftext|>' if it is a special token, else null. */
  readonly eotId: number | null;
  readonly specialTokens: ReadonlyMap<string, number>;
  readonly config: TokenizerConfig;
  /** tokenizer.json and the config files as read (parseHfTokenizer fills it); saveTokenizer writes them back. */
  readonly files: readonly SourceFile[];

  private readonly model: BpeModel;
  private readonly added: AddedTokens;
  private readonly addedById = new Map<number, AddedToken>();
  private readonly preTokenizer: PreTokenizer | null;
  private readonly decoder: Decoder | null;
  private readonly wrap: Wrap;
  /** id → token string (the model's, or an added token's content). */
  private readonly tokens: (string | undefined)[];
  private readonly bytesById: (Uint8Array | undefined)[];
  private readonly scratch = new TokenBuffer(4096);

  constructor(json: Record<string, unknown>, file: string, config: TokenizerConfig = NO_TOKENIZER_CONFIG, files: readonly SourceFile[] = []) {
    const w = (path: string): Where => ({ file, path });
    this.config = config;
    this.files = files;
    if (!isObject(json['model'])) throw new TokenizerFileError(file, `"model" is missing or not an object`);
    const normalizer = readNormalizer(json['normalizer'], w('normalizer'));
    this.preTokenizer = readPreTokenizer(json['pre_tokenizer'], w('pre_tokenizer'));
    this.model = new BpeModel(json['model'], w('model'), this.preTokenizer?.byteLevel ?? false);
    this.decoder = readDecoder(json['decoder'], w('decoder'));
    const addedTokens = readAddedTokens(json['added_tokens'], w('added_tokens'));
    this.added = new AddedTokens(addedTokens, normalizer);

    let size = this.model.size;
    for (const t of addedTokens) size = Math.max(size, t.id + 1);
    if (size > MAX_VOCAB) throw new TokenizerFileError(file, `token id ${size - 1} is too large: ids must be below ${MAX_VOCAB}`);
    this.vocabSize = size;
    this.tokens = new Array(size);
    for (const [token, id] of this.model.vocab) this.tokens[id] = token;
    const specials = new Map<string, number>();
    for (const t of addedTokens) {
      this.tokens[t.id] = t.content;
      this.addedById.set(t.id, t);
      if (t.special && !specials.has(t.content)) specials.set(t.content, t.id);
    }
    this.specialTokens = specials;
    this.bytesById = new Array(size);

    this.wrap = this.postProcessing(json['post_processor'], w('post_processor'), config);
    const eos = config.eosToken === null ? undefined : this.tokenToId(config.eosToken);
    this.eotId = eos ?? specials.get(END_OF_TEXT) ?? null;
  }

  /**
   * What add_special_tokens adds: the post-processor's template, unless tokenizer_config.json sets
   * add_bos_token / add_eos_token, which then decide (as transformers' Llama tokenizers do).
   */
  private postProcessing(raw: unknown, w: Where, config: TokenizerConfig): Wrap {
    const wrap = readPostProcessor(raw, w);
    const idOf = (key: 'bosToken' | 'eosToken', flag: string): number => {
      const token = config[key];
      const id = token === null ? undefined : this.tokenToId(token);
      if (id === undefined) throw new TokenizerFileError('tokenizer_config.json', `${flag} is true but ${key === 'bosToken' ? 'bos_token' : 'eos_token'} ${describe(token)} is not a token of ${w.file}`);
      return id;
    };
    return {
      prefix: config.addBosToken === null ? wrap.prefix : config.addBosToken ? [idOf('bosToken', 'add_bos_token')] : [],
      suffix: config.addEosToken === null ? wrap.suffix : config.addEosToken ? [idOf('eosToken', 'add_eos_token')] : [],
    };
  }

  encode(text: string, opts?: EncodeOptions): number[] {
    return encodeThrough(this, this.scratch, text, opts);
  }

  encodeInto(input: string, out: TokenBuffer, opts?: EncodeOptions): number {
    // A lone surrogate cannot be UTF-8: it is U+FFFD, as in every tokenizer that reads UTF-8.
    const text = toWellFormed(input);
    const start = out.length;
    const wrap = opts?.addSpecialTokens === true;
    if (wrap) for (const id of this.wrap.prefix) out.push(id);
    const model = this.model;
    const pre = this.preTokenizer;
    const sink = (t: string, s: number, e: number): void => model.encode(t, s, e, out);
    this.added.split(
      text,
      opts?.allowSpecial !== false,
      (segment, atStart) => (pre ? pre.run(segment, 0, segment.length, atStart, sink) : model.encode(segment, 0, segment.length, out)),
      (id) => out.push(id),
    );
    if (wrap) for (const id of this.wrap.suffix) out.push(id);
    return out.length - start;
  }

  encodeToUint32(text: string, opts?: EncodeOptions): Uint32Array {
    return encodeToNewUint32(this, text, opts);
  }

  clearCache(): void {
    this.model.clearCache();
  }

  /** HF's decode (special tokens kept): the decoder chain over the token strings. */
  decode(ids: ArrayLike<number>): string {
    const tokens = Array.from(ids, (id) => this.tokenString(id));
    // Without a decoder HF joins the tokens with spaces.
    return this.decoder ? this.decoder.chain(tokens).join('') : tokens.join(' ');
  }

  tokenBytes(id: number): Uint8Array {
    let b = this.bytesById[id];
    if (b === undefined) {
      const token = this.tokenString(id);
      b = this.addedById.has(id) ? new TextEncoder().encode(token) : tokenPieceBytes(this.decoder, token);
      this.bytesById[id] = b;
    }
    return b.slice();
  }

  tokenText(id: number): string {
    const added = this.addedById.get(id);
    return added ? added.content : renderBytes(this.tokenBytes(id));
  }

  tokenPieces(ids: ArrayLike<number>): string[] {
    return streamPieces(this.streamDecoder(), ids);
  }

  streamDecoder(): StreamDecoder {
    return new WindowStreamDecoder(this);
  }

  idToToken(id: number): string {
    return this.tokenString(id);
  }

  tokenToId(token: string): number | undefined {
    return this.added.idOf(token) ?? this.model.vocab.get(token);
  }

  isSpecial(id: number): boolean {
    return this.addedById.get(id)?.special === true;
  }

  private tokenString(id: number): string {
    const t = Number.isInteger(id) && id >= 0 ? this.tokens[id] : undefined;
    if (t === undefined) throw unknownIdError(id, this.vocabSize);
    return t;
  }
}

/**
 * Streaming with any decoder chain: the ids since the last emitted text are decoded together with
 * a few tokens of context before them, and the text beyond the context's own text is released once
 * it does not end in U+FFFD (an unfinished character). The context keeps rules that act at the
 * start of a text (Llama 2's decoder strips the first space) from firing mid-stream.
 */
class WindowStreamDecoder implements StreamDecoder {
  private window: number[] = [];
  /** Decoded text of the context tokens at the start of the window. */
  private prefix = '';

  constructor(private readonly tok: HfTokenizer) {}

  push(id: number): string {
    this.window.push(id);
    const text = this.tok.decode(this.window);
    if (text.length <= this.prefix.length || text.endsWith('\uFFFD')) return '';
    const out = text.slice(this.prefix.length);
    this.keepContext(text);
    return out;
  }

  flush(): string {
    const text = this.tok.decode(this.window);
    const out = text.length > this.prefix.length ? text.slice(this.prefix.length) : '';
    this.window = [];
    this.prefix = '';
    return out;
  }

  /** Shrinks the window to the shortest tail of tokens that decodes to the tail of `text`. */
  private keepContext(text: string): void {
    const n = this.window.length;
    for (let k = 1; k <= Math.min(n, 8); k++) {
      const tail = this.window.slice(n - k);
      const t = this.tok.decode(tail);
      if (t !== '' && text.endsWith(t)) {
        this.window = tail;
        this.prefix = t;
        return;
      }
    }
    this.prefix = text;
  }
}

/**
 * Parses tokenizer.json text (with the folder's tokenizer_config.json, if any); `otherFiles` are
 * saved back with it (tokenizer_config.json, chat_template.jinja as read).
 */
export function parseHfTokenizer(text: string, file = 'tokenizer.json', config: TokenizerConfig = NO_TOKENIZER_CONFIG, otherFiles: readonly SourceFile[] = []): HfTokenizer {
  const json = parseJson(text, file);
  if (!isObject(json)) throw new TokenizerFileError(file, `expected a JSON object, found ${describe(json)}`);
  return new HfTokenizer(json, file, config, [{ name: 'tokenizer.json', text }, ...otherFiles]);
}
