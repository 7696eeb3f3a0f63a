// The exported GGUF files in the real llama.cpp (node-llama-cpp 3.21.1's prebuilt CPU build): greedy
// ids and next-token probabilities against genlab's float32 model on the same tokens.
//   f32:        greedy ids equal, every probability within 1e-4 (random-weight fixtures of every
//               family and rope convention, and trained models)
//   f16, bf16:  greedy ids equal and mean KL(genlab ‖ llama.cpp) per token ≤ 1e-3 (trained models:
//               a random model's probabilities are nearly flat, so rounding could swap near ties)
//   q8_0:       greedy ids equal and mean KL per token ≤ 1e-2 (trained models)
// llama.cpp runs with a float32 KV cache and without flash attention, so the differences measured
// are the file's. Also checked: the rope row order each architecture needs (the other order is
// detectably wrong), a merged LoRA folder exported through the command line, and that llama.cpp's
// tokenizer gives genlab's ids for the exported vocabularies (genlab-trained BPE, SentencePiece-
// style, Llama 3, Qwen3 and Mistral).

import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it, type TestContext } from 'node:test';
import { getLlama, LlamaLogLevel, type Llama as LlamaCpp, type Token } from 'node-llama-cpp';
import { noGrad } from '../autograd/tape.ts';
import { init } from '../backend/registry.ts';
import { buildCli } from '../cli/main.ts';
import { gguf, openGguf, writeGguf, type GgufTensorToWrite } from '../io/gguf.ts';
import { encodeGgml } from '../io/ggml-quants.ts';
import { loadLanguageModel, saveModel, type LoadedLlama, type LoadedModel } from '../io/model-folder.ts';
import { saveAdapter } from '../io/peft.ts';
import { writeTinyLlamaFolder } from '../io/testing/tiny-llama.ts';
import { LoraAdapter } from '../nn/lora.ts';
import { makeTinyModel, sotuTexts } from '../serve/testing/fixtures.ts';
import { makeTrainedTinyModel } from '../serve/testing/trained-model.ts';
import { empty } from '../tensor/tensor.ts';
import { loadTokenizer } from '../tokenizer/files.ts';
import { tokenizerJsonString } from '../tokenizer/formats.ts';
import { HARD_TEXTS, REAL_TOKENIZERS } from '../tokenizer/testing/hf-reference.ts';
import { VARIED_TEXT } from '../tokenizer/testing/fixtures.ts';
import { mergeCommand } from '../train/finetune.ts';
import { exportGguf, type GgufExportType } from './gguf-export.ts';
import { permuteRope } from './gguf-model.ts';
import { vocabToGguf } from './gguf-vocab.ts';
import { parseModelfile } from './testing/go-template.ts';
import { makeTrainedTinyLlama, tinyLlamaText } from './testing/tiny-models.ts';

type Lm = LoadedModel | LoadedLlama;

let root: string;
let llama: LlamaCpp;
const llamaLog: string[] = [];
const cleanups: (() => Promise<void>)[] = [];
/** A tiny GPT-2 whose temp folder is removed after the tests. */
async function tinyGpt(trained: boolean): Promise<LoadedModel> {
  const m = trained ? await makeTrainedTinyModel() : await makeTinyModel();
  cleanups.push(m.cleanup);
  return m.lm;
}

before(async () => {
  await init();
  root = await mkdtemp(path.join(os.tmpdir(), 'genlab-llama-cpp-'));
  // CPU only, the prebuilt binary (never a build); llama.cpp's log is kept for failure messages.
  llama = await getLlama({ gpu: false, build: 'never', logLevel: LlamaLogLevel.warn, logger: (level, message) => llamaLog.push(`${level}: ${message}`) });
});
after(async () => {
  for (const c of cleanups) await c();
  await llama?.dispose();
  await rm(root, { recursive: true, force: true });
});

function softmax(row: Float32Array): Float64Array {
  let max = -Infinity;
  for (const x of row) max = Math.max(max, x);
  const out = Float64Array.from(row, (x) => Math.exp(x - max));
  const sum = out.reduce((a, b) => a + b, 0);
  return out.map((x) => x / sum);
}

