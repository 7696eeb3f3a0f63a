// BLEU and chrF against the values sacreBLEU's own test suite publishes (test/test_bleu.py,
// test/test_sentence_bleu.py, test/test_chrf.py of mjpost/sacrebleu: inputs and expected scores
// re-typed here), plus a comparison with sacreBLEU itself on random text when a Python with
// sacrebleu is available (GENLAB_SACREBLEU_PYTHONPATH may point at an installed copy).

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { Rng } from '../backend/rng.ts';
import { bleuFromStats, corpusBleu, corpusChrf, sentenceBleu, sentenceChrf, tokenize13a, type BleuOptions } from './metrics.ts';

const close = (got: number, want: number, tol: number, what: string): void => assert.ok(Math.abs(got - want) < tol, `${what}: got ${got}, sacreBLEU gives ${want}`);

// sacreBLEU's README example: three hypotheses, two reference streams.
const REFS = [
  ['The dog bit the man.', 'It was not unexpected.', 'The man bit him first.'],
  ['The dog had bit the man.', 'No one was surprised.', 'The man had bitten the dog.'],
];
const HYPS = ['The dog bit the man.', "It wasn't surprising.", 'The man had just bitten him.'];

/** sacreBLEU's raw_corpus_bleu: floor smoothing, no tokenisation, effective order. */
const raw = (hyps: string[], refs: string[], floor: number): number => corpusBleu(hyps, [refs], { tokenize: 'none', smoothMethod: 'floor', smoothValue: floor, effectiveOrder: true }).score / 100;

describe('corpus BLEU (sacreBLEU test_bleu.py)', () => {
  it('matches the README example with default settings (13a, exp smoothing), 2 references', () => {
    close(corpusBleu(HYPS, REFS).score, 48.530827, 1e-6, 'default');
    close(corpusBleu(HYPS, REFS, { tokenize: '13a' }).score, 48.530827, 1e-6, "tokenize '13a'");
    close(corpusBleu(HYPS, REFS, { tokenize: 'none' }).score, 49.1919566, 1e-6, "tokenize 'none'");
    close(corpusBleu(HYPS, REFS, { smoothMethod: 'none' }).score, 48.530827, 1e-6, "smooth 'none'");
  });

  it('keeps empty hypotheses (they score 0)', () => {
    assert.equal(corpusBleu(['', '', ''], REFS).score, 0);
  });

  it('raw corpus BLEU cases', () => {
    // sacreBLEU >= 2 returns 0 when nothing matches (its issue #141; older versions gave 0.0038).
    close(raw(['this is a test', 'another test'], ['ref1', 'ref2'], 0.01), 0, 1e-8, 'two unrelated');
    close(raw(['this is a test'], ['this is a test'], 0.01), 1.0, 1e-8, 'identical');
    close(raw(['this is a fest'], ['this is a test'], 0.01), 0.223606797749979, 1e-8, 'one word off');
  });

  it('effective order', () => {
    close(raw(['test'], ['a test'], 0.01), 0.3678794411714425, 1e-8, 'test / a test');
    close(raw(['a test'], ['a test'], 0.01), 1.0, 1e-8, 'a test / a test');
    close(raw(['a little test'], ['a test'], 0.01), 0.03218297948685433, 1e-8, 'a little test / a test');
  });

  it('n-gram statistics', () => {
    const r = corpusBleu(['am I am a character sequence'], [['I am a symbol string sequence a a']], { tokenize: 'none' });
    assert.deepEqual(r.counts, [4, 2, 1, 0]);
    assert.deepEqual(r.totals, [6, 5, 4, 3]);
  });

  it('floor smoothing offset', () => {
    close(raw(['am I am a character sequence'], ['I am a symbol string sequence a a'], 0.1), 0.1555722182, 1e-8, 'floor 0.1');
    assert.equal(raw(['am I am a character sequence'], ['I am a symbol string sequence a a'], 0), 0);
  });

  it('maximum n-gram order 1…6', () => {
    const want = ['77.65', '60.50', '53.93', '48.53', '46.14', '43.28'];
    want.forEach((w, i) => assert.equal(corpusBleu(HYPS, REFS, { maxOrder: i + 1 }).score.toFixed(2), w, `order ${i + 1}`));
  });

  it('score from statistics', () => {
    close(bleuFromStats([9, 7, 5, 3], [10, 8, 6, 4], 11, 11, { smoothMethod: 'none' }).score / 100, 0.8375922397, 1e-8, 'compute_bleu');
  });

  it('degenerate statistics score 0', () => {
    const cases: Array<[number[], number[], number, number, number]> = [
      [[0, 0, 0, 0], [4, 4, 2, 1], 0, 1, 0],
      [[0, 0, 0, 0], [10, 11, 12, 0], 14, 10, 0],
      [[0, 0, 0, 0], [0, 0, 0, 0], 0, 0, 0],
      [[6, 5, 4, 0], [6, 5, 4, 3], 6, 6, 0],
      [[0, 0, 0, 0], [0, 0, 0, 0], 0, 0, 0.1],
      [[0, 0, 0, 0], [0, 0, 0, 0], 1, 5, 0.01],
    ];
    for (const [c, t, sys, ref, floor] of cases) assert.equal(bleuFromStats(c, t, sys, ref, { smoothMethod: 'floor', smoothValue: floor }).score, 0, `${c}/${t}`);
  });
});

