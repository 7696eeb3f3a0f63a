import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compileDocumentFilters, compileLineFilters, defaultFilterConfig, DOCUMENT_FILTERS, LINE_FILTERS, mergeFilterConfig, type FilterConfig } from './filters.ts';
import { normalizeText, normalizedWords, splitWords } from './normalize.ts';
import { duplicateNgramCharFraction, duplicateStats, ngramContext, topNgramCharFraction } from './repetition.ts';

// Ordinary prose: passes every default filter (checked below), so each failing case differs from
// it in the one property a filter measures.
const PROSE = [
  'The committee met on a cold morning in early spring to review the plans for the new library.',
  'Members of the public were invited to speak, and several of them described how often they used the old building.',
  'A teacher explained that her students walked there after school because it was the only quiet place with books.',
  'The architect answered questions about the budget, the schedule and the choice of materials for the roof.',
  'After a long discussion the members agreed that construction should begin before the end of the year.',
].join('\n');

type DocName = keyof FilterConfig['documents'];

/** A config with every document filter off except `only`. */
function onlyDocument(only: DocName, tweak: (c: FilterConfig) => void = () => {}): (text: string) => ReturnType<ReturnType<typeof compileDocumentFilters>> {
  const c = defaultFilterConfig();
  for (const k of Object.keys(c.documents) as DocName[]) c.documents[k].enabled = k === only;
  tweak(c);
  return compileDocumentFilters(c.documents);
}

test('ordinary prose passes every default document filter and keeps every line', () => {
  const c = defaultFilterConfig();
  assert.equal(compileDocumentFilters(c.documents)(PROSE), null);
  const r = compileLineFilters(c.lines)(PROSE);
  assert.deepEqual(r.removed, []);
  assert.equal(r.text, PROSE);
});

test('every document filter is listed with a source and has a default config entry', () => {
  const c = defaultFilterConfig();
  for (const f of DOCUMENT_FILTERS) {
    assert.ok(f.name in c.documents, f.name);
    assert.ok(f.source.length > 10, `${f.name} names its source`);
  }
  for (const f of LINE_FILTERS) assert.ok(f.name in c.lines, f.name);
  assert.equal(DOCUMENT_FILTERS.length, Object.keys(c.documents).length);
  assert.equal(LINE_FILTERS.length, Object.keys(c.lines).length);
});

// Each case: [filter, a text it must reject, the detail it must mention].
const rejected: [DocName, string, RegExp][] = [
  ['loremIpsum', PROSE + '\nLorem ipsum dolor sit amet.', /lorem ipsum/],
  ['curlyBrace', PROSE + '\nbody { color: red; }', /"\{"/],
  ['wordCount', 'The plan was approved by the board of the town.', /10 words < 50/],
  ['meanWordLength', Array.from({ length: 60 }, (_, i) => ['to', 'be', 'or', 'an', 'of', 'it'][i % 6]).join(' '), /mean word length 2 < 3/],
  ['symbolRatio', PROSE + '\n' + Array.from({ length: 20 }, (_, i) => `#tag${i}`).join(' '), /"#" per word/],
  ['symbolRatio', PROSE.replace(/\./g, '...') + ' ... ... ... ... ... ...', /ellipses per word/],
  ['alphaWords', PROSE + '\n' + Array.from({ length: 40 }, (_, i) => String(1000 + i)).join(' '), /of words contain a letter < 0.8/],
  ['stopWords', Array.from({ length: 60 }, (_, i) => ['apples', 'grow', 'in', 'orchards', 'near', 'rivers'][i % 6]).join(' '), /0 distinct stop words < 2/],
  ['bulletLines', PROSE.split('\n').map((l) => `• ${l}`).join('\n'), /start with a bullet/],
  ['ellipsisLines', PROSE.split('\n').map((l) => l.replace(/\.$/, '...')).join('\n'), /end with an ellipsis/],
  ['lineEndPunctuation', PROSE.split('\n').map((l) => l.replace(/\.$/, '')).join('\n'), /0 of lines end in punctuation < 0.12/],
  ['shortLines', PROSE + '\n' + Array.from({ length: 12 }, (_, i) => `Item number ${i}`).join('\n'), /shorter than 30 characters/],
  ['duplicateLines', PROSE + '\n' + Array.from({ length: 4 }, () => 'Subscribe to the weekly bulletin of the town.').join('\n'), /of lines are repeats > 0.3/],
  ['duplicateParagraphs', [PROSE, 'A short closing note.', 'A short closing note.', 'A short closing note.'].join('\n\n'), /repeated paragraphs|of paragraphs are repeats/],
  ['topNgrams', Array.from({ length: 40 }, (_, i) => `United States ${['river', 'mountain', 'city', 'farm'][i % 4]}${i}`).join(' ') + ' the of and', /top 2-gram covers/],
  ['duplicateNgrams', PROSE + '\n' + PROSE.split('\n').slice(0, 2).join(' '), /repeated 5-grams cover/],
];