function genlabProbs(lm: Lm, ids: number[]): Float64Array[] {
  const t = empty(lm.model.device, [1, ids.length], 'int32').set(Int32Array.from(ids));
  const logits = noGrad(() => lm.model.forward(t).logits).toArray() as Float32Array;
  const V = logits.length / ids.length;
  return ids.map((_, p) => softmax(logits.subarray(p * V, (p + 1) * V)));
}

function argmax(p: Float64Array): number {
  let best = 0;
  for (let i = 1; i < p.length; i++) if (p[i]! > p[best]!) best = i;
  return best;
}

/** genlab's greedy continuation of `prompt` by `steps` tokens. */
function genlabGreedy(lm: Lm, prompt: number[], steps: number): number[] {
  const ids = [...prompt];
  for (let s = 0; s < steps; s++) ids.push(argmax(genlabProbs(lm, ids).at(-1)!));
  return ids;
}

/** llama.cpp's greedy continuation, decoded token by token with its KV cache. */
async function llamaCppRun(file: string, prompt: number[], steps: number, teacher: number[], vocab: number): Promise<{ ids: number[]; probs: Float64Array[] }> {
  const model = await llama.loadModel({ modelPath: file, gpuLayers: 0 });
  try {
    const ctx = await model.createContext({ contextSize: 64, batchSize: 64, threads: 1, flashAttention: false, experimentalKvCacheKeyType: 'F32', experimentalKvCacheValueType: 'F32' });
    try {
      const seq = ctx.getSequence();
      const ids = [...prompt];
      let out = await seq.controlledEvaluate(prompt.map((id, i) => (i === prompt.length - 1 ? [id as Token, { generateNext: { token: true } }] : (id as Token))));
      for (let s = 0; s < steps; s++) {
        const next = out.at(-1)!.next.token!;
        ids.push(next);
        if (s < steps - 1) out = await seq.controlledEvaluate([[next, { generateNext: { token: true } }]]);
      }
      // The distributions on genlab's sequence, so both engines see the same tokens.
      await seq.clearHistory();
      const res = await seq.controlledEvaluate(teacher.map((id) => [id as Token, { generateNext: { probabilities: true } }]));
      const probs = res.map((r) => {
        const map = r!.next.probabilities!;
        assert.equal(map.size, vocab, 'llama.cpp returns a probability for every token of the vocabulary');
        const p = new Float64Array(vocab);
        for (const [t, v] of map) p[t] = v;
        return p;
      });
      return { ids, probs };
    } finally {
      await ctx.dispose();
    }
  } finally {
    await model.dispose();
  }
}

interface Agreement {
  idsEqual: boolean;
  maxProbDiff: number;
  meanKl: number;
  ours: number[];
  theirs: number[];
}

async function compare(lm: Lm, file: string, prompt: number[], steps: number): Promise<Agreement> {
  const ours = genlabGreedy(lm, prompt, steps);
  const mine = genlabProbs(lm, ours);
  const them = await llamaCppRun(file, prompt, steps, ours, mine[0]!.length);
  let maxProbDiff = 0;
  let kl = 0;
  mine.forEach((p, pos) => {
    const q = them.probs[pos]!;
    for (let v = 0; v < p.length; v++) {
      maxProbDiff = Math.max(maxProbDiff, Math.abs(p[v]! - q[v]!));
      if (p[v]! > 0) kl += p[v]! * Math.log(p[v]! / Math.max(q[v]!, 1e-300));
    }
  });
  return { idsEqual: JSON.stringify(ours) === JSON.stringify(them.ids), maxProbDiff, meanKl: kl / mine.length, ours, theirs: them.ids };
}

function report(t: TestContext, label: string, a: Agreement, bytes?: number): void {
  t.diagnostic(`${label}: greedy ids ${a.idsEqual ? 'equal' : 'DIFFER'} (${a.ours.length} tokens), max |Δp| ${a.maxProbDiff.toExponential(2)}, mean KL/token ${a.meanKl.toExponential(2)}${bytes ? `, ${bytes} bytes` : ''}`);
}

async function fixtureModel(fixture: string): Promise<LoadedLlama> {
  return (await loadLanguageModel(await writeTinyLlamaFolder(path.join(root, fixture), { fixture }))) as LoadedLlama;
}

