// Real Hugging Face tokenizer files (Llama 3, a Llama 2-format Mistral vocabulary, Qwen3) through
// loadTokenizer, compared with Hugging Face's own Rust tokenizers on hard text.

import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { loadTokenizer, saveTokenizer } from './files.ts';
import { tokenizerJsonString } from './formats.ts';
import { HfTokenizer } from './hf-tokenizer.ts';
import { randomText, rng } from './testing/fixtures.ts';
import { sharedUnicode, HARD_TEXTS, REAL_TOKENIZERS, referenceFromJson } from './testing/hf-reference.ts';
import type { Tokenizer } from './tokenizer.ts';

const loaded = new Map<string, { tok: HfTokenizer; ref: ReturnType<typeof referenceFromJson> }>();
for (const [name, dir] of Object.entries(REAL_TOKENIZERS)) {
  const tok = await loadTokenizer(dir);
  assert.ok(tok instanceof HfTokenizer, `${name} loads as an HfTokenizer`);
  loaded.set(name, { tok, ref: referenceFromJson(await readFile(join(dir, 'tokenizer.json'), 'utf8')) });
}

/** The hard texts one by one, all joined, and seeded random Unicode with each family's special tokens mixed in. */
function samples(seed: number): string[] {
  const rand = rng(seed);
  const specials = ['<|begin_of_text|>', '<|eot_id|>', '<s>', '</s>', '<|im_start|>', '<tool_call>', '<|endoftext|>', ' <s> '];
  const out = [...HARD_TEXTS, HARD_TEXTS.join('\n')];
  for (let i = 0; i < 300; i++) {
    let s = sharedUnicode(randomText(rand, 30, { specials: true, jsWhitespaceQuirks: true }));
    if (rand() < 0.3) s = s.slice(0, s.length >> 1) + specials[Math.floor(rand() * specials.length)] + s.slice(s.length >> 1);
    out.push(s);
  }
  return out;
}

for (const [name, { tok, ref }] of loaded) {
  test(`${name}: ids equal HF tokenizers' on hard text, with and without special tokens`, async () => {
    for (const s of samples(7)) {
      for (const add of [false, true]) {
        assert.deepEqual(tok.encode(s, { addSpecialTokens: add }), await ref.encode(s, add), `${JSON.stringify(s)} addSpecialTokens ${add}`);
      }
    }
  });

  test(`${name}: decode equals HF's, also for id runs cut inside characters`, async () => {
    for (const s of samples(8)) {
      const ids = tok.encode(s);
      assert.equal(tok.decode(ids), await ref.decode(ids), JSON.stringify(s));
    }
    // Random short id sequences: partial UTF-8, byte-fallback runs, special tokens.
    const rand = rng(9);
    for (let i = 0; i < 400; i++) {
      const ids = Array.from({ length: 1 + Math.floor(rand() * 5) }, () => (rand() < 0.5 ? Math.floor(rand() * 600) : Math.floor(rand() * tok.vocabSize)));
      assert.equal(tok.decode(ids), await ref.decode(ids), `ids ${ids}`);
    }
  });

  test(`${name}: tokenPieces and the stream decoder concatenate to decode(ids)`, () => {
    for (const s of samples(10)) {
      const ids = tok.encode(s, { addSpecialTokens: true });
      assert.equal(tok.tokenPieces(ids).join(''), tok.decode(ids), JSON.stringify(s));
    }
  });

  test(`${name}: allowSpecial false encodes special-token text as ordinary text`, () => {
    const [special, id] = [...tok.specialTokens][1]!;
    assert.deepEqual(tok.encode(`a${special}b`).filter((x) => x === id), [id]);
    const plain = tok.encode(`a${special}b`, { allowSpecial: false });
    assert.ok(!plain.includes(id));
    assert.ok(plain.every((x) => !tok.isSpecial(x)));
  });
}

test('round trips: decode(encode(s)) is s (Qwen: its NFC form) for the byte-level tokenizers', () => {
  for (const s of samples(11)) {
    assert.equal(loaded.get('llama3')!.tok.decode(loaded.get('llama3')!.tok.encode(s)), s.toWellFormed());
    assert.equal(loaded.get('qwen3')!.tok.decode(loaded.get('qwen3')!.tok.encode(s)), s.toWellFormed().normalize('NFC'));
  }
});