for (const [name, text, detail] of rejected) {
  test(`document filter ${name} rejects ${detail.source} and passes prose`, () => {
    const run = onlyDocument(name);
    const v = run(text);
    assert.ok(v !== null, `${name} should reject`);
    assert.equal(v.filter, name);
    assert.match(v.detail, detail);
    assert.equal(run(PROSE), null);
  });
}

test('wordCount rejects documents above max', () => {
  const v = onlyDocument('wordCount', (c) => (c.documents.wordCount.max = 30))(PROSE);
  assert.ok(v);
  assert.match(v.detail, /words > 30/);
});

test('line-ratio filters ignore documents with fewer than minLines lines', () => {
  const oneLine = PROSE.replace(/\n/g, ' ').replace(/\.$/, '');
  assert.equal(onlyDocument('lineEndPunctuation')(oneLine), null);
  assert.ok(onlyDocument('lineEndPunctuation', (c) => (c.documents.lineEndPunctuation.minLines = 1))(oneLine));
});

test('the first failing filter in order names the reason', () => {
  const run = compileDocumentFilters(defaultFilterConfig().documents);
  // Fails both loremIpsum and wordCount: loremIpsum comes first.
  assert.equal(run('Lorem ipsum dolor sit amet.')!.filter, 'loremIpsum');
  assert.equal(run('A short note about the plan.')!.filter, 'wordCount');
});

test('line filters remove boilerplate, javascript warnings, menus and mail headers, and nothing else', () => {
  const c = defaultFilterConfig();
  const text = [
    'From alice@example.com Mon Jun 24 17:49:21 2002',
    'Received: from mail.example.com (mail.example.com [10.0.0.1])',
    ' by mx.example.org with ESMTP id 12345',
    'X-Mailer: Outlook',
    'Subject: meeting notes',
    '',
    'Home | News | Sport | Weather',
    PROSE,
    'Please enable JavaScript to see the comments.',
    'This site uses cookies. See our Privacy Policy.',
    'Copyright 2021 Example Ltd. All rights reserved.',
  ].join('\n');
  const r = compileLineFilters(c.lines)(text);
  const by = (f: string) => r.removed.filter((x) => x.filter === f).map((x) => x.line);
  assert.deepEqual(by('mailHeaders'), text.split('\n').slice(0, 5));
  assert.deepEqual(by('navigation'), ['Home | News | Sport | Weather']);
  assert.deepEqual(by('javascript'), ['Please enable JavaScript to see the comments.']);
  assert.deepEqual(by('boilerplate'), ['This site uses cookies. See our Privacy Policy.', 'Copyright 2021 Example Ltd. All rights reserved.']);
  assert.equal(r.text, PROSE);
});

test('a long paragraph that mentions a policy is prose, not boilerplate', () => {
  const c = defaultFilterConfig();
  const para = 'The new privacy policy of the ministry, which was debated for many months in both houses, requires every agency to publish how it stores the records of citizens and who may read them.';
  assert.deepEqual(compileLineFilters(c.lines)(para).removed, []);
});

