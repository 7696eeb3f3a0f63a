// Text forms of a tokenizer, without file I/O (so the browser app can use them too):
// - Hugging Face `tokenizer.json`: BPE model, ByteLevel pre-tokenizer and decoder, special tokens as
//   `added_tokens` with special: true. Loads with `tokenizers` and transformers' GPT2TokenizerFast.
// - GPT-2's `vocab.json` (token string → id) + `merges.txt` ('#version: 0.2' line, then one
//   "left right" merge per line, in rank order).
// Tokens are written in the byte-level alphabet (see byte-level.ts), so no token contains a space
// and "left right" splits unambiguously.

import { tokenStringToBytes } from './byte-level.ts';
import { HfTokenizer } from './hf-tokenizer.ts';
import { ByteLevelTokenizer, type SpecialToken, type Tokenizer, type TokenizerParts } from './tokenizer.ts';
import type { TokenizerConfig } from './tokenizer-config.ts';
import { describe, isObject, parseJson, readMerges, readVocab, TokenizerFileError } from './tokenizer-json.ts';

export { TokenizerFileError };

export const MERGES_HEADER = '#version: 0.2';

/** vocab.json text: every id's vocabulary string, in id order. */
export function vocabJsonString(tok: ByteLevelTokenizer): string {
  return JSON.stringify(vocabObject(tok));
}

function vocabObject(tok: ByteLevelTokenizer): Record<string, number> {
  const vocab: Record<string, number> = {};
  for (let id = 0; id < tok.vocabSize; id++) {
    if (!isAssigned(tok, id)) continue;
    vocab[tok.idToToken(id)] = id;
  }
  return vocab;
}

function isAssigned(tok: ByteLevelTokenizer, id: number): boolean {
  return tok.isSpecial(id) || tok.toParts().vocab[id] != null;
}

/** merges.txt text. */
export function mergesTxtString(tok: ByteLevelTokenizer): string {
  const lines = [MERGES_HEADER];
  for (const [a, b] of tok.merges) lines.push(`${tok.idToToken(a)} ${tok.idToToken(b)}`);
  return lines.join('\n') + '\n';
}

/** Hugging Face tokenizer.json text: generated for genlab's byte-level BPE, the file as read for a Hugging Face tokenizer. */
export function tokenizerJsonString(tok: Tokenizer): string {
  if (tok instanceof HfTokenizer) {
    const source = tok.files.find((f) => f.name === 'tokenizer.json');
    if (!source) throw new Error('this HfTokenizer was built without its tokenizer.json text; make it with parseHfTokenizer or loadTokenizer');
    return source.text;
  }
  if (!(tok instanceof ByteLevelTokenizer)) throw new Error('tokenizerJsonString needs a ByteLevelTokenizer or an HfTokenizer');
  const byteLevel = { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true };
  const json = {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: [...tok.specialTokens].map(([content, id]) => ({
      id,
      content,
      single_word: false,
      lstrip: false,
      rstrip: false,
      normalized: false,
      special: true,
    })),
    normalizer: null,
    pre_tokenizer: byteLevel,
    post_processor: { ...byteLevel, trim_offsets: false },
    decoder: byteLevel,
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: '',
      end_of_word_suffix: '',
      fuse_unk: false,
      byte_fallback: false,
      vocab: vocabObject(tok),
      // "left right" strings rather than [left, right] pairs: every tokenizers version reads them.
      merges: tok.merges.map(([a, b]) => `${tok.idToToken(a)} ${tok.idToToken(b)}`),
    },
  };
  return JSON.stringify(json, null, 2) + '\n';
}

/**
 * transformers' tokenizer_config.json, so AutoTokenizer works on a tokenizer-only folder and knows
 * the end-of-text token; decoding must not "clean up" spaces before punctuation.
 */
export function tokenizerConfigString(tok: ByteLevelTokenizer): string {
  const eot = tok.eotId === null ? null : tok.idToToken(tok.eotId);
  const config: Record<string, unknown> = {
    tokenizer_class: 'GPT2Tokenizer',
    add_prefix_space: false,
    clean_up_tokenization_spaces: false,
  };
  if (eot !== null) Object.assign(config, { bos_token: eot, eos_token: eot, unk_token: eot });
  if (tok.config.chatTemplate !== null) config['chat_template'] = tok.config.chatTemplate;
  return JSON.stringify(config, null, 2) + '\n';
}

