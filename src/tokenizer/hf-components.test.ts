// Each tokenizer.json component genlab reads, in small hand-built files, against Hugging Face's
// Rust tokenizers: ids with and without special tokens, and decoding, on hard text.

import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { tokenizerJsonString } from './formats.ts';
import { parseHfTokenizer } from './hf-tokenizer.ts';
import { rng, sotuTexts } from './testing/fixtures.ts';
import { HARD_TEXTS, REAL_TOKENIZERS, referenceFromJson } from './testing/hf-reference.ts';
import { trainBpe } from './train.ts';

type Json = Record<string, any>;

const TEXTS = [...HARD_TEXTS, HARD_TEXTS.join('\n'), '  x  ', 'A', ' ', '\n'];
const byteLevel = (over: Json = {}): Json => ({ type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true, ...over });

/** A small byte-level BPE (trained by genlab) as tokenizer.json, to vary one component at a time. */
const BYTE_BASE: Json = JSON.parse(tokenizerJsonString(await trainBpe(sotuTexts(2), { vocabSize: 600 })));
/** The Llama 2-format (Mistral) SentencePiece-style BPE with byte fallback. */
const SP_BASE: Json = JSON.parse(await readFile(join(REAL_TOKENIZERS.llama2, 'tokenizer.json'), 'utf8'));
const SP_DECODER = {
  type: 'Sequence',
  decoders: [{ type: 'Replace', pattern: { String: '▁' }, content: ' ' }, { type: 'ByteFallback' }, { type: 'Fuse' }, { type: 'Strip', content: ' ', start: 1, stop: 0 }],
};

function variant(base: Json, over: Json, model: Json = {}): Json {
  return { ...base, ...over, model: { ...base['model'], ...model } };
}

/** Asserts genlab and HF agree on `json` for every text, with and without special tokens, and on decoding. */
async function assertSameAsHf(json: Json, label: string, texts: readonly string[] = TEXTS): Promise<void> {
  const text = JSON.stringify(json);
  const tok = parseHfTokenizer(text, 'tiny.json');
  const ref = referenceFromJson(text);
  for (const s of texts) {
    for (const add of [false, true]) assert.deepEqual(tok.encode(s, { addSpecialTokens: add }), await ref.encode(s, add), `${label}: ${JSON.stringify(s)} add ${add}`);
    const ids = tok.encode(s, { addSpecialTokens: true });
    assert.equal(tok.decode(ids), await ref.decode(ids), `${label}: decode of ${JSON.stringify(s)}`);
  }
  const rand = rng(5);
  for (let i = 0; i < 100; i++) {
    const ids = Array.from({ length: 1 + Math.floor(rand() * 4) }, () => Math.floor(rand() * tok.vocabSize));
    assert.equal(tok.decode(ids), await ref.decode(ids), `${label}: decode of ids ${ids}`);
  }
}

test('normalizers: NFC, NFD, NFKC, NFKD, Lowercase, Prepend, Replace, Strip, Sequence', async () => {
  for (const normalizer of [
    { type: 'NFC' },
    { type: 'NFD' },
    { type: 'NFKC' },
    { type: 'NFKD' },
    { type: 'Lowercase' },
    { type: 'Prepend', prepend: '>>' },
    { type: 'Replace', pattern: { String: ' ' }, content: '_' },
    { type: 'Replace', pattern: { Regex: '\\s+' }, content: ' ' },
    { type: 'Strip', strip_left: true, strip_right: true },
    { type: 'Sequence', normalizers: [{ type: 'NFKC' }, { type: 'Lowercase' }, { type: 'Replace', pattern: { Regex: '(?i:e)+' }, content: '$1' }] },
  ]) {
    await assertSameAsHf(variant(BYTE_BASE, { normalizer }), JSON.stringify(normalizer));
  }
});

test('pre-tokenizers: ByteLevel options, Digits, Whitespace, WhitespaceSplit', async () => {
  for (const pre_tokenizer of [
    byteLevel({ add_prefix_space: true }),
    { type: 'Sequence', pretokenizers: [{ type: 'Digits', individual_digits: true }, byteLevel()] },
    { type: 'Sequence', pretokenizers: [{ type: 'Digits', individual_digits: false }, byteLevel({ use_regex: false })] },
    { type: 'Sequence', pretokenizers: [{ type: 'Whitespace' }, byteLevel({ use_regex: false })] },
    { type: 'Sequence', pretokenizers: [{ type: 'WhitespaceSplit' }, byteLevel({ add_prefix_space: true, use_regex: false })] },
  ]) {
    await assertSameAsHf(variant(BYTE_BASE, { pre_tokenizer }), JSON.stringify(pre_tokenizer));
  }
});

