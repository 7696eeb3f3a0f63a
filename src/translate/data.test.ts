// The data side of translation on tiny fixtures: the Ding parser (fixtures/ding-sample.txt, in
// Ding's format), the SWORD zText reader (a two-module library written by this test with
// node:zlib: block index, entry index, compressed blocks), sentence-pair files, the hash split
// and the extraction command end to end. When the real Debian packages are installed, their data
// is checked too (skipped otherwise: CI does not need them).

import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { deflateSync } from 'node:zlib';
import { cleanDingSentence, dingHeader, parseDing, parseDingPhrases } from './ding.ts';
import { DING_FILE, extractTranslationPairs } from './extract.ts';
import { parsePairsTsv, splitByHash } from './pairs.ts';
import { alignVerses, osisToText, parseSwordConf, parseZText, readModuleVerses } from './sword.ts';

const FIXTURES = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures');

describe('Ding parser', () => {
  const text = readFileSync(path.join(FIXTURES, 'ding-sample.txt'), 'utf8');

  it('keeps the sentence sub-entries, cleaned, and says why the others were dropped', () => {
    const { pairs, stats } = parseDing(text);
    assert.deepEqual(pairs, [
      { de: 'Das Haus ist groß.', en: 'The house is big.' },
      { de: 'Wir wohnen in einem alten Haus.', en: 'We live in an old house.' },
      { de: 'Der Hund bellt laut.', en: 'The dog barks loudly.' },
      { de: 'Siehst du den Vogel dort?', en: 'Can you see the bird over there?' },
      { de: 'Ich trinke Kaffee am Morgen.', en: 'I drink coffee in the morning.' },
      { de: 'Möchtest du Tee oder Kaffee?', en: 'Would you like tea or coffee?' },
      { de: 'Der Zug hat Verspätung.', en: 'The train is delayed.' },
      { de: 'Es regnet schon wieder.', en: "It's raining again." },
      { de: 'Wer hat das gesagt?', en: 'Who said that?' },
    ]);
    assert.equal(stats.entries, 11);
    assert.equal(stats.malformed, 1);
    assert.equal(stats.sentenceCandidates, 12);
    assert.deepEqual(stats.dropped, {
      'placeholder (etw./jdn./sth./sb.): a pattern, not a sentence': 1,
      'slash alternatives or unbalanced parentheses': 1,
      duplicate: 1,
    });
  });

  it('reads the header with the licence', () => {
    assert.ok(dingHeader(text).includes('License :: GPL Version 2 or later; GNU General Public License'));
  });

  it('reads the word and phrase pairs, placeholders and annotations removed', () => {
    const phrases = parseDingPhrases(text);
    for (const want of [{ de: 'Haus', en: 'house' }, { de: 'Häuser', en: 'houses' }, { de: 'sehen', en: 'to see' }, { de: 'Hund', en: 'dog' }, { de: 'kaputt', en: 'broken' }, { de: 'Das ist kaputt', en: 'That is broken' }]) {
      assert.ok(phrases.some((p) => p.de === want.de && p.en === want.en), `missing ${JSON.stringify(want)} in ${JSON.stringify(phrases)}`);
    }
    assert.ok(!phrases.some((p) => p.en.endsWith('.')), 'sentences are not phrases');
    assert.equal(phrases.filter((p) => p.de === 'Haus').length, 1, 'duplicates removed');
  });

  it('cleans one side', () => {
    assert.deepEqual(cleanDingSentence('Er kam (gerade noch) rechtzeitig [ugs.] .'), { text: 'Er kam rechtzeitig.' });
    assert.ok('drop' in cleanDingSentence('Sie gab jdm. das Buch.'));
    assert.ok('drop' in cleanDingSentence('ein Haus'));
  });
});

