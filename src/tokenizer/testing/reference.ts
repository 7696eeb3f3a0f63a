// Slow, obviously-correct reference implementations the tests compare the fast code against.
// They share no code with the implementation beyond the regex pattern and the byte alphabet:
// strings instead of ids, TextEncoder instead of the hand-written UTF-8 encoder, GPT-2's original
// "merge every occurrence per pass" loop, and a trainer that recounts all pairs every merge.

import { BYTE_TO_CHAR } from '../byte-level.ts';
import { GPT2_PATTERN } from '../pretokenize.ts';
import type { ByteLevelTokenizer } from '../tokenizer.ts';

const encoder = new TextEncoder();

/** GPT-2's `bpe()` on a word given as byte-level characters. */
function refBpe(word: string[], ranks: Map<string, number>): string[] {
  let w = word;
  while (w.length > 1) {
    let best: string | null = null;
    let bestRank = Infinity;
    for (let i = 0; i + 1 < w.length; i++) {
      const r = ranks.get(w[i] + ' ' + w[i + 1]);
      if (r !== undefined && r < bestRank) {
        bestRank = r;
        best = w[i] + ' ' + w[i + 1];
      }
    }
    if (best === null) break;
    const [first, second] = best.split(' ') as [string, string];
    const next: string[] = [];
    let i = 0;
    while (i < w.length) {
      if (i + 1 < w.length && w[i] === first && w[i + 1] === second) {
        next.push(first + second);
        i += 2;
      } else {
        next.push(w[i]!);
        i++;
      }
    }
    w = next;
  }
  return w;
}

/** Reference encoder built only from the tokenizer's vocabulary strings and merge list. */
export function referenceEncoder(tok: ByteLevelTokenizer): (text: string) => number[] {
  const ranks = new Map<string, number>();
  tok.merges.forEach(([a, b], r) => {
    const key = tok.idToToken(a) + ' ' + tok.idToToken(b);
    if (!ranks.has(key)) ranks.set(key, r);
  });
  const specials = [...tok.specialTokens.keys()].sort((a, b) => b.length - a.length);
  return (text: string): number[] => {
    const ids: number[] = [];
    let rest = text;
    while (rest.length > 0) {
      // earliest special token, longest on ties
      let at = -1;
      let which = '';
      for (const s of specials) {
        const k = rest.indexOf(s);
        if (k >= 0 && (at < 0 || k < at)) {
          at = k;
          which = s;
        }
      }
      const plain = at < 0 ? rest : rest.slice(0, at);
      for (const word of plain.match(new RegExp(GPT2_PATTERN, 'gu')) ?? []) {
        const chars = Array.from(encoder.encode(word), (b) => BYTE_TO_CHAR[b]!);
        for (const piece of refBpe(chars, ranks)) {
          const id = tok.tokenToId(piece);
          if (id === undefined) throw new Error(`reference: ${piece} not in vocab`);
          ids.push(id);
        }
      }
      if (at < 0) break;
      ids.push(tok.specialTokens.get(which)!);
      rest = rest.slice(at + which.length);
    }
    return ids;
  };
}

/**
 * Naive BPE training on word counts: recount every pair before each merge; the most frequent pair
 * wins, ties to the smaller (left id, right id). Returns the merges as byte-level strings.
 */
export function referenceTrain(counts: Map<string, number>, vocabSize: number, minFrequency: number): string[] {
  const tokens: string[] = BYTE_TO_CHAR.slice();
  const idOf = new Map(tokens.map((t, i) => [t, i]));
  const words = [...counts].map(([w, f]) => ({ syms: Array.from(encoder.encode(w)), f }));
  const merges: string[] = [];
  const done = new Set<string>();
  while (tokens.length < vocabSize) {
    const pc = new Map<string, number>();
    for (const { syms, f } of words) for (let i = 0; i + 1 < syms.length; i++) {
      const k = `${syms[i]},${syms[i + 1]}`;
      pc.set(k, (pc.get(k) ?? 0) + f);
    }
    let best: [number, number] | null = null;
    let bestCount = 0;
    for (const [k, c] of pc) {
      const [a, b] = k.split(',').map(Number) as [number, number];
      if (c > bestCount || (c === bestCount && best !== null && (a < best[0] || (a === best[0] && b < best[1])))) {
        best = [a, b];
        bestCount = c;
      }
    }
    if (best === null || bestCount < minFrequency) break;
    const [a, b] = best;
    const s = tokens[a]! + tokens[b]!;
    let t = idOf.get(s);
    if (t === undefined) {
      t = tokens.length;
      tokens.push(s);
      idOf.set(s, t);
    }
    if (!done.has(`${a},${b}`)) {
      done.add(`${a},${b}`);
      merges.push(`${tokens[a]} ${tokens[b]}`);
    }
    for (const w of words) {
      const out: number[] = [];
      for (let i = 0; i < w.syms.length; ) {
        if (i + 1 < w.syms.length && w.syms[i] === a && w.syms[i + 1] === b) {
          out.push(t);
          i += 2;
        } else out.push(w.syms[i++]!);
      }
      w.syms = out;
    }
  }
  return merges;
}
