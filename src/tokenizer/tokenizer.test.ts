import assert from 'node:assert/strict';
import { test } from 'node:test';
import { toWellFormed } from './byte-level.ts';
import { pretokenize } from './pretokenize.ts';
import { gpt2Tokenizer, randomText, rng, sotuTexts, VARIED_TEXT } from './testing/fixtures.ts';
import { referenceEncoder } from './testing/reference.ts';
import { TokenBuffer } from './token-buffer.ts';
import { ByteLevelTokenizer } from './tokenizer.ts';
import { trainBpe } from './train.ts';

const small = await trainBpe(sotuTexts(3), { vocabSize: 600 });

for (const [name, tok] of [
  ['GPT-2', gpt2Tokenizer()],
  ['trained 600', small],
] as const) {
  test(`${name}: decode(encode(s)) === s on random Unicode (seeded)`, () => {
    const rand = rng(1234);
    for (let i = 0; i < 2000; i++) {
      const s = randomText(rand, 30, { specials: true });
      assert.equal(tok.decode(tok.encode(s)), s, `round trip of ${JSON.stringify(s)}`);
    }
  });

  test(`${name}: lone surrogates decode as U+FFFD, the rest is unchanged`, () => {
    const rand = rng(99);
    for (let i = 0; i < 500; i++) {
      const s = randomText(rand, 30, { loneSurrogates: true });
      assert.equal(tok.decode(tok.encode(s)), toWellFormed(s));
    }
  });

  test(`${name}: encode equals the string-based reference BPE`, () => {
    const ref = referenceEncoder(tok);
    const rand = rng(42);
    assert.deepEqual(tok.encode(VARIED_TEXT), ref(VARIED_TEXT));
    for (let i = 0; i < 500; i++) {
      const s = randomText(rand, 40, { specials: true, jsWhitespaceQuirks: true });
      assert.deepEqual(tok.encode(s), ref(s), `ids of ${JSON.stringify(s)}`);
    }
    // long words go through the heap merge path
    const long = '自然语言处理是人工智能的一个分支'.repeat(20) + ' ' + 'abcab'.repeat(200) + ' ' + ' '.repeat(300) + 'x';
    assert.deepEqual(tok.encode(long), ref(long));
  });
}

test('encodeInto and encodeToUint32 give the same ids as encode', () => {
  const tok = gpt2Tokenizer();
  const ids = tok.encode(VARIED_TEXT);
  const buf = new TokenBuffer(4);
  buf.push(7);
  assert.equal(tok.encodeInto(VARIED_TEXT, buf), ids.length);
  assert.deepEqual([...buf.view()], [7, ...ids]);
  assert.deepEqual([...tok.encodeToUint32(VARIED_TEXT)], ids);
});

test('special tokens are matched before pre-tokenization; allowSpecial: false encodes them as text', () => {
  const tok = gpt2Tokenizer();
  const eot = tok.eotId!;
  assert.equal(eot, 50256);
  const ids = tok.encode('end<|endoftext|>Start');
  assert.deepEqual(ids, [...tok.encode('end'), eot, ...tok.encode('Start')]);
  const plain = tok.encode('end<|endoftext|>Start', { allowSpecial: false });
  assert.ok(!plain.includes(eot));
  assert.equal(tok.decode(plain), 'end<|endoftext|>Start');
  assert.deepEqual(plain, pretokenize('end<|endoftext|>Start').flatMap((w) => tok.encode(w)));
  assert.equal(tok.decode([eot]), '<|endoftext|>');
  assert.equal(tok.tokenText(eot), '<|endoftext|>');
  assert.ok(tok.isSpecial(eot) && !tok.isSpecial(0));
});

test('longest special token wins when one is a prefix of another', () => {
  const base = gpt2Tokenizer().toParts();
  const tok = new ByteLevelTokenizer({
    ...base,
    specialTokens: [
      { id: 50256, content: '<|endoftext|>' },
      { id: 50257, content: '<|end' },
    ],
  });
  assert.deepEqual(tok.encode('a<|endoftext|>b<|end'), [...tok.encode('a'), 50256, ...tok.encode('b'), 50257]);
  assert.equal(tok.vocabSize, 50258);
});