describe('sentence BLEU (sacreBLEU test_sentence_bleu.py)', () => {
  const REF = 'producţia de zahăr brut se exprimă în zahăr alb;';
  const SYS = 'Producția de zahăr primă va fi exprimată în ceea ce privește zahărul alb;';
  const cases: Array<[BleuOptions, number]> = [
    [{ smoothMethod: 'exp' }, 8.493],
    [{ smoothMethod: 'none' }, 0.0],
    [{ smoothMethod: 'floor' }, 4.51688],
    [{ smoothMethod: 'floor', smoothValue: 0.1 }, 4.51688],
    [{ smoothMethod: 'floor', smoothValue: 0.5 }, 10.1],
    [{ smoothMethod: 'add-k' }, 14.882],
    [{ smoothMethod: 'add-k', smoothValue: 1 }, 14.882],
    [{ smoothMethod: 'add-k', smoothValue: 2 }, 21.389],
    [{ smoothMethod: 'exp', tokenize: 'none' }, 7.347],
  ];
  for (const [o, want] of cases) {
    it(`${JSON.stringify(o)} → ${want}`, () => close(sentenceBleu(SYS, [REF], o).score, want, 1e-3, JSON.stringify(o)));
  }
  it('no overlap is 0 whatever the smoothing', () => {
    for (const smoothMethod of ['exp', 'none', 'floor', 'add-k'] as const) assert.equal(sentenceBleu('this is a cat', ['okay thanks'], { smoothMethod }).score, 0, smoothMethod);
  });
});

describe('13a tokenisation', () => {
  // Expected strings printed by sacreBLEU 2.6's Tokenizer13a for these inputs.
  it('splits punctuation as mteval-v13a does', () => {
    assert.equal(tokenize13a('Hello, world! "Quoted" (x) 3.14 and 1,000 e.g. end.'), 'Hello , world ! " Quoted " ( x ) 3.14 and 1,000 e . g . end .');
    assert.equal(tokenize13a("It's a well-known 10-20 range &amp; more&quot;"), 'It\'s a well-known 10 - 20 range & more "');
  });
});

describe('chrF (sacreBLEU test_chrf.py)', () => {
  const eps = (h: string[], r: string[], want: number): void => close(corpusChrf(h, [r], { beta: 3, epsSmoothing: true }), want, 1e-4, `eps ${JSON.stringify(h)}`);
  it('epsilon smoothing (chrF++.py style), β = 3', () => {
    eps(['abcdefg'], ['hijklmnop'], 0);
    eps(['a'], ['b'], 0);
    eps([''], ['b'], 0);
    eps([''], ['ref'], 0);
    eps([''], ['reference'], 0);
    eps(['aa'], ['ab'], 8.3333);
    eps(['a', 'b'], ['a', 'c'], 8.3333);
    eps(['a'], ['a'], 16.6667);
    eps(['a b c'], ['a b c'], 50);
    eps(['a b c'], ['abc'], 50);
    eps([' risk assessment must be made of those who are qualified and expertise in the sector - these are the scientists .'], ['risk assessment has to be undertaken by those who are qualified and expert in that area - that is the scientists .'], 63.36173);
    eps([' Die    Beziehung zwischen  Obama und Netanjahu ist nicht gerade  freundlich. '], ['Das Verhältnis zwischen Obama und Netanyahu ist nicht gerade freundschaftlich.'], 64.1302698);
    eps(['Niemand hat die Absicht, eine Mauer zu errichten'], ['Niemand hat die Absicht, eine Mauer zu errichten'], 100);
  });

  it('effective order (the default smoothing), β = 3', () => {
    const eff = (h: string[], r: string[], want: number): void => close(corpusChrf(h, [r], { beta: 3 }), want, 1e-4, `eff ${JSON.stringify(h)}`);
    eff(['a'], ['a'], 100);
    eff([''], ['reference'], 0);
    eff(['a b c'], ['a b c'], 100);
    eff(['a b c'], ['abc'], 100);
    eff([''], ['c'], 0);
    eff(['a', 'b'], ['a', 'c'], 50);
    eff(['aa'], ['ab'], 25);
  });

  it('keeping whitespace, β = 3', () => {
    close(corpusChrf(['Die Beziehung zwischen Obama und Netanjahu ist nicht gerade freundlich.'], [['Das Verhältnis zwischen Obama und Netanyahu ist nicht gerade freundschaftlich.']], { beta: 3, whitespace: true }), 67.3481606, 1e-4, 'whitespace 1');
    close(corpusChrf(['risk assessment must be made of those who are qualified and expertise in the sector - these are the scientists .'], [['risk assessment has to be undertaken by those who are qualified and expert in that area - that is the scientists .']], { beta: 3, whitespace: true }), 65.2414427, 1e-4, 'whitespace 2');
  });

  it('sentence level with epsilon smoothing, β = 2', () => {
    const s = (h: string, r: string, want: number): void => close(sentenceChrf(h, [r], { epsSmoothing: true }), want, 1e-4, h);
    s('Co nás nejvíc trápí, protože lékaři si vybírají, kdo bude žít a kdo zemře.', 'Nejvíce smutní jsme z toho, že musíme rozhodovat o tom, kdo bude žít a kdo zemře.', 39.14078509);
    s('Nebo prostě nemají vybavení, které by jim pomohlo, uvedli lékaři.', 'A někdy nemáme ani potřebný materiál, abychom jim pomohli, popsali lékaři.', 31.22557079);
    s('Lapali po dechu, jejich životy skončily dřív, než skutečně začaly.', 'Lapali po dechu a pak jejich život skončil - dřív, než skutečně mohl začít, připomněli.', 57.15704367);
  });

  it('reference streams must match the hypotheses line for line', () => {
    assert.throws(() => corpusChrf(['a', 'b'], [['a']]), /reference stream 1 has 1 lines but there are 2 hypotheses/);
    assert.throws(() => corpusBleu(['a'], []), /at least one reference stream/);
  });
});