test('Split: every behavior, inverted or not, regex and string patterns', async () => {
  const llama3 = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
  for (const behavior of ['Removed', 'Isolated', 'MergedWithPrevious', 'MergedWithNext', 'Contiguous']) {
    for (const invert of [false, true]) {
      for (const pattern of [{ Regex: '\\s+' }, { Regex: '\\p{N}' }, { String: ' ' }]) {
        const pre_tokenizer = { type: 'Sequence', pretokenizers: [{ type: 'Split', pattern, behavior, invert }, byteLevel({ use_regex: false })] };
        await assertSameAsHf(variant(BYTE_BASE, { pre_tokenizer }), JSON.stringify(pre_tokenizer), HARD_TEXTS.slice(0, 12));
      }
    }
  }
  // Llama 3's pattern, with ignore_merges as Llama 3 has it, and merges written as pairs.
  const pre_tokenizer = { type: 'Sequence', pretokenizers: [{ type: 'Split', pattern: { Regex: llama3 }, behavior: 'Isolated', invert: false }, byteLevel({ use_regex: false })] };
  const pairs = BYTE_BASE['model']['merges'].map((m: string) => m.split(' '));
  await assertSameAsHf(variant(BYTE_BASE, { pre_tokenizer }, { ignore_merges: true, merges: pairs }), 'Llama 3 split');
});

test('Metaspace: prepend schemes first, always, never (and the older add_prefix_space), split or not', async () => {
  const sp = (pre: Json, decoder: Json): Json => variant(SP_BASE, { normalizer: null, pre_tokenizer: pre, decoder });
  for (const prepend_scheme of ['first', 'always', 'never']) {
    for (const split of [false, true]) {
      const pre = { type: 'Metaspace', replacement: '▁', prepend_scheme, split };
      await assertSameAsHf(sp(pre, { type: 'Metaspace', replacement: '▁', prepend_scheme, split }), `Metaspace ${prepend_scheme} split ${split}`);
    }
  }
  await assertSameAsHf(sp({ type: 'Metaspace', replacement: '▁', add_prefix_space: true }, SP_DECODER), 'Metaspace add_prefix_space');
});

test('BPE model: byte fallback off, unk_token with and without fuse_unk, no unk (characters dropped)', async () => {
  for (const model of [
    { byte_fallback: false, fuse_unk: true },
    { byte_fallback: false, fuse_unk: false },
    { byte_fallback: false, unk_token: null },
  ]) {
    await assertSameAsHf(variant(SP_BASE, {}, model), JSON.stringify(model));
  }
});

test('BPE model: continuing_subword_prefix and end_of_word_suffix', async () => {
  const letters = [...'abcdefghijklmnopqrstuvwxyz'];
  const vocab: Record<string, number> = { '[UNK]': 0 };
  const add = (t: string): void => void (vocab[t] ??= Object.keys(vocab).length);
  for (const c of letters) [c, `##${c}`, `${c}</w>`, `##${c}</w>`].forEach(add);
  const merges = ['h ##e', 'he ##l', '##l ##l', '##l ##o</w>', 'he ##ll', 'w ##o', 'wo ##r'];
  for (const t of ['he', 'hel', '##ll', '##lo</w>', 'hell', 'wo', 'wor']) add(t);
  const json = {
    version: '1.0',
    added_tokens: [{ id: 0, content: '[UNK]', single_word: false, lstrip: false, rstrip: false, normalized: false, special: true }],
    normalizer: { type: 'Lowercase' },
    pre_tokenizer: { type: 'WhitespaceSplit' },
    post_processor: null,
    decoder: null,
    model: { type: 'BPE', unk_token: '[UNK]', continuing_subword_prefix: '##', end_of_word_suffix: '</w>', vocab, merges },
  };
  await assertSameAsHf(json, 'prefix/suffix', ['hello world', 'Hello  HELL hel wor', 'héllo 42 ab', '']);
});

test('added tokens: special and not, lstrip, rstrip, single_word, normalized', async () => {
  // HF numbers added tokens on from the model's vocabulary, so the ids must follow on.
  const next = Object.keys(BYTE_BASE['model']['vocab']).length;
  const tok = (i: number, content: string, o: Json): Json => ({ id: next + i, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true, ...o });
  const added_tokens = [
    ...BYTE_BASE['added_tokens'],
    tok(0, '<mask>', { lstrip: true, rstrip: true }),
    tok(1, '<sep>', { single_word: true, special: false }),
    tok(2, 'the united', { normalized: true, special: false }),
    tok(3, '<|end', {}),
    tok(4, '[X]', { rstrip: true, special: false }),
  ];
  const texts = ['a <mask> b  <mask>\tc<mask>', 'x<sep> <sep> y<sep>z <sep>', 'The United States, THE UNITED kingdom', 'end<|endoftext|> <|end <|endof', ' [X]  y[X]', ...HARD_TEXTS];
  await assertSameAsHf(variant(BYTE_BASE, { added_tokens, normalizer: { type: 'Lowercase' } }), 'added tokens', texts);
});