describe('llama.cpp runs the exported f32 files as genlab runs the folders (random weights)', () => {
  // 1 is <s>; the rest are characters of the tiny tokenizer.
  const PROMPT = [1, 23, 11, 8, 3, 20];
  const cases: [string, () => Promise<Lm>, number][] = [
    ['GPT-2', () => tinyGpt(false), 8],
    ['SmolLM2 flags (llama, rope rows reordered, GQA 3:1)', () => fixtureModel('llama-smollm2'), 8],
    ['Llama 3.2 (rope_freqs)', () => fixtureModel('llama-llama32'), 8],
    ['Llama 2 with linear rope scaling and q/k/v/o/MLP biases', () => fixtureModel('llama-linear'), 8],
    ['Qwen2.5 (NEOX rope, q/k/v biases)', () => fixtureModel('llama-qwen25'), 8],
    ['Qwen3 (NEOX rope, q/k norms, head_dim 8 × 4 heads > hidden 16)', () => fixtureModel('llama-qwen3'), 8],
  ];
  for (const [name, make, steps] of cases) {
    it(`${name}: greedy ids equal, probabilities within 1e-4`, async (t) => {
      const lm = await make();
      const file = path.join(root, `${name.split(' ')[0]!.replace(/\W/g, '')}-f32.gguf`);
      const r = await exportGguf(lm, { type: 'f32', out: file, modelfile: false });
      const prompt = lm.model.config.vocabSize === 48 ? PROMPT : lm.tokenizer.encode('The army and the navy');
      const a = await compare(lm, file, prompt, steps);
      report(t, `${name} f32`, a, r.bytes);
      assert.ok(a.idsEqual, `greedy ids: genlab ${a.ours} vs llama.cpp ${a.theirs}`);
      assert.ok(a.maxProbDiff <= 1e-4, `max probability difference ${a.maxProbDiff}`);
    });
  }

  it("Mistral (sliding window 5): equal while the sequence fits the window; llama.cpp's llama architecture has no window", async (t) => {
    const lm = await fixtureModel('llama-mistral');
    const window = lm.model.config.slidingWindow!;
    const file = path.join(root, 'mistral-f32.gguf');
    const r = await exportGguf(lm, { type: 'f32', out: file, modelfile: false });
    assert.match(r.notes.join('\n'), /no sliding window/);
    const a = await compare(lm, file, PROMPT.slice(0, window - 2), 2);
    report(t, 'Mistral f32', a);
    assert.ok(a.idsEqual && a.maxProbDiff <= 1e-4, `ids ${a.ours} vs ${a.theirs}, max |Δp| ${a.maxProbDiff}`);
  });

  it("the rope row order matters: Llama's rows left in HF order, or Qwen2's reordered, make llama.cpp disagree", async (t) => {
    for (const [fixture, shouldPermute] of [['llama-smollm2', false], ['llama-qwen25', true]] as const) {
      const lm = await fixtureModel(fixture);
      const good = path.join(root, `${fixture}-order.gguf`);
      await exportGguf(lm, { type: 'f32', out: good, modelfile: false });
      const src = openGguf(good);
      const c = lm.model.config;
      const tensors: GgufTensorToWrite[] = src.tensors.map((info) => ({
        name: info.name,
        shape: info.shape,
        type: info.type.name,
        data: () => {
          const m = info.name.match(/attn_([qk])\.(weight|bias)$/);
          if (!m) return src.readBytes(info.name);
          const heads = m[1] === 'q' ? c.numAttentionHeads : c.numKeyValueHeads;
          const cols = info.shape.length === 2 ? info.shape[1]! : 1;
          // The other convention: undo llama.cpp's order for Llama, impose it on Qwen2.
          return encodeGgml('F32', permuteRope(src.readF32(info.name), heads, c.headDim, cols, !shouldPermute));
        },
      }));
      const wrong = path.join(root, `${fixture}-wrong-order.gguf`);
      await writeGguf(wrong, [...src.metadata], tensors);
      src.close();
      const right = await compare(lm, good, PROMPT, 4);
      const bad = await compare(lm, wrong, PROMPT, 4);
      report(t, `${fixture} rows as exported`, right);
      report(t, `${fixture} rows in the other order`, bad);
      assert.ok(right.maxProbDiff <= 1e-4);
      assert.ok(bad.maxProbDiff > 1e-3, `${fixture}: the other row order should disagree, max |Δp| ${bad.maxProbDiff}`);
    }
  });
});

