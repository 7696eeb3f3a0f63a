// A Hugging Face tokenizer.json ⇄ the tokenizer.ggml.* fields llama.cpp reads. Two kinds exist
// for the BPE tokenizers genlab runs:
// - "gpt2": byte-level BPE (GPT-2, Llama 3, Qwen, SmolLM): tokens in the byte-level alphabet, the
//   merges in rank order, and `tokenizer.ggml.pre` naming llama.cpp's pre-tokenizer, which must
//   split text as the tokenizer.json's pre_tokenizer does (llama.cpp refuses names it does not know).
// - "llama": SentencePiece-style BPE (Llama 2, Mistral; '▁' for a space, <0xNN> byte tokens):
//   llama.cpp merges the adjacent pair whose joined token has the highest score, so each token's
//   score is minus the rank of the first merge that makes it, which merges in HF's order.
// Token types follow llama.cpp's enum: 1 normal, 2 unknown, 3 control (special added tokens),
// 4 user-defined (other added tokens), 5 unused (padding up to the embedding's row count), 6 byte.

import { BYTE_TO_CHAR } from '../tokenizer/byte-level.ts';
import type { Tokenizer } from '../tokenizer/tokenizer.ts';
import { gguf, type GgufValue } from '../io/gguf.ts';

export const TOKEN_TYPE = { normal: 1, unknown: 2, control: 3, userDefined: 4, unused: 5, byte: 6 } as const;

/** Pre-tokenizer regexes as tokenizer.json writes them, with llama.cpp's name for each. */
const LLAMA3_REGEX = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
const QWEN2_REGEX = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

/** The byte-level pre-tokenizers llama.cpp and genlab agree on: name → tokenizer.json pre_tokenizer (and normalizer). */
export const BYTE_LEVEL_PRE: Record<string, { preTokenizer: unknown; normalizer: unknown; ignoreMerges: boolean }> = {
  // GPT-2's own regex inside ByteLevel.
  'gpt-2': { preTokenizer: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true }, normalizer: null, ignoreMerges: false },
  // Each digit alone, then GPT-2's regex (SmolLM's tokenizers).
  smollm: {
    preTokenizer: { type: 'Sequence', pretokenizers: [{ type: 'Digits', individual_digits: true }, { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true }] },
    normalizer: null,
    ignoreMerges: false,
  },
  'llama-bpe': {
    preTokenizer: { type: 'Sequence', pretokenizers: [{ type: 'Split', pattern: { Regex: LLAMA3_REGEX }, behavior: 'Isolated', invert: false }, { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: false }] },
    normalizer: null,
    ignoreMerges: true,
  },
  qwen2: {
    preTokenizer: { type: 'Sequence', pretokenizers: [{ type: 'Split', pattern: { Regex: QWEN2_REGEX }, behavior: 'Isolated', invert: false }, { type: 'ByteLevel', add_prefix_space: false, trim_offsets: false, use_regex: false }] },
    normalizer: { type: 'NFC' },
    ignoreMerges: false,
  },
};
/** Other names llama.cpp gives the same pre-tokenizers. */
const PRE_ALIASES: Record<string, string> = { llama3: 'llama-bpe', 'llama-v3': 'llama-bpe', 'deepseek-r1-qwen': 'qwen2' };

type Json = Record<string, unknown>;
const isObj = (x: unknown): x is Json => typeof x === 'object' && x !== null && !Array.isArray(x);

/** Pre-tokenizer steps of a tokenizer.json, Sequences flattened. */
function preSteps(pre: unknown): Json[] {
  if (!isObj(pre)) return [];
  if (pre['type'] === 'Sequence' && Array.isArray(pre['pretokenizers'])) return (pre['pretokenizers'] as unknown[]).flatMap(preSteps);
  return [pre];
}