/**
 * Builds parts from vocabulary strings, merge string pairs and special tokens. Entries named in
 * `specials` are special; the others must be byte-level strings.
 */
function buildParts(
  vocab: Map<string, number>,
  merges: ReadonlyArray<{ left: string; right: string; where: string }>,
  specials: ReadonlyArray<SpecialToken>,
  vocabFile: string,
  mergesFile: string,
): TokenizerParts {
  const specialIds = new Set(specials.map((s) => s.id));
  let size = 0;
  for (const id of vocab.values()) size = Math.max(size, id + 1);
  const bytes: (Uint8Array | null)[] = new Array(size).fill(null);
  for (const [token, id] of vocab) {
    if (specialIds.has(id)) continue;
    const b = tokenStringToBytes(token);
    if (b === null || b.length === 0) {
      throw new TokenizerFileError(vocabFile, `token ${describe(token)} (id ${id}) is not in GPT-2's byte-level alphabet and is not a special token; only byte-level BPE vocabularies are supported`);
    }
    bytes[id] = b;
  }
  const mergeIds: [number, number][] = [];
  for (const { left, right, where } of merges) {
    const a = vocab.get(left);
    const b = vocab.get(right);
    if (a === undefined || b === undefined) {
      const missing = a === undefined ? left : right;
      throw new TokenizerFileError(mergesFile, `${where}: token ${describe(missing)} is not in the vocabulary (${vocabFile}); the two files do not belong together`);
    }
    if (!vocab.has(left + right)) {
      throw new TokenizerFileError(mergesFile, `${where}: merged token ${describe(left + right)} is not in the vocabulary (${vocabFile})`);
    }
    mergeIds.push([a, b]);
  }
  return { vocab: bytes, merges: mergeIds, specialTokens: specials };
}

function construct(parts: TokenizerParts, file: string, config?: TokenizerConfig): ByteLevelTokenizer {
  try {
    return new ByteLevelTokenizer(parts, config);
  } catch (e) {
    throw new TokenizerFileError(file, (e as Error).message);
  }
}

/** Parses GPT-2 style vocab.json + merges.txt texts; the names are used in error messages. */
export function parseVocabMerges(vocabText: string, mergesText: string, vocabFile = 'vocab.json', mergesFile = 'merges.txt', config?: TokenizerConfig): ByteLevelTokenizer {
  const vocab = readVocab(parseJson(vocabText, vocabFile), vocabFile, 'the top-level object');
  const lines = mergesText.split('\n');
  const merges: { left: string; right: string; where: string }[] = [];
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.endsWith('\r') ? lines[i]!.slice(0, -1) : lines[i]!;
    if (line === '' || (i === 0 && line.startsWith('#version'))) continue;
    const parts = line.split(' ');
    if (parts.length !== 2 || parts[0] === '' || parts[1] === '') {
      throw new TokenizerFileError(mergesFile, `line ${i + 1}: expected two tokens separated by one space, found ${describe(line)}`);
    }
    merges.push({ left: parts[0]!, right: parts[1]!, where: `line ${i + 1}` });
  }
  // vocab.json has no special-token flag. An entry that is neither a single byte nor made by a
  // merge can never come out of BPE, so it is a special token (GPT-2: '<|endoftext|>').
  const reachable = new Set<string>();
  for (const m of merges) reachable.add(m.left + m.right);
  const specials: SpecialToken[] = [];
  for (const [token, id] of vocab) {
    const b = tokenStringToBytes(token);
    if ((b !== null && b.length === 1) || reachable.has(token)) continue;
    specials.push({ id, content: token });
  }
  specials.sort((x, y) => x.id - y.id);
  return construct(buildParts(vocab, merges, specials, vocabFile, mergesFile), `${vocabFile} + ${mergesFile}`, config);
}

/**
 * Whether a parsed tokenizer.json is GPT-2-style byte-level BPE that ByteLevelTokenizer encodes and
 * decodes exactly as HF does (so loadTokenizer can take the fast path); anything else goes to
 * HfTokenizer.
 */