/** The Python that can import sacrebleu, if any. */
function sacrebleuPython(): { python: string; env: NodeJS.ProcessEnv } | null {
  const env = { ...process.env, ...(process.env['GENLAB_SACREBLEU_PYTHONPATH'] ? { PYTHONPATH: process.env['GENLAB_SACREBLEU_PYTHONPATH'] } : {}) };
  for (const python of ['/usr/bin/python3', 'python3']) {
    const r = spawnSync(python, ['-c', 'import sacrebleu'], { env, encoding: 'utf8' });
    if (r.status === 0) return { python, env };
  }
  return null;
}

describe('against sacreBLEU itself on random text', () => {
  const peer = sacrebleuPython();
  it('corpus and sentence BLEU/chrF agree to 1e-9', { skip: peer ? false : 'no Python with sacrebleu (not packaged for Debian 12; set GENLAB_SACREBLEU_PYTHONPATH to a copy): the published values above stay the reference' }, () => {
    const rng = new Rng(11);
    const vocab = ['the', 'The', 'dog', 'bit', 'man', '3.5', '1,000', '-', 'e.g.', 'U.S.', '&amp;', '"', '(', ')', "it's", 'Straße', 'über', 'x-ray', '10-20', '$5', 'a.b,c', '¿Qué', '…', '—', '日本', '😀', 'end.', 'end,', '\u00a0', 'a'];
    const sent = (): string => Array.from({ length: 1 + Math.floor(rng.uniform() * 12) }, () => vocab[Math.floor(rng.uniform() * vocab.length)]!).join(rng.uniform() < 0.1 ? '  ' : ' ');
    const hyps: string[] = [];
    const r1: string[] = [];
    const r2: string[] = [];
    for (let i = 0; i < 200; i++) {
      hyps.push(sent());
      r1.push(sent());
      r2.push(rng.uniform() < 0.5 ? hyps[i]! : sent());
    }
    const script = `
import json, sys
from sacrebleu.metrics import BLEU, CHRF
c = json.load(sys.stdin)
h, r1, r2 = c['h'], c['r1'], c['r2']
print(json.dumps([BLEU().corpus_score(h, [r1]).score, BLEU().corpus_score(h, [r1, r2]).score, CHRF().corpus_score(h, [r1]).score,
  CHRF().corpus_score(h, [r1, r2]).score, CHRF(word_order=2).corpus_score(h, [r1]).score,
  [BLEU(effective_order=True).sentence_score(a, [b]).score for a, b in zip(h, r2)]]))`;
    const r = spawnSync(peer!.python, ['-c', script], { input: JSON.stringify({ h: hyps, r1, r2 }), env: peer!.env, encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const [b1, b2, c1, c2, cpp, sent1] = JSON.parse(r.stdout) as [number, number, number, number, number, number[]];
    close(corpusBleu(hyps, [r1]).score, b1, 1e-9, 'BLEU, 1 ref');
    close(corpusBleu(hyps, [r1, r2]).score, b2, 1e-9, 'BLEU, 2 refs');
    close(corpusChrf(hyps, [r1]), c1, 1e-9, 'chrF, 1 ref');
    close(corpusChrf(hyps, [r1, r2]), c2, 1e-9, 'chrF, 2 refs');
    close(corpusChrf(hyps, [r1], { wordOrder: 2 }), cpp, 1e-9, 'chrF++');
    hyps.forEach((h, i) => close(sentenceBleu(h, [r2[i]!]).score, sent1[i]!, 1e-9, `sentence ${i}`));
  });
});