test('post-processors: TemplateProcessing, RobertaProcessing, BertProcessing, Sequence', async () => {
  const sp = (post_processor: Json): Json => variant(SP_BASE, { post_processor });
  const special = (id: string, ids: number[]): Json => ({ id, ids, tokens: [id] });
  await assertSameAsHf(
    sp({
      type: 'TemplateProcessing',
      single: [{ SpecialToken: { id: '<s>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: '</s>', type_id: 0 } }],
      pair: [{ Sequence: { id: 'A', type_id: 0 } }, { Sequence: { id: 'B', type_id: 1 } }],
      special_tokens: { '<s>': special('<s>', [1]), '</s>': special('</s>', [2]) },
    }),
    'template BOS + EOS',
  );
  await assertSameAsHf(sp({ type: 'RobertaProcessing', sep: ['</s>', 2], cls: ['<s>', 1], trim_offsets: true, add_prefix_space: true }), 'Roberta');
  await assertSameAsHf(sp({ type: 'BertProcessing', sep: ['</s>', 2], cls: ['<s>', 1] }), 'Bert');
  await assertSameAsHf(sp({ type: 'Sequence', processors: [byteLevel(), { type: 'BertProcessing', sep: ['</s>', 2], cls: ['<s>', 1] }] }), 'Sequence');
});

test('decoders: none (tokens joined by spaces), Metaspace, Replace + ByteFallback + Fuse + Strip in other orders', async () => {
  await assertSameAsHf(variant(BYTE_BASE, { decoder: null }), 'no decoder');
  for (const decoder of [
    { type: 'Sequence', decoders: [{ type: 'ByteFallback' }, { type: 'Metaspace', replacement: '▁', add_prefix_space: true }] },
    { type: 'Sequence', decoders: [{ type: 'ByteFallback' }, { type: 'Metaspace', replacement: '▁', prepend_scheme: 'never', split: true }] },
    { type: 'Sequence', decoders: [{ type: 'Replace', pattern: { String: '▁' }, content: ' ' }, { type: 'ByteFallback' }, { type: 'Strip', content: ' ', start: 2, stop: 0 }] },
    { type: 'Sequence', decoders: [{ type: 'ByteFallback' }, { type: 'Fuse' }, { type: 'Replace', pattern: { Regex: '▁+' }, content: ' ' }] },
  ]) {
    await assertSameAsHf(variant(SP_BASE, { decoder }), JSON.stringify(decoder));
  }
});

test('unsupported components and regexes are refused with the file, the place and the type', () => {
  const refuse = (json: Json, message: RegExp): void => assert.throws(() => parseHfTokenizer(JSON.stringify(json), 'm/tokenizer.json'), message);
  refuse(variant(BYTE_BASE, {}, { type: 'Unigram' }), /^TokenizerFileError: m\/tokenizer\.json: model\.type is "Unigram"; genlab reads BPE models only/);
  refuse(variant(BYTE_BASE, { normalizer: { type: 'Sequence', normalizers: [{ type: 'NFC' }, { type: 'Precompiled' }] } }), /m\/tokenizer\.json: normalizer\.normalizers\[1\] has type "Precompiled", which genlab does not support \(supported: NFC,/);
  refuse(variant(BYTE_BASE, { pre_tokenizer: { type: 'Punctuation' } }), /pre_tokenizer has type "Punctuation", which genlab does not support/);
  refuse(variant(BYTE_BASE, { decoder: { type: 'WordPiece', prefix: '##' } }), /decoder has type "WordPiece"/);
  refuse(variant(BYTE_BASE, { post_processor: { type: 'Weird' } }), /post_processor has type "Weird"/);
  refuse(
    variant(BYTE_BASE, { pre_tokenizer: { type: 'Sequence', pretokenizers: [{ type: 'Split', pattern: { Regex: '\\w+' }, behavior: 'Isolated', invert: false }, byteLevel()] } }),
    /pre_tokenizer\.pretokenizers\[0\]\.pattern has an unsupported regex "\\\\w\+": \\w \(Oniguruma's word class/,
  );
  refuse(variant(BYTE_BASE, { pre_tokenizer: { type: 'Sequence', pretokenizers: [byteLevel(), { type: 'Digits' }] } }), /pre_tokenizer\.pretokenizers\[0\] is a ByteLevel pre-tokenizer before other steps/);
  refuse(variant(BYTE_BASE, {}, { dropout: 0.1 }), /model\.dropout is 0\.1; BPE dropout is not supported/);
  refuse(variant(BYTE_BASE, {}, { merges: ['Ġ t', 'zz qq'] }), /model\.merges\[1\] uses "zz", which is not in the vocabulary/);
  refuse(variant(BYTE_BASE, { added_tokens: [{ id: 'x', content: '<a>' }] }), /added_tokens\[0\] is \{"id":"x","content":"<a>"\}/);
});