test('optional C4 line filters: terminal punctuation and minimum words', () => {
  const c = defaultFilterConfig();
  c.lines.terminalPunctuation.enabled = true;
  c.lines.minWords.enabled = true;
  const r = compileLineFilters(c.lines)('A heading without a stop\nShort one.\nThis line has enough words and ends well.');
  assert.deepEqual(r.removed, [
    { filter: 'terminalPunctuation', line: 'A heading without a stop' },
    { filter: 'minWords', line: 'Short one.' },
  ]);
  assert.equal(r.text, 'This line has enough words and ends well.');
});

test('repetition statistics match hand-computed values', () => {
  assert.deepEqual(duplicateStats(['ab', 'c', 'ab']), { fraction: 1 / 3, charFraction: 2 / 5 });
  const ctx = ngramContext(['a', 'b', 'c', 'a', 'b', 'c']);
  // 3-grams abc, bca, cab, abc: the repeat at position 3 covers the last three words.
  assert.equal(duplicateNgramCharFraction(ctx, 3), 0.5);
  assert.equal(duplicateNgramCharFraction(ngramContext(['a', 'b', 'c', 'a', 'b', 'c']), 4), 0);
  // 2-grams ab ×2, bc ×2, ca ×1: "a b" reaches 2 first; 2 chars × 2 occurrences / 6 chars.
  assert.equal(topNgramCharFraction(ngramContext(['a', 'b', 'c', 'a', 'b', 'c']), 2), 4 / 6);
  // Overlapping repeats count each word once: "x x x x" has 2-gram "x x" at 0, 1, 2.
  assert.equal(duplicateNgramCharFraction(ngramContext(['x', 'x', 'x', 'x']), 2), 3 / 4);
  assert.equal(topNgramCharFraction(ngramContext(['p', 'q', 'r', 's']), 2), 0);
});

test('normalisation: NFC, controls, spaces, blank lines; idempotent', () => {
  const raw = 'Cafe\u0301  au\u00a0lait\u200b \t ok \u0007\r\n\r\n\r\n\r\nnext\u2028line   ';
  const n = normalizeText(raw);
  assert.equal(n, 'Caf\u00e9 au lait ok\n\nnext\nline');
  assert.equal(normalizeText(n), n);
  assert.equal(normalizeText('  indented\n   continuation'), 'indented\n continuation');
  assert.deepEqual(splitWords('  a  b\nc '), ['a', 'b', 'c']);
  assert.deepEqual(normalizedWords("It's the U.S.A.!"), ['it', 's', 'the', 'u', 's', 'a']);
});

test('config overrides merge deeply and reject typos and wrong types', () => {
  const c = mergeFilterConfig({ documents: { wordCount: { min: 10 }, duplicateNgrams: { max: { '11': 0.05 } } }, lines: { boilerplate: { phrases: ['buy now'] } } });
  assert.equal(c.documents.wordCount.min, 10);
  assert.equal(c.documents.wordCount.max, 100_000);
  assert.equal(c.documents.duplicateNgrams.max['11'], 0.05);
  assert.equal(c.documents.duplicateNgrams.max['5'], 0.15);
  assert.deepEqual(c.lines.boilerplate.phrases, ['buy now']);
  assert.throws(() => mergeFilterConfig({ documents: { wordcount: { min: 1 } } }), /filters\.documents\.wordcount is not a setting; valid keys at filters\.documents: loremIpsum/);
  assert.throws(() => mergeFilterConfig({ documents: { wordCount: { min: '10' } } }), /filters\.documents\.wordCount\.min must be a number/);
  assert.throws(() => mergeFilterConfig({ lines: { boilerplate: { phrases: [1] } } }), /must be an array of strings/);
  assert.throws(() => compileDocumentFilters(mergeFilterConfig({ documents: { topNgrams: { max: { two: 0.1 } } } }).documents), /n-gram length "two"/);
});