/** Writes one testament of a zText module: entries grouped into compressed blocks of `perBlock`. */
async function writeZText(dir: string, testament: 'ot' | 'nt', entries: string[], perBlock: number): Promise<void> {
  const bzs: number[] = [];
  const bzv: Buffer[] = [];
  const blocks: Buffer[] = [];
  let offset = 0;
  for (let start = 0; start < entries.length; start += perBlock) {
    const texts = entries.slice(start, start + perBlock).map((e) => Buffer.from(e, 'utf8'));
    let inBlock = 0;
    for (const t of texts) {
      const rec = Buffer.alloc(10);
      rec.writeUInt32LE(blocks.length, 0);
      rec.writeUInt32LE(inBlock, 4);
      rec.writeUInt16LE(t.length, 8);
      bzv.push(rec);
      inBlock += t.length;
    }
    const raw = Buffer.concat(texts);
    const z = deflateSync(raw);
    bzs.push(offset, z.length, raw.length);
    offset += z.length;
    blocks.push(z);
  }
  const index = Buffer.alloc(bzs.length * 4);
  bzs.forEach((v, i) => index.writeUInt32LE(v, i * 4));
  await writeFile(path.join(dir, `${testament}.bzs`), index);
  await writeFile(path.join(dir, `${testament}.bzv`), Buffer.concat(bzv));
  await writeFile(path.join(dir, `${testament}.bzz`), Buffer.concat(blocks));
}

const conf = (name: string, dataPath: string, versification = 'KJV'): string =>
  `[${name}]\nDataPath=./${dataPath}/\nModDrv=zText\nSourceType=OSIS\nEncoding=UTF-8\nCompressType=ZIP\nBlockType=BOOK\nVersification=${versification}\nLang=en\nAbout=A test module \\\n continued on a second line\n`;

/** OSIS entries of a two-book, three-chapter testament in the order SWORD stores them. */
function testament(verses: Record<string, string[]>): string[] {
  const out = ['', '<milestone type="x-importer"/>'];
  let book = '';
  for (const [ref, texts] of Object.entries(verses)) {
    const [b, c] = ref.split('.');
    if (b !== book) {
      book = b!;
      out.push(`<div osisID="${b}" sID="x${out.length}" type="book"/><title type="main">The Book of ${b}</title>`);
    }
    out.push(`<chapter n="${c}" osisID="${b}.${c}" sID="${b}.${c}"/> `);
    out.push(...texts);
  }
  return out;
}

