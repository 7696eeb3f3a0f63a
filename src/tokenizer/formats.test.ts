import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { Tokenizer as HfTokenizer } from '@anush008/tokenizers';
import { loadTokenizer, saveTokenizer } from './files.ts';
import { parseTokenizerJson, parseVocabMerges, tokenizerJsonString } from './formats.ts';
import { GPT2_MERGES_FILE, GPT2_VOCAB_FILE, gpt2Tokenizer, randomText, rng, sotuTexts, VARIED_TEXT } from './testing/fixtures.ts';
import { ByteLevelTokenizer, type Tokenizer } from './tokenizer.ts';
import { trainBpe } from './train.ts';

const root = await mkdtemp(join(tmpdir(), 'genlab-tokfmt-'));
after(() => rm(root, { recursive: true, force: true }));
let dirCount = 0;
const freshDir = async (): Promise<string> => {
  const d = join(root, `d${dirCount++}`);
  await mkdir(d);
  return d;
};

const trained = await trainBpe(sotuTexts(4), { vocabSize: 800, specialTokens: ['<|endoftext|>', '<|pad|>'] });

function assertSameTokenizer(a: Tokenizer, b: ByteLevelTokenizer): void {
  assert.ok(a instanceof ByteLevelTokenizer, 'GPT-2-style files load as the fast byte-level tokenizer');
  assert.equal(a.vocabSize, b.vocabSize);
  assert.deepEqual(a.merges, b.merges);
  assert.deepEqual([...a.specialTokens], [...b.specialTokens]);
  assert.equal(a.eotId, b.eotId);
  for (let id = 0; id < a.vocabSize; id++) assert.equal(a.idToToken(id), b.idToToken(id));
  assert.deepEqual(a.encode(VARIED_TEXT), b.encode(VARIED_TEXT));
}

for (const [name, tok] of [
  ['GPT-2', gpt2Tokenizer()],
  ['trained', trained],
] as const) {
  test(`${name}: save → load is lossless in both formats, files written atomically`, async () => {
    const dir = await freshDir();
    const written = await saveTokenizer(dir, tok);
    assert.equal(written.length, 4);
    assert.deepEqual((await readdir(dir)).sort(), ['merges.txt', 'tokenizer.json', 'tokenizer_config.json', 'vocab.json'], 'no temp files left');
    assertSameTokenizer(await loadTokenizer(dir), tok);
    assertSameTokenizer(await loadTokenizer(dir, { prefer: 'vocab+merges' }), tok);
    assertSameTokenizer(await loadTokenizer(join(dir, 'tokenizer.json')), tok);
    const mergesTxt = await readFile(join(dir, 'merges.txt'), 'utf8');
    assert.equal(mergesTxt.split('\n')[0], '#version: 0.2');
    const config = JSON.parse(await readFile(join(dir, 'tokenizer_config.json'), 'utf8'));
    assert.equal(config.eos_token, '<|endoftext|>');
  });

  test(`${name}: Hugging Face tokenizers loads our tokenizer.json and gives the same ids`, async () => {
    const dir = await freshDir();
    await saveTokenizer(dir, tok, { formats: ['tokenizer.json'] });
    const hf = HfTokenizer.fromFile(join(dir, 'tokenizer.json'));
    assert.equal(hf.getVocabSize(true), tok.vocabSize);
    assert.equal(hf.tokenToId('<|endoftext|>'), tok.eotId);
    const rand = rng(5);
    // HF takes UTF-8 strings from JavaScript, so lone surrogates are left out here.
    const samples = [VARIED_TEXT, ...Array.from({ length: 300 }, () => randomText(rand, 40, { specials: true, jsWhitespaceQuirks: true }))];
    for (const s of samples) {
      const enc = await hf.encode(s, null, { addSpecialTokens: false });
      const ids = tok.encode(s);
      assert.deepEqual(enc.getIds(), ids, JSON.stringify(s));
      assert.equal(await hf.decode(ids, false), tok.decode(ids));
    }
  });
}

test('GPT-2 files written by genlab equal the originals', async () => {
  const dir = await freshDir();
  await saveTokenizer(dir, gpt2Tokenizer(), { formats: ['vocab+merges'] });
  assert.deepEqual(JSON.parse(await readFile(join(dir, 'vocab.json'), 'utf8')), JSON.parse(await readFile(GPT2_VOCAB_FILE, 'utf8')));
  const lines = (t: string): string[] => t.split('\n').filter((l) => l !== '');
  assert.deepEqual(lines(await readFile(join(dir, 'merges.txt'), 'utf8')), lines(await readFile(GPT2_MERGES_FILE, 'utf8')));
});

test('tokenizer.json with merges as [left, right] pairs (tokenizers >= 0.20) loads the same', () => {
  const json = JSON.parse(tokenizerJsonString(trained));
  json.model.merges = json.model.merges.map((m: string) => m.split(' '));
  assertSameTokenizer(parseTokenizerJson(JSON.stringify(json)), trained);
});

