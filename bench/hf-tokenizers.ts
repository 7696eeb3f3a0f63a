// Encoding speed of genlab's Hugging Face tokenizer.json reader against HF's own Rust tokenizers
// (through @anush008/tokenizers, a devDependency) on the real Llama 3, Llama 2-format (Mistral)
// and Qwen3 files, 1 MB of State of the Union prose and 1 MB of hard mixed text; also checks that
// the ids are identical.
//   node --import tsx bench/hf-tokenizers.ts [--mb N] [--json]
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { loadTokenizer } from '../src/tokenizer/files.ts';
import { randomText, rng, sotuTexts } from '../src/tokenizer/testing/fixtures.ts';
import { sharedUnicode, HARD_TEXTS, REAL_TOKENIZERS, referenceFromJson } from '../src/tokenizer/testing/hf-reference.ts';

const args = process.argv.slice(2);
const mbAt = args.indexOf('--mb');
const mb = mbAt >= 0 ? Number(args[mbAt + 1]) : 1;
if (!(mb > 0)) throw new Error(`--mb needs a positive number, got ${args[mbAt + 1]}`);
const size = Math.round(mb * 1_000_000);

function hardText(): string {
  const rand = rng(1);
  const parts: string[] = [];
  let n = 0;
  while (n < size) {
    const s = rand() < 0.3 ? HARD_TEXTS[Math.floor(rand() * HARD_TEXTS.length)]! : sharedUnicode(randomText(rand, 40, { jsWhitespaceQuirks: true }));
    parts.push(s);
    n += s.length + 1;
  }
  return parts.join('\n').slice(0, size);
}

const corpora = { prose: sotuTexts().join('\n').slice(0, size), hard: hardText() };
const seconds = (f: () => unknown): number => {
  const t0 = performance.now();
  f();
  return (performance.now() - t0) / 1000;
};

const rows: Record<string, unknown>[] = [];
for (const [name, dir] of Object.entries(REAL_TOKENIZERS)) {
  const tok = await loadTokenizer(dir);
  const ref = referenceFromJson(await readFile(join(dir, 'tokenizer.json'), 'utf8'));
  for (const [corpus, text] of Object.entries(corpora)) {
    let ids: number[] = [];
    tok.clearCache();
    const cold = seconds(() => (ids = tok.encode(text)));
    const warm = seconds(() => tok.encode(text));
    const t0 = performance.now();
    const refIds = await ref.encode(text, false);
    const hf = (performance.now() - t0) / 1000;
    const same = ids.length === refIds.length && ids.every((id, i) => id === refIds[i]);
    const mtok = (s: number): number => Math.round((ids.length / s / 1e6) * 100) / 100;
    rows.push({ tokenizer: name, corpus, tokens: ids.length, genlab_cold_mtok_s: mtok(cold), genlab_warm_mtok_s: mtok(warm), hf_mtok_s: mtok(hf), ids_identical: same });
  }
}
if (args.includes('--json')) console.log(JSON.stringify(rows, null, 2));
else {
  console.log(`encoding ${mb} MB, million tokens per second (genlab cold = word cache cleared first)`);
  for (const r of rows) {
    console.log(`${String(r['tokenizer']).padEnd(7)} ${String(r['corpus']).padEnd(6)} ${String(r['tokens']).padStart(8)} tokens  genlab ${r['genlab_cold_mtok_s']} cold / ${r['genlab_warm_mtok_s']} warm  HF ${r['hf_mtok_s']}  ids ${r['ids_identical'] ? 'identical' : 'DIFFER'}`);
  }
}
