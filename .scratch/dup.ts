import { trainBpeFromCounts } from '../src/tokenizer/train.ts';
import { rng } from '../src/tokenizer/test-fixtures.ts';
let found = 0;
for (let seed = 1; seed <= 20000 && found < 3; seed++) {
  const rand = rng(seed);
  const alphabet = 'abcd'.slice(0, 2 + (seed % 3));
  const counts = new Map<string, number>();
  const nWords = 3 + Math.floor(rand() * 10);
  for (let i = 0; i < nWords; i++) {
    let w = '';
    const len = 1 + Math.floor(rand() * 10);
    for (let k = 0; k < len; k++) w += alphabet[Math.floor(rand() * alphabet.length)];
    counts.set(w, (counts.get(w) ?? 0) + 1 + Math.floor(rand() * 5));
  }
  try { trainBpeFromCounts(counts, { vocabSize: 400, minFrequency: 1 }); } catch (e) { found++; console.log(seed, JSON.stringify([...counts]), (e as Error).message); }
}
console.log('found', found);