test('corrupt files: errors name the file and the problem', async () => {
  const dir = await freshDir();
  await saveTokenizer(dir, trained);
  const tj = await readFile(join(dir, 'tokenizer.json'), 'utf8');
  const vj = await readFile(join(dir, 'vocab.json'), 'utf8');
  const mt = await readFile(join(dir, 'merges.txt'), 'utf8');

  await writeFile(join(dir, 'tokenizer.json'), tj.slice(0, tj.length / 2));
  await assert.rejects(loadTokenizer(dir), /tokenizer\.json: not valid JSON \(.*\); the file may be truncated/);
  assertSameTokenizer(await loadTokenizer(dir, { prefer: 'vocab+merges' }), trained); // the other format is intact

  const edit = (f: (j: any) => void): string => {
    const j = JSON.parse(tj);
    f(j);
    return JSON.stringify(j);
  };
  assert.throws(() => parseTokenizerJson(edit((j) => (j.model.type = 'WordPiece')), 'x/tokenizer.json'), /^TokenizerFileError: x\/tokenizer\.json: model type is "WordPiece"; genlab reads byte-level BPE tokenizers only/);
  assert.throws(() => parseTokenizerJson(edit((j) => (j.pre_tokenizer = { type: 'Metaspace' }))), /tokenizer\.json: pre_tokenizer is \{"type":"Metaspace"\}; genlab needs \{"type": "ByteLevel"\}/);
  assert.throws(() => parseTokenizerJson(edit((j) => (j.pre_tokenizer.add_prefix_space = true))), /add_prefix_space is true/);
  assert.throws(() => parseTokenizerJson(edit((j) => (j.normalizer = { type: 'NFC' }))), /normalizer \{"type":"NFC"\} is not supported/);
  assert.throws(() => parseTokenizerJson(edit((j) => (j.model.merges[3] = 'a b c'))), /tokenizer\.json: model\.merges\[3\] is "a b c"; expected "left right"/);
  assert.throws(() => parseTokenizerJson(edit((j) => (j.model.vocab['Ġthe'] = 'x'))), /model\.vocab: token "Ġthe" has id "x"; ids must be integers/);
  assert.throws(() => parseTokenizerJson(edit((j) => delete j.model.vocab['Ċ'])), /tokenizer\.json: no token for byte 0x0a \("Ċ"\)/);
  assert.throws(() => parseTokenizerJson(edit((j) => (j.added_tokens = [{ content: 5 }]))), /added_tokens\[0\] is \{"content":5\}/);
  assert.throws(() => parseTokenizerJson(edit((j) => (j.added_tokens[0].id = 2 ** 30))), /tokenizer\.json: token id 1073741824 is too large: ids must be below 16777216/);
  assert.throws(() => parseTokenizerJson(edit((j) => (j.model.vocab['Ġthe'] = 2 ** 30))), /token "Ġthe" has id 1073741824; ids must be integers in 0\.\.16777215/);
  assert.throws(() => parseTokenizerJson(edit((j) => delete j.model)), /"model" is missing/);

  assert.throws(() => parseVocabMerges('{"a": 1,', mt, 'm/vocab.json', 'm/merges.txt'), /^TokenizerFileError: m\/vocab\.json: not valid JSON/);
  assert.throws(() => parseVocabMerges(vj, mt.replace(/\n(.*)\n/, '\n$1 extra\n'), 'vocab.json', 'm/merges.txt'), /m\/merges\.txt: line 2: expected two tokens separated by one space, found ".* extra"/);
  const lines = mt.split('\n');
  lines[4] = 'Ġzzqq Ġxx';
  assert.throws(() => parseVocabMerges(vj, lines.join('\n')), /merges\.txt: line 5: token "Ġzzqq" is not in the vocabulary \(vocab\.json\); the two files do not belong together/);
  const vocab = JSON.parse(vj);
  vocab['Ġdup'] = vocab['Ġthe'];
  assert.throws(() => parseVocabMerges(JSON.stringify(vocab), mt), /vocab\.json: the top-level object: id \d+ is used by both "Ġthe" and "Ġdup"/);
  assert.throws(() => parseVocabMerges('[1, 2]', mt), /vocab\.json: the top-level object must be an object mapping token strings to ids/);
  const noNul = JSON.parse(vj);
  delete noNul['Ā'];
  assert.throws(() => parseVocabMerges(JSON.stringify(noNul), mt), /^TokenizerFileError: vocab\.json \+ merges\.txt: no token for byte 0x00 \("Ā"\); a byte-level vocabulary needs all 256 single-byte tokens/);
  // vocab.json has no special flag: an entry no merge can produce is taken as a special token
  const extra = parseVocabMerges(JSON.stringify({ ...JSON.parse(vj), '<s>': 800 }), mt);
  assert.deepEqual([...extra.specialTokens], [['<|endoftext|>', 798], ['<|pad|>', 799], ['<s>', 800]]);
});

test('loadTokenizer explains what is missing', async () => {
  const dir = await freshDir();
  await assert.rejects(loadTokenizer(join(dir, 'nope')), /tokenizer path .*nope does not exist; pass a folder with tokenizer\.json or vocab\.json \+ merges\.txt/);
  await assert.rejects(loadTokenizer(dir), /no tokenizer in .*: expected tokenizer\.json or vocab\.json \+ merges\.txt/);
  await writeFile(join(dir, 'vocab.json'), '{}');
  await assert.rejects(loadTokenizer(dir), /found vocab\.json but no merges\.txt/);
});