/** llama.cpp's name for a byte-level tokenizer.json's pre-tokenizer, or an error saying why there is none. */
export function llamaCppPreName(json: Json): string {
  const steps = preSteps(json['pre_tokenizer']);
  const last = steps[steps.length - 1];
  const byteLevel = last?.['type'] === 'ByteLevel';
  const prefix = byteLevel && (last['add_prefix_space'] ?? true) === true;
  const regexOf = (s: Json | undefined): unknown => (isObj(s?.['pattern']) ? (s['pattern'] as Json)['Regex'] : undefined);
  const useRegex = (last?.['use_regex'] ?? true) === true;
  const normalizer = json['normalizer'];
  const nfcOrNone = normalizer === null || normalizer === undefined || (isObj(normalizer) && normalizer['type'] === 'NFC');
  if (byteLevel && !prefix && nfcOrNone) {
    if (steps.length === 1 && useRegex) return 'gpt-2';
    if (steps.length === 2 && useRegex && steps[0]!['type'] === 'Digits' && steps[0]!['individual_digits'] === true) return 'smollm';
    if (steps.length === 2 && !useRegex && steps[0]!['type'] === 'Split' && steps[0]!['behavior'] === 'Isolated' && steps[0]!['invert'] !== true) {
      if (regexOf(steps[0]) === LLAMA3_REGEX) return 'llama-bpe';
      if (regexOf(steps[0]) === QWEN2_REGEX) return 'qwen2';
    }
  }
  throw new Error(
    `tokenizer.json's pre_tokenizer ${JSON.stringify(json['pre_tokenizer']).slice(0, 200)} (normalizer ${JSON.stringify(normalizer ?? null)}) matches none of the byte-level pre-tokenizers genlab maps to llama.cpp names (${Object.keys(BYTE_LEVEL_PRE).join(', ')}); llama.cpp would split text differently, so the model cannot be exported with this tokenizer`,
  );
}

export interface VocabOptions {
  /** Rows of the token embedding: the token list is padded to this many with unused [PADn] tokens. */
  vocabSize: number;
  /** BOS/EOS ids to use when tokenizer_config.json names none (config.json's). */
  bosTokenId?: number | null;
  eosTokenId?: number | null;
}

export interface GgufVocab {
  kind: 'gpt2' | 'llama';
  metadata: [string, GgufValue][];
  /** Token strings as written (for the Modelfile's stop tokens). */
  tokens: string[];
  bosId: number | null;
  eosId: number | null;
  /** What llama.cpp will do differently with this vocabulary. */
  notes: string[];
}