describe('f32, f16, bf16 and q8_0 files of trained tiny models in llama.cpp', () => {
  const LIMITS: Record<GgufExportType, { maxProbDiff?: number; meanKl: number }> = {
    f32: { maxProbDiff: 1e-4, meanKl: 1e-6 },
    f16: { meanKl: 1e-3 },
    bf16: { meanKl: 1e-3 },
    q8_0: { meanKl: 1e-2 },
  };
  // Each model's prompt: GPT-2's BPE text, the character models' text after <s>.
  const models: [string, () => Promise<Lm>, string][] = [
    ['GPT-2 (2 layers, 64 wide, BPE 300, 250 steps on SOTU)', () => tinyGpt(true), 'Fellow citizens of the Senate and'],
    ['Llama (GQA 4:2, 64 wide, 150 steps)', () => makeTrainedTinyLlama(path.join(root, 'trained-llama'), 'llama'), 'the congress of the united states'],
    ['Qwen2 (GQA 4:2, 64 wide, q/k/v biases, 150 steps)', () => makeTrainedTinyLlama(path.join(root, 'trained-qwen2'), 'qwen2'), 'the congress of the united states'],
  ];
  for (const [name, make, text] of models) {
    it(`${name}: greedy ids equal at every type; probabilities and KL within each type's bound`, async (t) => {
      const lm = await make();
      const prompt = lm.tokenizer.encode(text, { addSpecialTokens: true });
      const slug = name.split(' ')[0]!.replace(/\W/g, '');
      for (const type of ['f32', 'f16', 'bf16', 'q8_0'] as const) {
        const file = path.join(root, `${slug}-${type}.gguf`);
        const r = await exportGguf(lm, { type, out: file, modelfile: false });
        if (type !== 'f16') assert.equal(r.tensorTypes['F16'], undefined, 'no q8_0 fallback to f16: every matrix row is whole blocks of 32');
        const a = await compare(lm, file, prompt, 16);
        report(t, `${name} ${type}`, a, r.bytes);
        assert.ok(a.idsEqual, `${type}: greedy ids genlab ${a.ours} vs llama.cpp ${a.theirs}`);
        assert.ok(a.meanKl <= LIMITS[type].meanKl, `${type}: mean KL per token ${a.meanKl}`);
        if (LIMITS[type].maxProbDiff !== undefined) assert.ok(a.maxProbDiff <= LIMITS[type].maxProbDiff!, `${type}: max probability difference ${a.maxProbDiff}`);
      }
    });
  }
});

describe('a merged LoRA folder through `genlab export`', () => {
  it('merge → export (q8_0) → llama.cpp follows the merged weights, not the base', async (t) => {
    const trained = await tinyGpt(true);
    const base = path.join(root, 'lora-base');
    await saveModel(base, trained);
    const adapter = LoraAdapter.create(trained.model, { r: 4, alpha: 8, dropout: 0, targetModules: ['c_attn', 'c_fc'], rsLora: false }, { seed: 5 });
    let k = 0;
    for (const m of adapter.modules.values()) m.b.set(Array.from({ length: m.b.size }, () => 0.5 * Math.sin(++k)));
    await saveAdapter(path.join(root, 'lora-adapter'), adapter, trained.model, { baseModel: base });
    const merged = path.join(root, 'lora-merged');
    await mergeCommand({ model: base, adapter: path.join(root, 'lora-adapter'), out: merged });
    const out = path.join(root, 'lora-export', 'merged-q8_0.gguf');
    await buildCli().parseAsync(['node', 'genlab', 'export', '--model', merged, '--format', 'gguf', '--type', 'q8_0', '--out', out]);
    const mf = parseModelfile(readFileSync(path.join(root, 'lora-export', 'Modelfile'), 'utf8'));
    assert.equal(mf.from, './merged-q8_0.gguf');
    assert.ok(existsSync(path.join(root, 'lora-export', mf.from)));
    assert.deepEqual(mf.parameters, [['stop', '<|endoftext|>']]);
    const lmMerged = await loadLanguageModel(merged);
    const lmBase = await loadLanguageModel(base);
    const prompt = lmMerged.tokenizer.encode('The people of the United');
    const a = await compare(lmMerged, out, prompt, 12);
    const baseVsFile = await compare(lmBase, out, prompt, 0);
    report(t, 'merged q8_0', a);
    report(t, 'base model vs the merged file', baseVsFile);
    assert.ok(a.idsEqual && a.meanKl <= 1e-2, `merged: ids ${a.ours} vs ${a.theirs}, KL ${a.meanKl}`);
    assert.ok(baseVsFile.meanKl > 10 * a.meanKl, 'the file holds the merged weights, measurably unlike the base');
  });
});