describe('SWORD zText reader', () => {
  let root: string;
  before(async () => {
    root = await mkdtemp(path.join(os.tmpdir(), 'genlab-sword-'));
    await mkdir(path.join(root, 'mods.d'));
    await mkdir(path.join(root, 'modules/en'), { recursive: true });
    await mkdir(path.join(root, 'modules/es'), { recursive: true });
    // Named like Debian's modules, so the extraction command finds them.
    await writeFile(path.join(root, 'mods.d', 'engKJV2006eb.conf'), conf('engKJV2006eb', 'modules/en'));
    await writeFile(path.join(root, 'mods.d', 'spaRV1909eb.conf'), conf('spaRV1909eb', 'modules/es'));
    await writeZText(path.join(root, 'modules/en'), 'ot', testament({
      'Gen.1': ['In the <w lemma="strong:H7225">beginning</w> God created the heaven and the earth.', 'And the earth was <transChange type="added">without</transChange> form.<note placement="foot">a note</note>'],
      'Gen.2': ['Thus the heavens &amp; the earth were finished.'],
      'Ps.3': ['<title canonical="true" type="psalm">A Psalm of David.</title> LORD, how are they increased!<chapter eID="Ps.3"/>'],
    }), 2);
    await writeZText(path.join(root, 'modules/es'), 'ot', testament({
      'Gen.1': ['EN el principio crió Dios los cielos y la tierra.', ''],
      'Gen.2': ['Y fueron acabados los cielos y la tierra.'],
      'Ps.3': ['Salmo de David. ¡OH Jehová, cuánto se han multiplicado!'],
    }), 3);
  });
  after(() => rm(root, { recursive: true, force: true }));

  it('reads verses with their references and plain text', () => {
    const { verses } = readModuleVerses('engKJV2006eb', root);
    assert.deepEqual(verses.map((v) => [v.ref, v.text]), [
      ['Gen.1.1', 'In the beginning God created the heaven and the earth.'],
      ['Gen.1.2', 'And the earth was without form.'],
      ['Gen.2.1', 'Thus the heavens & the earth were finished.'],
      ['Ps.3.1', 'A Psalm of David. LORD, how are they increased!'],
    ]);
  });

  it('aligns two modules by entry index and skips empty verses', () => {
    const pairs = alignVerses(readModuleVerses('engKJV2006eb', root), readModuleVerses('spaRV1909eb', root));
    assert.deepEqual(pairs.map((p) => p.ref), ['Gen.1.1', 'Gen.2.1', 'Ps.3.1']);
    assert.equal(pairs[0]!.b, 'En el principio crió Dios los cielos y la tierra.', 'a chapter’s capitalised first word is normalised');
    assert.equal(pairs[2]!.b, 'Salmo de David. ¡OH Jehová, cuánto se han multiplicado!', 'capitals mid-verse stay');
  });

  it('parses .conf files, with continuation lines', () => {
    const c = parseSwordConf(conf('X', 'modules/x'), 'x.conf');
    assert.equal(c.name, 'X');
    assert.equal(c.values['About'], 'A test module \n continued on a second line');
    assert.throws(() => parseSwordConf('DataPath=./x/\n', 'bad.conf'), /bad.conf: no \[ModuleName\] section/);
  });

  it('names the problem with damaged or unsupported modules', () => {
    assert.throws(() => parseZText(new Uint8Array(11), new Uint8Array(10), new Uint8Array(0), 'ot'), /not a multiple of 12; the module is damaged/);
    const bzs = new Uint8Array(12);
    new DataView(bzs.buffer).setUint32(4, 100, true);
    const bzv = new Uint8Array(10);
    new DataView(bzv.buffer).setUint16(8, 5, true);
    assert.throws(() => parseZText(bzs, bzv, new Uint8Array(10), 'ot'), /block 0 \(0\+100\) runs past the end of the data file/);
    assert.throws(() => readModuleVerses('NoSuch', root), /'NoSuch' is not installed in .*installed: engKJV2006eb, spaRV1909eb/);
    const other = { conf: { ...parseSwordConf(conf('Y', 'y', 'Vulg')), file: 'y.conf' }, verses: [] };
    assert.throws(() => alignVerses(readModuleVerses('engKJV2006eb', root), other), /use different versifications/);
  });

  it('strips OSIS markup', () => {
    assert.equal(osisToText('<w lemma="x">Jesus</w> wept.<note n="a">Greek: <hi>dakryo</hi></note> ¶ Then &quot;go&quot;&#33;'), 'Jesus wept. Then "go"!');
  });

  it('extracts, splits and writes the en-es pairs with their attribution', async () => {
    const out = path.join(root, 'out');
    const r = await extractTranslationPairs({ pair: 'en-es', out, swordRoot: root, testFraction: 0, validFraction: 0, log: () => {} });
    assert.deepEqual(r.counts, { train: 3, valid: 0, test: 0 });
    const pairs = parsePairsTsv(await readFile(r.files.train, 'utf8'));
    assert.deepEqual(pairs[1], { source: 'Thus the heavens & the earth were finished.', target: 'Y fueron acabados los cielos y la tierra.' });
    assert.match(await readFile(r.files.source, 'utf8'), /Public Domain/);
  });
});

describe('pairs files and the split', () => {
  it('parses TSV and names the bad line', () => {
    assert.deepEqual(parsePairsTsv('a b\tc d\n\nx\ty\r\n'), [{ source: 'a b', target: 'c d' }, { source: 'x', target: 'y' }]);
    assert.throws(() => parsePairsTsv('ok\tfine\nno tab here\n', 'p.tsv'), /p\.tsv:2: expected "source<TAB>target", found 0 tab\(s\)/);
    assert.throws(() => parsePairsTsv('a\tb\tc\n', 'p.tsv'), /found 2 tab\(s\)/);
    assert.throws(() => parsePairsTsv('\tb\n', 'p.tsv'), /p\.tsv:1: the source is empty/);
  });

  it('splits by a hash of the key: deterministic, duplicates on one side, sizes near the fractions', () => {
    const items = Array.from({ length: 4000 }, (_, i) => `sentence number ${i % 3000}`);
    const a = splitByHash(items, (s) => s, { testFraction: 0.1, validFraction: 0.05 });
    const b = splitByHash(items, (s) => s, { testFraction: 0.1, validFraction: 0.05 });
    assert.deepEqual(a, b);
    const test = new Set(a.test);
    for (const s of a.train) assert.ok(!test.has(s), `${s} is in train and test`);
    assert.ok(Math.abs(a.test.length / items.length - 0.1) < 0.025, `test share ${a.test.length / items.length}`);
    assert.ok(Math.abs(a.valid.length / items.length - 0.05) < 0.02, `valid share ${a.valid.length / items.length}`);
    assert.throws(() => splitByHash(items, (s) => s, { testFraction: 0.6, validFraction: 0.5 }), /sum below 1/);
  });
});