/** The tokenizer.ggml.* (and tokenizer.chat_template) metadata of a tokenizer. */
export function vocabToGguf(json: Json, tok: Tokenizer, opts: VocabOptions): GgufVocab {
  const model = json['model'];
  if (!isObj(model) || (model['type'] !== undefined && model['type'] !== 'BPE')) {
    throw new Error(`tokenizer.json has a ${isObj(model) ? JSON.stringify(model['type']) : 'missing'} model; genlab exports BPE tokenizers only`);
  }
  const vocab = model['vocab'] as Record<string, number>;
  const added = (Array.isArray(json['added_tokens']) ? json['added_tokens'] : []) as { id: number; content: string; special?: boolean }[];
  const merges = ((model['merges'] ?? []) as (string | [string, string])[]).map((m) => (typeof m === 'string' ? m : `${m[0]} ${m[1]}`));
  const byteLevel = preSteps(json['pre_tokenizer']).some((s) => s['type'] === 'ByteLevel');
  const kind = byteLevel ? 'gpt2' : 'llama';
  const n = opts.vocabSize;
  const tokens: (string | undefined)[] = new Array(n);
  const types = new Array<number>(n).fill(TOKEN_TYPE.normal);
  for (const [t, id] of Object.entries(vocab)) {
    if (id >= n) throw new Error(`tokenizer.json token ${JSON.stringify(t)} has id ${id}, beyond the model's vocab_size ${n}; the tokenizer does not belong to this model`);
    tokens[id] = t;
  }
  const unk = typeof model['unk_token'] === 'string' ? vocab[model['unk_token']] : undefined;
  if (unk !== undefined) types[unk] = TOKEN_TYPE.unknown;
  if (kind === 'llama' && model['byte_fallback'] === true) {
    for (const [t, id] of Object.entries(vocab)) if (/^<0x[0-9A-F]{2}>$/.test(t)) types[id] = TOKEN_TYPE.byte;
  }
  for (const a of added) {
    if (a.id >= n) throw new Error(`tokenizer.json added token ${JSON.stringify(a.content)} has id ${a.id}, beyond the model's vocab_size ${n}`);
    tokens[a.id] = a.content;
    types[a.id] = a.id === unk ? TOKEN_TYPE.unknown : a.special ? TOKEN_TYPE.control : TOKEN_TYPE.userDefined;
  }
  const isAdded = new Set(added.map((a) => a.id));
  for (let id = 0; id < n; id++) {
    if (tokens[id] === undefined) {
      tokens[id] = `[PAD${id}]`;
      types[id] = TOKEN_TYPE.unused;
    } else if (kind === 'llama' && !isAdded.has(id)) {
      // llama.cpp's SentencePiece tokenizer writes spaces as '▁' before looking pieces up.
      tokens[id] = tokens[id]!.replaceAll(' ', '\u2581');
    }
  }
  const list = tokens as string[];
  const notes: string[] = [];
  // llama.cpp spells every byte it cannot find a token for as a byte token and stops (an uncaught
  // exception) when there is none; HF and genlab give <unk> instead.
  const present = new Set(list);
  const bytes = [...Array(256).keys()].map((b) => (kind === 'gpt2' ? BYTE_TO_CHAR[b]! : `<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`));
  const missing = bytes.filter((b) => !present.has(b)).length;
  if (missing > 0) {
    notes.push(`the vocabulary has no token for ${missing} of the 256 byte values (${kind === 'gpt2' ? 'byte-level symbols' : '<0xNN> byte-fallback tokens'}); llama.cpp aborts on text with a character outside the vocabulary, where genlab gives the unknown token`);
  }
  const seen = new Map<string, number>();
  list.forEach((t, id) => {
    const prev = seen.get(t);
    if (prev !== undefined) throw new Error(`tokens ${prev} and ${id} are both ${JSON.stringify(t)} in llama.cpp's spelling; llama.cpp needs distinct token strings`);
    seen.set(t, id);
  });

  const metadata: [string, GgufValue][] = [['tokenizer.ggml.model', gguf.str(kind)]];
  if (kind === 'gpt2') {
    metadata.push(['tokenizer.ggml.pre', gguf.str(llamaCppPreName(json))]);
    metadata.push(['tokenizer.ggml.tokens', gguf.strings(list)], ['tokenizer.ggml.token_type', gguf.i32s(types)], ['tokenizer.ggml.merges', gguf.strings(merges)]);
  } else {
    const scores = new Array<number>(n).fill(0);
    const rankOf = new Map<string, number>();
    merges.forEach((m, r) => {
      const sp = m.indexOf(' ', 1);
      const joined = (m.slice(0, sp) + m.slice(sp + 1)).replaceAll(' ', '\u2581');
      if (!rankOf.has(joined)) rankOf.set(joined, r);
    });
    list.forEach((t, id) => {
      if (types[id] !== TOKEN_TYPE.normal || [...t].length < 2) return;
      // A piece no merge makes is never preferred over one that a merge makes.
      scores[id] = -((rankOf.get(t) ?? merges.length) + 1);
    });
    metadata.push(['tokenizer.ggml.tokens', gguf.strings(list)], ['tokenizer.ggml.scores', gguf.f32s(scores)], ['tokenizer.ggml.token_type', gguf.i32s(types)]);
    metadata.push(['tokenizer.ggml.add_space_prefix', gguf.bool(addsSpacePrefix(json))]);
  }
  const idOf = (token: string | null): number | null => (token === null ? null : (tok.tokenToId(token) ?? null));
  const bosId = idOf(tok.config.bosToken) ?? opts.bosTokenId ?? null;
  const eosId = idOf(tok.config.eosToken) ?? tok.eotId ?? opts.eosTokenId ?? null;
  if (bosId !== null) metadata.push(['tokenizer.ggml.bos_token_id', gguf.u32(bosId)]);
  if (eosId !== null) metadata.push(['tokenizer.ggml.eos_token_id', gguf.u32(eosId)]);
  if (unk !== undefined) metadata.push(['tokenizer.ggml.unknown_token_id', gguf.u32(unk)]);
  // What add_special_tokens puts around a text, as llama.cpp's flags (it otherwise guesses per kind).
  const wrapped = tok.encode('', { addSpecialTokens: true });
  const addBos = bosId !== null && wrapped[0] === bosId;
  const addEos = eosId !== null && wrapped.length > (addBos ? 1 : 0) && wrapped[wrapped.length - 1] === eosId;
  metadata.push(['tokenizer.ggml.add_bos_token', gguf.bool(addBos)], ['tokenizer.ggml.add_eos_token', gguf.bool(addEos)]);
  if (tok.config.chatTemplate !== null) metadata.push(['tokenizer.chat_template', gguf.str(tok.config.chatTemplate)]);
  return { kind, metadata, tokens: list, bosId, eosId, notes };
}