export function isGpt2StyleJson(json: unknown): boolean {
  if (!isObject(json) || !isObject(json['model'])) return false;
  const m = json['model'];
  const empty = (v: unknown): boolean => v === undefined || v === null || v === '' || v === false || v === 0;
  const byteLevel = (x: unknown): x is Record<string, unknown> => isObject(x) && x['type'] === 'ByteLevel';
  const pre = json['pre_tokenizer'];
  const post = json['post_processor'];
  const added = json['added_tokens'] ?? [];
  return (
    (m['type'] === undefined || m['type'] === 'BPE') &&
    ['continuing_subword_prefix', 'end_of_word_suffix', 'dropout', 'byte_fallback', 'ignore_merges', 'unk_token'].every((k) => empty(m[k])) &&
    empty(json['normalizer']) &&
    byteLevel(pre) &&
    pre['add_prefix_space'] !== true &&
    pre['use_regex'] !== false &&
    byteLevel(json['decoder']) &&
    (empty(post) || byteLevel(post)) &&
    Array.isArray(added) &&
    added.every((t) => isObject(t) && t['special'] === true && !t['lstrip'] && !t['rstrip'] && !t['single_word'])
  );
}

/** Parses a Hugging Face tokenizer.json text (byte-level BPE only; HfTokenizer reads the others). */
export function parseTokenizerJson(text: string, file = 'tokenizer.json', config?: TokenizerConfig): ByteLevelTokenizer {
  const json = parseJson(text, file);
  if (!isObject(json)) throw new TokenizerFileError(file, `expected a JSON object, found ${describe(json)}`);
  return byteLevelFromJson(json, file, config);
}

/** The byte-level BPE of a parsed tokenizer.json. */
export function byteLevelFromJson(json: Record<string, unknown>, file: string, config?: TokenizerConfig): ByteLevelTokenizer {
  const model = json['model'];
  if (!isObject(model)) throw new TokenizerFileError(file, `"model" is missing or not an object`);
  if (model['type'] !== undefined && model['type'] !== 'BPE') {
    throw new TokenizerFileError(file, `model type is ${describe(model['type'])}; genlab reads byte-level BPE tokenizers only`);
  }
  for (const key of ['continuing_subword_prefix', 'end_of_word_suffix'] as const) {
    const v = model[key];
    if (v !== undefined && v !== null && v !== '') throw new TokenizerFileError(file, `model.${key} is ${describe(v)}; only '' (GPT-2 style) is supported`);
  }
  if (model['dropout'] !== undefined && model['dropout'] !== null && model['dropout'] !== 0) {
    throw new TokenizerFileError(file, `model.dropout is ${describe(model['dropout'])}; BPE dropout is not supported (set it to null)`);
  }
  if (json['normalizer'] !== undefined && json['normalizer'] !== null) {
    throw new TokenizerFileError(file, `normalizer ${describe(json['normalizer'])} is not supported; GPT-2 byte-level BPE has none (null)`);
  }
  checkByteLevel(json['pre_tokenizer'], file, 'pre_tokenizer', false);
  checkByteLevel(json['decoder'], file, 'decoder', true);

  const vocab = readVocab(model['vocab'], file, 'model.vocab');
  const merges = readMerges(model['merges'], file);

  const added = json['added_tokens'] ?? [];
  if (!Array.isArray(added)) throw new TokenizerFileError(file, `added_tokens must be an array, found ${describe(added)}`);
  // Every added token is matched before pre-tokenization, as HF does; genlab treats them all as
  // special tokens.
  const specials: SpecialToken[] = added.map((t: unknown, i) => {
    if (!isObject(t) || typeof t['content'] !== 'string' || typeof t['id'] !== 'number' || !Number.isInteger(t['id']) || t['id'] < 0) {
      throw new TokenizerFileError(file, `added_tokens[${i}] is ${describe(t)}; expected {"id": integer, "content": string, ...}`);
    }
    return { id: t['id'], content: t['content'] };
  });
  return construct(buildParts(vocab, merges, specials, file, file), file, config);
}

function checkByteLevel(x: unknown, file: string, key: string, allowNull: boolean): void {
  if ((x === null || x === undefined) && allowNull) return;
  if (!isObject(x) || x['type'] !== 'ByteLevel') {
    throw new TokenizerFileError(file, `${key} is ${describe(x)}; genlab needs {"type": "ByteLevel"} (GPT-2 byte-level BPE)`);
  }
  if (key === 'pre_tokenizer') {
    if (x['add_prefix_space'] === true) {
      throw new TokenizerFileError(file, `pre_tokenizer.add_prefix_space is true; only false (GPT-2's setting) is supported`);
    }
    if (x['use_regex'] === false) {
      throw new TokenizerFileError(file, `pre_tokenizer.use_regex is false; genlab always splits with GPT-2's regex`);
    }
  }
}