describe('translation-pairs extraction from a Ding file', () => {
  it('writes train/valid/test, SOURCE.md with the GPL attribution, and stats', async () => {
    const out = await mkdtemp(path.join(os.tmpdir(), 'genlab-pairs-'));
    try {
      const r = await extractTranslationPairs({ pair: 'en-de', out, dingFile: path.join(FIXTURES, 'ding-sample.txt'), testFraction: 0.3, validFraction: 0.2, log: () => {} });
      const all = [...parsePairsTsv(await readFile(r.files.train, 'utf8')), ...parsePairsTsv(await readFile(r.files.valid, 'utf8')), ...parsePairsTsv(await readFile(r.files.test, 'utf8'))];
      assert.equal(all.length, 9);
      assert.ok(all.some((p) => p.source === 'The dog barks loudly.' && p.target === 'Der Hund bellt laut.'), 'en-de puts English first');
      const source = await readFile(r.files.source, 'utf8');
      assert.match(source, /GPL-2\+/);
      assert.match(source, /Frank Richter/);
      assert.match(source, /License :: GPL Version 2 or later/);
      const reversed = await extractTranslationPairs({ pair: 'de-en', out: path.join(out, 'de-en'), dingFile: path.join(FIXTURES, 'ding-sample.txt'), testFraction: 0.3, validFraction: 0.2, log: () => {} });
      assert.deepEqual(reversed.counts, r.counts, 'both directions hold out the same sentences (the split hashes the English side)');
      const withPhrases = await extractTranslationPairs({ pair: 'en-de', out: path.join(out, 'phrases'), dingFile: path.join(FIXTURES, 'ding-sample.txt'), testFraction: 0.3, validFraction: 0.2, phrases: 3, log: () => {} });
      assert.equal(withPhrases.counts.train, r.counts.train + 3, 'phrases are added to training only');
      assert.deepEqual([withPhrases.counts.valid, withPhrases.counts.test], [r.counts.valid, r.counts.test]);
    } finally {
      await rm(out, { recursive: true, force: true });
    }
  });
});

describe('the real Debian data', () => {
  it('trans-de-en: about 17k sentence pairs', { skip: existsSync(DING_FILE) ? false : `${DING_FILE} is not installed (apt-get install trans-de-en)` }, () => {
    const { pairs, stats } = parseDing(readFileSync(DING_FILE, 'utf8'));
    assert.ok(pairs.length > 15000 && pairs.length < 25000, `${pairs.length} pairs`);
    assert.equal(stats.malformed, 0);
  });

  it('sword-text-kjv + sword-text-sparv: 31,102 verses each, aligned', { skip: existsSync('/usr/share/sword/mods.d/engKJV2006eb.conf') && existsSync('/usr/share/sword/mods.d/spaRV1909eb.conf') ? false : 'the SWORD Bibles are not installed (apt-get install sword-text-kjv sword-text-sparv)' }, () => {
    const en = readModuleVerses('engKJV2006eb');
    const es = readModuleVerses('spaRV1909eb');
    assert.equal(en.verses.length, 31102, 'the KJV versification has 31,102 verses');
    assert.equal(es.verses.length, 31102);
    assert.equal(en.verses[0]!.ref, 'Gen.1.1');
    assert.equal(en.verses[0]!.text, 'In the beginning God created the heaven and the earth.');
    assert.equal(es.verses[0]!.text, 'En el principio crió Dios los cielos y la tierra.');
    const last = en.verses[en.verses.length - 1]!;
    assert.equal(last.ref, 'Rev.22.21');
    assert.match(last.text, /^The grace of our Lord Jesus Christ be with you all\. Amen\.$/);
    const john = en.verses.find((v) => v.ref === 'John.11.35')!;
    assert.equal(john.text, 'Jesus wept.');
    assert.ok(alignVerses(en, es).length > 31000);
  });
});