describe("llama.cpp's tokenizer on the exported vocabularies gives genlab's ids", () => {
  async function llamaCppTokens(file: string, texts: string[], vocabOnly: boolean): Promise<number[][]> {
    const model = await llama.loadModel({ modelPath: file, vocabOnly, gpuLayers: 0 });
    try {
      return texts.map((x) => [...model.tokenize(x, true)]);
    } finally {
      await model.dispose();
    }
  }

  it('genlab-trained byte-level BPE ("gpt-2" pre-tokenizer) and the SentencePiece-style character vocabulary', async () => {
    const gpt = await tinyGpt(false);
    const gptFile = path.join(root, 'tok-gpt.gguf');
    await exportGguf(gpt, { type: 'f16', out: gptFile, modelfile: false });
    const texts = [...VARIED_TEXT.split('\n'), sotuTexts(1)[0]!.slice(0, 3000), '<|endoftext|>after'];
    assert.deepEqual(await llamaCppTokens(gptFile, texts, false), texts.map((x) => gpt.tokenizer.encode(x)));
    // The 48-character vocabulary has no byte tokens: llama.cpp cannot encode characters outside it.
    const lm = await fixtureModel('llama-smollm2');
    const spFile = path.join(root, 'tok-sp.gguf');
    await exportGguf(lm, { type: 'f32', out: spFile, modelfile: false });
    const inVocab = [tinyLlamaText().slice(0, 2000), ' leading space', 'two  spaces\n\nand lines', '</s><s>x'];
    assert.deepEqual(await llamaCppTokens(spFile, inVocab, false), inVocab.map((x) => lm.tokenizer.encode(x)));
  });

  for (const name of ['llama3', 'qwen3', 'llama2'] as const) {
    it(`${name === 'llama2' ? 'Mistral (SentencePiece BPE, byte fallback)' : name}: the real tokenizer's fields`, async () => {
      const tok = await loadTokenizer(REAL_TOKENIZERS[name]);
      const v = vocabToGguf(JSON.parse(tokenizerJsonString(tok)), tok, { vocabSize: tok.vocabSize });
      // A vocabulary-only file: llama.cpp reads the hyperparameters and the tokenizer, no tensors.
      const file = path.join(root, `vocab-${name}.gguf`);
      const hp: [string, number][] = [['context_length', 64], ['embedding_length', 64], ['block_count', 1], ['feed_forward_length', 64], ['attention.head_count', 1]];
      await writeGguf(file, [['general.architecture', gguf.str('llama')], ...hp.map(([k, x]) => [`llama.${k}`, gguf.u32(x)] as [string, ReturnType<typeof gguf.u32>]), ['llama.attention.layer_norm_rms_epsilon', gguf.f32(1e-5)], ...v.metadata], []);
      // llama.cpp does not apply Qwen's NFC normalizer (nor does its own converter ask it to), so
      // text that NFC would change is left out; and llama.cpp makes any token spelled "</s>" a
      // control token (llama-vocab.cpp, for PaddleOCR), which Qwen's ordinary "</s>" then becomes.
      const texts = [...VARIED_TEXT.split('\n'), ...HARD_TEXTS].filter((x) => x.normalize('NFC') === x && !(name === 'qwen3' && x.includes('</s>')));
      assert.ok(texts.length > 40);
      const theirs = await llamaCppTokens(file, texts, true);
      texts.forEach((x, i) => assert.deepEqual(theirs[i], tok.encode(x), JSON.stringify(x.slice(0, 60))));
    });
  }
});

process.on('exit', (code) => {
  if (code !== 0 && llamaLog.length > 0) process.stderr.write(`llama.cpp log (last 20 lines):\n${llamaLog.slice(-20).join('\n')}\n`);
});