/** Whether a SentencePiece-style tokenizer.json puts '▁' before the text (Llama 2's Prepend, Metaspace's prepend_scheme). */
function addsSpacePrefix(json: Json): boolean {
  const norm = json['normalizer'];
  const norms = isObj(norm) ? (norm['type'] === 'Sequence' && Array.isArray(norm['normalizers']) ? (norm['normalizers'] as unknown[]) : [norm]) : [];
  if (norms.some((x) => isObj(x) && x['type'] === 'Prepend' && x['prepend'] === '\u2581')) return true;
  return preSteps(json['pre_tokenizer']).some((s) => s['type'] === 'Metaspace' && (s['prepend_scheme'] === 'always' || s['prepend_scheme'] === 'first' || (s['prepend_scheme'] === undefined && s['add_prefix_space'] !== false)));
}

// ---------------------------------------------------------------------------------------------
// GGUF → tokenizer.json

export interface ImportedVocab {
  tokenizerJson: Json;
  tokenizerConfig: Json;
  bosId: number | null;
  eosId: number | null;
}

/**
 * A tokenizer.json and tokenizer_config.json equivalent to a GGUF file's tokenizer.ggml.* fields.
 * `get` returns a metadata value's JS form (arrays as arrays).
 */
export function vocabFromGguf(get: (key: string) => unknown, file: string): ImportedVocab {
  const kind = get('tokenizer.ggml.model');
  const tokens = get('tokenizer.ggml.tokens');
  if (!Array.isArray(tokens)) throw new Error(`${file} has no tokenizer.ggml.tokens; genlab needs the tokenizer inside the GGUF file`);
  const types = (get('tokenizer.ggml.token_type') as number[] | undefined) ?? tokens.map(() => TOKEN_TYPE.normal);
  // Unused padding at the end stays out of the tokenizer; the embedding keeps its rows.
  let count = tokens.length;
  while (count > 0 && types[count - 1] === TOKEN_TYPE.unused) count--;
  const vocab: Record<string, number> = {};
  const added: Json[] = [];
  const num = (key: string): number | null => {
    const v = get(key);
    return typeof v === 'number' && v >= 0 && v < count ? v : null;
  };
  const bosId = num('tokenizer.ggml.bos_token_id');
  const eosId = num('tokenizer.ggml.eos_token_id');
  const unkId = num('tokenizer.ggml.unknown_token_id') ?? (types.indexOf(TOKEN_TYPE.unknown) >= 0 && types.indexOf(TOKEN_TYPE.unknown) < count ? types.indexOf(TOKEN_TYPE.unknown) : null);
  for (let id = 0; id < count; id++) {
    const t = tokens[id] as string;
    const type = types[id];
    if (type === TOKEN_TYPE.control || type === TOKEN_TYPE.userDefined || id === unkId) {
      added.push({ id, content: t, single_word: false, lstrip: false, rstrip: false, normalized: type === TOKEN_TYPE.userDefined, special: type !== TOKEN_TYPE.userDefined });
    }
    // SentencePiece files keep specials in the model vocabulary too, as Llama 2's tokenizer.json does.
    if (kind === 'llama' || (type !== TOKEN_TYPE.control && type !== TOKEN_TYPE.userDefined)) vocab[t] = id;
  }
  let json: Json;
  if (kind === 'gpt2') {
    const rawPre = get('tokenizer.ggml.pre');
    const pre = typeof rawPre === 'string' ? (PRE_ALIASES[rawPre] ?? rawPre) : 'default';
    const spec = BYTE_LEVEL_PRE[pre];
    if (!spec) throw new Error(`${file} uses llama.cpp's "${pre}" pre-tokenizer; genlab imports byte-level tokenizers with ${Object.keys(BYTE_LEVEL_PRE).join(', ')} pre-tokenizers (the regexes genlab can reproduce)`);
    const merges = get('tokenizer.ggml.merges');
    if (!Array.isArray(merges)) throw new Error(`${file} has a gpt2 tokenizer without tokenizer.ggml.merges`);
    json = {
      version: '1.0',
      truncation: null,
      padding: null,
      added_tokens: added,
      normalizer: spec.normalizer,
      pre_tokenizer: spec.preTokenizer,
      post_processor: null,
      decoder: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
      model: { type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: null, end_of_word_suffix: null, fuse_unk: false, byte_fallback: false, ignore_merges: spec.ignoreMerges, vocab, merges },
    };
  } else if (kind === 'llama') {
    const scores = (get('tokenizer.ggml.scores') as number[] | undefined) ?? tokens.map(() => 0);
    const prefix = get('tokenizer.ggml.add_space_prefix') !== false;
    const replace = { type: 'Replace', pattern: { String: ' ' }, content: '\u2581' };
    const byteFallback = types.slice(0, count).includes(TOKEN_TYPE.byte);
    json = {
      version: '1.0',
      truncation: null,
      padding: null,
      added_tokens: added,
      normalizer: prefix ? { type: 'Sequence', normalizers: [{ type: 'Prepend', prepend: '\u2581' }, replace] } : replace,
      pre_tokenizer: null,
      post_processor: null,
      decoder: {
        type: 'Sequence',
        decoders: [{ type: 'Replace', pattern: { String: '\u2581' }, content: ' ' }, { type: 'ByteFallback' }, { type: 'Fuse' }, ...(prefix ? [{ type: 'Strip', content: ' ', start: 1, stop: 0 }] : [])],
      },
      model: {
        type: 'BPE',
        dropout: null,
        unk_token: unkId === null ? null : tokens[unkId],
        continuing_subword_prefix: null,
        end_of_word_suffix: null,
        fuse_unk: true,
        byte_fallback: byteFallback,
        vocab,
        merges: mergesFromScores(tokens.slice(0, count) as string[], types, scores),
      },
    };
  } else {
    throw new Error(`${file} has a ${JSON.stringify(kind)} tokenizer; genlab imports the BPE kinds "gpt2" and "llama"`);
  }
  const name = (id: number | null): string | null => (id === null ? null : (tokens[id] as string));
  const template = get('tokenizer.chat_template');
  const tokenizerConfig: Json = {
    bos_token: name(bosId),
    eos_token: name(eosId),
    unk_token: name(unkId),
    add_bos_token: get('tokenizer.ggml.add_bos_token') === true,
    add_eos_token: get('tokenizer.ggml.add_eos_token') === true,
    clean_up_tokenization_spaces: false,
    ...(typeof template === 'string' ? { chat_template: template } : {}),
  };
  return { tokenizerJson: json, tokenizerConfig, bosId, eosId };
}

/**
 * BPE merges equivalent to SentencePiece scores: every split of a normal piece into two normal
 * pieces, ordered by the joined piece's score (highest first), as transformers converts
 * SentencePiece models.
 */
function mergesFromScores(tokens: string[], types: number[], scores: number[]): [string, string][] {
  const normal = new Map<string, number>();
  tokens.forEach((t, id) => {
    if (types[id] === TOKEN_TYPE.normal) normal.set(t, id);
  });
  const found: { left: string; right: string; score: number; id: number; cut: number }[] = [];
  for (const [t, id] of normal) {
    const chars = [...t];
    for (let cut = 1; cut < chars.length; cut++) {
      const left = chars.slice(0, cut).join('');
      const right = chars.slice(cut).join('');
      if (normal.has(left) && normal.has(right)) found.push({ left, right, score: scores[id] ?? 0, id, cut });
    }
  }
  found.sort((a, b) => b.score - a.score || a.id - b.id || a.cut - b.cut);
  return found.map((m) => [m.left, m.right]);
}
