import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BYTE_TO_CHAR, GPT2_BYTE_ORDER, bytesToTokenString, renderBytes, toWellFormed, tokenStringToBytes, utf8Encode } from './byte-level.ts';
import { gpt2Tokenizer, randomText, rng } from './testing/fixtures.ts';

test('byte-level alphabet: 256 distinct printable characters, GPT-2 conventions', () => {
  assert.equal(new Set(BYTE_TO_CHAR).size, 256);
  for (const c of BYTE_TO_CHAR) assert.match(c, /^[^\s\p{Cc}]$/u, `byte char ${JSON.stringify(c)} should be printable`);
  assert.equal(BYTE_TO_CHAR[0x20], 'Ġ');
  assert.equal(BYTE_TO_CHAR[0x0a], 'Ċ');
  assert.equal(BYTE_TO_CHAR[0x41], 'A');
  assert.deepEqual([...GPT2_BYTE_ORDER].sort((a, b) => a - b), Array.from({ length: 256 }, (_, i) => i));
  // GPT-2's encoder.json gives ids 0..255 to the byte tokens in bytes_to_unicode order.
  const tok = gpt2Tokenizer();
  GPT2_BYTE_ORDER.forEach((b, id) => assert.equal(tok.idToToken(id), BYTE_TO_CHAR[b]));
  const all = Uint8Array.from({ length: 256 }, (_, i) => i);
  assert.deepEqual(tokenStringToBytes(bytesToTokenString(all)), all);
  assert.equal(tokenStringToBytes('a b'), null, 'a raw space is not in the alphabet');
});

test('utf8Encode matches TextEncoder, lone surrogates become U+FFFD', () => {
  const rand = rng(7);
  const te = new TextEncoder();
  const buf = new Uint8Array(4096);
  for (let i = 0; i < 500; i++) {
    const s = randomText(rand, 40, { loneSurrogates: true });
    const n = utf8Encode(s, buf);
    assert.deepEqual(buf.slice(0, n), te.encode(s));
    assert.equal(toWellFormed(s), new TextDecoder('utf-8', { ignoreBOM: true }).decode(te.encode(s)));
  }
  assert.equal(toWellFormed('a\ud800b\udc00c\ud83d\ude00'), 'a\ufffdb\ufffdc😀');
});

test('renderBytes shows partial UTF-8 sequences as <0xNN>', () => {
  const smile = new TextEncoder().encode('😀'); // F0 9F 98 80
  assert.equal(renderBytes(smile), '😀');
  assert.equal(renderBytes(smile.subarray(0, 2)), '<0xF0><0x9F>');
  assert.equal(renderBytes(Uint8Array.of(0x98, 0x80, 0x41)), '<0x98><0x80>A');
  assert.equal(renderBytes(new TextEncoder().encode(' é')), ' é');
  assert.equal(renderBytes(Uint8Array.of(0xc3)), '<0xC3>');
  assert.equal(renderBytes(Uint8Array.of(0xef, 0xbb, 0xbf)), '\ufeff');
  assert.equal(renderBytes(Uint8Array.of(0xed, 0xa0, 0x80)), '<0xED><0xA0><0x80>', 'encoded surrogates are invalid UTF-8');
});