test('tokenText, tokenPieces and the stream decoder handle tokens that split a character', () => {
  const tok = small; // few merges: emoji and CJK split over several byte tokens
  const text = 'Hi 👩🏽‍💻 你好 café';
  const ids = tok.encode(text);
  const pieces = tok.tokenPieces(ids);
  assert.equal(pieces.length, ids.length);
  assert.equal(pieces.join(''), text);
  assert.ok(pieces.includes(''), 'some token only holds the first bytes of a character');
  const emojiFirst = ids[pieces.indexOf('') ]!;
  assert.match(tok.tokenText(emojiFirst), /^(<0x[0-9A-F]{2}>)+$/);
  // text of complete tokens is plain
  assert.equal(tok.tokenText(tok.encode('Hi')[0]!), 'H');
  const dec = tok.streamDecoder();
  let streamed = '';
  for (const id of ids) streamed += dec.push(id);
  assert.equal(streamed + dec.flush(), text);
  // an unfinished character at the end decodes to U+FFFD
  const cut = tok.encode('😀').slice(0, 1);
  assert.equal(tok.decode(cut), '\ufffd');
  assert.deepEqual(tok.tokenPieces(cut), ['\ufffd']);
});

test('idToToken / tokenToId / tokenBytes use the vocabulary strings', () => {
  const tok = gpt2Tokenizer();
  const the = tok.tokenToId('Ġthe')!;
  assert.equal(tok.idToToken(the), 'Ġthe');
  assert.deepEqual([...tok.tokenBytes(the)], [...new TextEncoder().encode(' the')]);
  assert.equal(tok.tokenToId('<|endoftext|>'), 50256);
  assert.equal(tok.tokenToId('no such token'), undefined);
  assert.deepEqual(tok.encode(' the'), [the]);
});

test('decoding an unknown id names the id and the valid range', () => {
  const tok = gpt2Tokenizer();
  assert.throws(() => tok.decode([1, 50257]), /token id 50257 is out of range: this vocabulary has ids 0\.\.50256/);
  assert.throws(() => tok.decode([-1]), /token id -1 is out of range/);
  assert.throws(() => tok.tokenText(1.5), /token id 1\.5/);
});

test('constructor rejects inconsistent parts with a clear message', () => {
  const base = gpt2Tokenizer().toParts();
  const noNewline = base.vocab.map((b) => (b && b.length === 1 && b[0] === 10 ? null : b));
  assert.throws(() => new ByteLevelTokenizer({ ...base, vocab: noNewline }), /no token for byte 0x0a \("Ċ"\)/);
  assert.throws(() => new ByteLevelTokenizer({ ...base, specialTokens: [{ id: 5, content: 'X' }] }), /special token "X" has id 5, which ordinary token "&" already uses/);
  assert.throws(() => new ByteLevelTokenizer({ ...base, merges: [[0, 99999]] }), /merge 0 uses id 99999/);
  const the = gpt2Tokenizer().tokenToId('Ġthe')!;
  assert.throws(() => new ByteLevelTokenizer({ ...base, merges: [[the, the]] }), /merge 0 \(\d+ \+ \d+\) makes "ĠtheĠthe", which is not in the vocabulary/);
});

test('pretokenize follows the GPT-2 pattern', () => {
  assert.deepEqual(pretokenize("Hello world, it's  me!\n\n  x  "), ['Hello', ' world', ',', ' it', "'s", ' ', ' me', '!', '\n\n ', ' x', '  ']);
  assert.deepEqual(pretokenize('abc123 45'), ['abc', '123', ' 45']);
  // U+0085 is whitespace (Unicode White_Space), U+FEFF is not
  assert.deepEqual(pretokenize('a \u0085b'), ['a', ' ', '\u0085', 'b']);
  assert.deepEqual(pretokenize('x \ufeffy'), ['x', ' \ufeff', 'y']);
});

test('a tokenizer without special tokens has eotId null and encodes <|endoftext|> as text', () => {
  const base = gpt2Tokenizer().toParts();
  const tok = new ByteLevelTokenizer({ ...base, vocab: base.vocab.slice(0, 50256), specialTokens: [] });
  assert.equal(tok.eotId, null);
  assert.equal(tok.vocabSize, 50256);
  const s = 'a<|endoftext|>b';
  assert.deepEqual(tok.encode(s), gpt2Tokenizer().encode(s, { allowSpecial: false }));
  assert.equal(tok.decode(tok.encode(s)), s);
});