test('Llama 3: special ids, EOS from tokenizer_config.json, no BOS from this file', () => {
  const { tok } = loaded.get('llama3')!;
  assert.equal(tok.vocabSize, 128256);
  assert.equal(tok.eotId, 128001); // eos_token <|end_of_text|>
  assert.equal(tok.tokenToId('<|begin_of_text|>'), 128000);
  assert.ok(tok.isSpecial(128000) && !tok.isSpecial(9906));
  // This (early) Llama 3 file's post-processor adds nothing, and its config has no add_bos_token.
  assert.deepEqual(tok.encode('Hello', { addSpecialTokens: true }), [9906]);
  assert.equal(tok.config.bosToken, '<|begin_of_text|>');
  assert.match(tok.config.chatTemplate!, /<\|start_header_id\|>/);
  assert.equal(tok.idToToken(22691), 'ĠHello');
  assert.equal(tok.tokenText(22691), ' Hello');
});

test('Mistral/Llama 2 format: BOS, byte fallback, and single tokens shown sensibly', () => {
  const { tok } = loaded.get('llama2')!;
  assert.equal(tok.vocabSize, 32000);
  assert.equal(tok.eotId, 2);
  assert.deepEqual(tok.encode('Hello', { addSpecialTokens: true }), [1, 22557]);
  assert.equal(tok.decode([1, 22557]), '<s> Hello');
  assert.equal(tok.decode([22557]), 'Hello'); // the decoder strips the space the normalizer added
  // An emoji missing from the vocabulary falls back to its four UTF-8 bytes.
  const ids = tok.encode('🫠');
  const bytes = ids.slice(1).map((id) => tok.idToToken(id));
  assert.deepEqual(bytes, ['<0xF0>', '<0x9F>', '<0xAB>', '<0xA0>']);
  // One byte token alone: HF decodes it to U+FFFD; its display text and bytes keep the byte.
  assert.equal(tok.decode([ids[1]!]), '\uFFFD');
  assert.equal(tok.tokenText(ids[1]!), '<0xF0>');
  assert.deepEqual([...tok.tokenBytes(ids[1]!)], [0xf0]);
  // Mid-text a '▁' token is a space; the pieces put the emoji on the token that completes it.
  assert.equal(tok.tokenText(tok.tokenToId('▁Hello')!), ' Hello');
  assert.deepEqual(tok.tokenPieces(tok.encode('Hi 🫠!')), ['Hi', ' ', '', '', '', '🫠', '!']);
  const stream = tok.streamDecoder();
  assert.deepEqual(
    tok.encode('a 🫠').map((id) => stream.push(id)),
    ['a', ' ', '', '', '', '🫠'],
  );
});

test('Qwen3: NFC, non-special added tokens, EOS <|im_end|>', () => {
  const { tok } = loaded.get('qwen3')!;
  assert.equal(tok.eotId, tok.tokenToId('<|im_end|>'));
  const call = tok.tokenToId('<tool_call>')!;
  assert.ok(!tok.isSpecial(call) && !tok.specialTokens.has('<tool_call>'));
  // Non-special added tokens are matched even when special tokens are not allowed.
  assert.ok(tok.encode('<tool_call>', { allowSpecial: false }).includes(call));
  assert.deepEqual(tok.encode('e\u0301'), tok.encode('é'));
});

test('saveTokenizer writes back the files an HF tokenizer was read from; they load the same', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'genlab-hf-'));
  try {
    const { tok } = loaded.get('qwen3')!;
    const written = await saveTokenizer(dir, tok);
    assert.deepEqual(written.map((p) => p.slice(dir.length + 1)).sort(), ['tokenizer.json', 'tokenizer_config.json']);
    for (const f of ['tokenizer.json', 'tokenizer_config.json']) {
      assert.equal(await readFile(join(dir, f), 'utf8'), await readFile(join(REAL_TOKENIZERS.qwen3, f), 'utf8'));
    }
    assert.equal(tokenizerJsonString(tok), await readFile(join(REAL_TOKENIZERS.qwen3, 'tokenizer.json'), 'utf8'));
    const again: Tokenizer = await loadTokenizer(dir);
    assert.deepEqual(again.encode(HARD_TEXTS.join('\n')), tok.encode(HARD_TEXTS.join('\n')));
    assert.equal(again.config.chatTemplate, tok.config.chatTemplate);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
