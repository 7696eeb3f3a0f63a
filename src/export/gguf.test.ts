// GGUF export and import inside genlab (llama-cpp.test.ts runs the files in llama.cpp): the keys
// and tensors each architecture gets, the rope row order, the tokenizer fields of real tokenizers
// and their way back, export → import giving the same logits bit for bit, and q4_0 files whose
// blocks are assembled here from the format's definition.

import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { noGrad } from '../autograd/tape.ts';
import { init } from '../backend/registry.ts';
import { f16BitsToF32, f32ToF16Bits } from '../io/half.ts';
import { openGguf, writeGguf, type GgufReader, type GgufTensorToWrite } from '../io/gguf.ts';
import { loadLanguageModel, type LoadedLlama, type LoadedModel } from '../io/model-folder.ts';
import { openSafetensors } from '../io/safetensors.ts';
import { writeTinyLlamaFolder } from '../io/testing/tiny-llama.ts';
import { makeTinyModel, type TinyModel } from '../serve/testing/fixtures.ts';
import { empty } from '../tensor/tensor.ts';
import { loadTokenizer } from '../tokenizer/files.ts';
import { tokenizerJsonString } from '../tokenizer/formats.ts';
import { HARD_TEXTS, REAL_TOKENIZERS } from '../tokenizer/testing/hf-reference.ts';
import type { Tokenizer } from '../tokenizer/tokenizer.ts';
import { exportGguf } from './gguf-export.ts';
import { importGguf } from './gguf-import.ts';
import { ggufGet, permuteRope } from './gguf-model.ts';
import { TOKEN_TYPE, vocabFromGguf, vocabToGguf } from './gguf-vocab.ts';

let root: string;
let tiny: TinyModel;
before(async () => {
  await init();
  root = await mkdtemp(path.join(os.tmpdir(), 'genlab-gguf-export-'));
  tiny = await makeTinyModel();
});
after(async () => {
  await tiny.cleanup();
  await rm(root, { recursive: true, force: true });
});

function logits(lm: LoadedModel | LoadedLlama, ids: number[]): Float32Array {
  const t = empty(lm.model.device, [1, ids.length], 'int32').set(Int32Array.from(ids));
  return noGrad(() => lm.model.forward(t).logits).toArray() as Float32Array;
}

async function tinyLlama(fixture: string): Promise<LoadedLlama> {
  return (await loadLanguageModel(await writeTinyLlamaFolder(path.join(root, fixture), { fixture }))) as LoadedLlama;
}

const IDS = [1, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14];

describe('GGUF export: what llama.cpp reads', () => {
  it('GPT-2: gpt2 keys, Conv1D weights transposed to (out, in), the byte-level tokenizer as "gpt2" with the "gpt-2" pre-tokenizer', async () => {
    const file = path.join(root, 'gpt-f16.gguf');
    const res = await exportGguf(tiny.lm, { type: 'f16', out: file });
    assert.deepEqual(res.tensorTypes, { F16: 9, F32: 19 });
    assert.deepEqual(res.notes, [], 'a byte-level BPE trained by genlab has all 256 byte symbols');
    const r = openGguf(file);
    try {
      const get = (k: string): unknown => ggufGet(r, k);
      assert.equal(get('general.architecture'), 'gpt2');
      assert.equal(get('general.file_type'), 1);
      const c = tiny.lm.model.config;
      assert.deepEqual(
        ['context_length', 'embedding_length', 'feed_forward_length', 'block_count', 'attention.head_count'].map((k) => get(`gpt2.${k}`)),
        [c.nPositions, c.nEmbd, 4 * c.nEmbd, c.nLayer, c.nHead],
      );
      assert.equal(get('gpt2.attention.layer_norm_epsilon'), Math.fround(c.layerNormEpsilon));
      assert.equal(get('tokenizer.ggml.model'), 'gpt2');
      assert.equal(get('tokenizer.ggml.pre'), 'gpt-2');
      const tok = tiny.lm.tokenizer;
      const tokens = get('tokenizer.ggml.tokens') as string[];
      assert.equal(tokens.length, c.vocabSize);
      const eot = tok.eotId!;
      assert.equal(tokens[eot], '<|endoftext|>');
      assert.equal((get('tokenizer.ggml.token_type') as number[])[eot], TOKEN_TYPE.control);
      assert.equal(get('tokenizer.ggml.eos_token_id'), eot);
      assert.equal(get('tokenizer.ggml.add_bos_token'), false);
      assert.equal((get('tokenizer.ggml.merges') as string[]).length, JSON.parse(tokenizerJsonString(tok)).model.merges.length);
      // blk.0.attn_qkv.weight is c_attn (64, 192) transposed: (192, 64), rows of 64 (ne = [64, 192]).
      assert.deepEqual(r.info('blk.0.attn_qkv.weight').shape, [3 * c.nEmbd, c.nEmbd]);
      const w = tiny.lm.model.stateDict().get('h.0.attn.c_attn.weight')!.toArray();
      const stored = r.readF32('blk.0.attn_qkv.weight');
      for (const [o, i] of [[0, 0], [5, 3], [191, 63], [100, 17]] as const) assert.equal(stored[o * c.nEmbd + i], f16BitsToF32(f32ToF16Bits(w[i * 3 * c.nEmbd + o]!)));
      assert.equal(r.info('position_embd.weight').type.name, 'F32');
      assert.ok(!r.has('output.weight'), 'the LM head is tied, so there is no output tensor');
    } finally {
      r.close();
    }
  });

  it('rope rows: rotate-half (HF) → adjacent pairs (ggml), head by head, and back', () => {
    // One head of 4 rows, 2 columns: HF pairs row i with row i+2; ggml wants them side by side.
    const x = Float32Array.from([0, 1, 10, 11, 20, 21, 30, 31]);
    assert.deepEqual(Array.from(permuteRope(x, 1, 4, 2)), [0, 1, 20, 21, 10, 11, 30, 31]);
    const two = Float32Array.from({ length: 16 }, (_, i) => i);
    assert.deepEqual(Array.from(permuteRope(two, 2, 4, 2)), [0, 1, 4, 5, 2, 3, 6, 7, 8, 9, 12, 13, 10, 11, 14, 15]);
    assert.deepEqual(Array.from(permuteRope(permuteRope(two, 2, 8, 1), 2, 8, 1, true)), Array.from(two));
  });

  it('Llama (SmolLM2 flags): q/k rows reordered for llama.cpp\'s rope, GQA and head sizes in the keys, the char tokenizer as SentencePiece', async () => {
    const lm = await tinyLlama('llama-smollm2');
    const file = path.join(root, 'smol.gguf');
    const res = await exportGguf(lm, { type: 'f32', out: file, modelfile: false });
    const r = openGguf(file);
    try {
      const get = (k: string): unknown => ggufGet(r, k);
      const c = lm.model.config;
      assert.equal(get('general.architecture'), 'llama');
      assert.deepEqual(
        ['attention.head_count', 'attention.head_count_kv', 'attention.key_length', 'rope.dimension_count', 'feed_forward_length'].map((k) => get(`llama.${k}`)),
        [3, 1, 8, 8, c.intermediateSize],
      );
      assert.equal(get('llama.rope.freq_base'), 100000);
      const q = lm.model.stateDict().get('model.layers.0.self_attn.q_proj.weight')!.toArray() as Float32Array;
      assert.deepEqual(Array.from(r.readF32('blk.0.attn_q.weight')), Array.from(permuteRope(q, 3, 8, 24)));
      const v = lm.model.stateDict().get('model.layers.1.self_attn.v_proj.weight')!.toArray();
      assert.deepEqual(Array.from(r.readF32('blk.1.attn_v.weight')), Array.from(v), 'v is not rotated, so not reordered');
      assert.equal(get('tokenizer.ggml.model'), 'llama');
      const tokens = get('tokenizer.ggml.tokens') as string[];
      assert.equal(tokens[3], '\u2581', "the space token is spelled '▁', as llama.cpp looks spaces up");
      assert.deepEqual((get('tokenizer.ggml.token_type') as number[]).slice(0, 4), [TOKEN_TYPE.unknown, TOKEN_TYPE.control, TOKEN_TYPE.control, TOKEN_TYPE.normal]);
      assert.deepEqual([get('tokenizer.ggml.bos_token_id'), get('tokenizer.ggml.eos_token_id'), get('tokenizer.ggml.add_bos_token'), get('tokenizer.ggml.add_space_prefix')], [1, 2, true, false]);
      assert.match(res.notes.join('\n'), /no token for 256 of the 256 byte values .*llama\.cpp aborts on text with a character outside the vocabulary/);
    } finally {
      r.close();
    }
  });

  it('Qwen2/Qwen3 keep HF row order (llama.cpp uses NEOX rope for them); Qwen3 has q/k norms and a head size beyond hidden/heads', async () => {
    for (const [fixture, arch] of [['llama-qwen25', 'qwen2'], ['llama-qwen3', 'qwen3']] as const) {
      const lm = await tinyLlama(fixture);
      const file = path.join(root, `${fixture}.gguf`);
      await exportGguf(lm, { type: 'f32', out: file, modelfile: false });
      const r = openGguf(file);
      try {
        assert.equal(ggufGet(r, 'general.architecture'), arch);
        const q = lm.model.stateDict().get('model.layers.0.self_attn.q_proj.weight')!.toArray();
        assert.deepEqual(Array.from(r.readF32('blk.0.attn_q.weight')), Array.from(q));
        if (arch === 'qwen2') assert.ok(r.has('blk.0.attn_q.bias') && !r.has('blk.0.attn_output.bias'));
        if (arch === 'qwen3') {
          assert.equal(ggufGet(r, 'qwen3.attention.key_length'), 8);
          assert.equal(ggufGet(r, 'qwen3.embedding_length'), 16);
          assert.deepEqual(r.info('blk.1.attn_k_norm.weight').shape, [8]);
        }
      } finally {
        r.close();
      }
    }
  });

  it("rope scaling: Llama 3's as rope_freqs divisors, linear as rope.scaling keys, dynamic as a note", async () => {
    const l3 = await tinyLlama('llama-llama32');
    await exportGguf(l3, { type: 'f32', out: path.join(root, 'l32.gguf'), modelfile: false });
    const r = openGguf(path.join(root, 'l32.gguf'));
    try {
      const f = Array.from(r.readF32('rope_freqs.weight'));
      // head_dim 8, θ 500000: the fastest frequency is kept, the slowest divided by the full factor 32.
      assert.equal(f.length, 4);
      assert.equal(f[0], 1);
      assert.ok(Math.abs(f[3]! - 32) < 1e-4, `slowest divisor ${f[3]}`);
    } finally {
      r.close();
    }
    const lin = await tinyLlama('llama-linear');
    await exportGguf(lin, { type: 'f32', out: path.join(root, 'lin.gguf'), modelfile: false });
    const rl = openGguf(path.join(root, 'lin.gguf'));
    try {
      assert.equal(ggufGet(rl, 'llama.rope.scaling.type'), 'linear');
      assert.equal(ggufGet(rl, 'llama.rope.scaling.factor'), 2);
      assert.ok(rl.has('blk.0.attn_q.bias') && rl.has('blk.0.attn_output.bias') && rl.has('blk.0.ffn_gate.bias'));
    } finally {
      rl.close();
    }
    const dyn = await exportGguf(await tinyLlama('llama-dynamic'), { type: 'f32', out: path.join(root, 'dyn.gguf'), modelfile: false });
    assert.match(dyn.notes.join('\n'), /"dynamic" has no llama\.cpp equivalent.*up to max_position_embeddings \(8\)/);
  });

  it('q8_0: rows of 24 values are not whole blocks, so those matrices fall back to f16 and the result says so', async () => {
    const res = await exportGguf(await tinyLlama('llama-smollm2'), { type: 'q8_0', out: path.join(root, 'smol-q8.gguf'), modelfile: false });
    assert.deepEqual(res.tensorTypes, { F16: 13, Q8_0: 2, F32: 5 }); // only ffn_down's rows (64) are whole blocks
    assert.match(res.notes.join('\n'), /not a multiple of 32 values .*stored as f16/);
    const r = openGguf(res.file);
    try {
      assert.equal(ggufGet(r, 'general.file_type'), 7);
      assert.equal(ggufGet(r, 'general.quantization_version'), 2);
      assert.equal(r.info('blk.0.ffn_down.weight').type.name, 'Q8_0'); // rows of intermediate_size 64
      assert.equal(r.info('blk.0.ffn_up.weight').type.name, 'F16'); // rows of hidden_size 24
    } finally {
      r.close();
    }
  });
});

describe('tokenizer fields of real tokenizers, and back', () => {
  async function roundTrip(tok: Tokenizer, name: string): Promise<{ meta: Map<string, unknown>; back: Tokenizer }> {
    const v = vocabToGguf(JSON.parse(tokenizerJsonString(tok)), tok, { vocabSize: tok.vocabSize });
    const meta = new Map<string, unknown>(v.metadata.map(([k, x]) => [k, x.value]));
    const imported = vocabFromGguf((k) => meta.get(k), `${name}.gguf`);
    const dir = path.join(root, `tok-${name}`);
    await rm(dir, { recursive: true, force: true });
    await mkdir(dir, { recursive: true });
    await writeFile(path.join(dir, 'tokenizer.json'), JSON.stringify(imported.tokenizerJson));
    await writeFile(path.join(dir, 'tokenizer_config.json'), JSON.stringify(imported.tokenizerConfig));
    return { meta, back: await loadTokenizer(dir) };
  }

  const cases = [
    ['llama3', 'gpt2', 'llama-bpe'],
    ['qwen3', 'gpt2', 'qwen2'],
    ['llama2', 'llama', undefined],
  ] as const;
  for (const [name, kind, pre] of cases) {
    it(`${name}: tokenizer.ggml.model ${kind}${pre ? `, pre ${pre}` : ''}; the imported tokenizer.json encodes hard text to the same ids`, async () => {
      const tok = await loadTokenizer(REAL_TOKENIZERS[name]);
      const { meta, back } = await roundTrip(tok, name);
      assert.equal(meta.get('tokenizer.ggml.model'), kind);
      assert.equal(meta.get('tokenizer.ggml.pre'), pre);
      if (kind === 'llama') {
        const types = meta.get('tokenizer.ggml.token_type') as number[];
        assert.equal(types.filter((t) => t === TOKEN_TYPE.byte).length, 256);
        assert.equal(meta.get('tokenizer.ggml.add_space_prefix'), true);
      }
      for (const text of [...HARD_TEXTS, 'Hello world, this is a test of the tokenizer.']) {
        for (const addSpecialTokens of [false, true]) {
          assert.deepEqual(back.encode(text, { addSpecialTokens }), tok.encode(text, { addSpecialTokens }), `${JSON.stringify(text.slice(0, 40))} (add_special_tokens ${addSpecialTokens})`);
        }
      }
      assert.equal(back.decode(tok.encode('Hello, world! 123')), 'Hello, world! 123');
    });
  }

  it('refuses a byte-level pre-tokenizer llama.cpp has no name for', () => {
    const tok = tiny.lm.tokenizer;
    const json = JSON.parse(tokenizerJsonString(tok));
    json.pre_tokenizer = { type: 'Sequence', pretokenizers: [{ type: 'Split', pattern: { Regex: '\\s+' }, behavior: 'Isolated', invert: false }, { type: 'ByteLevel', add_prefix_space: false, use_regex: false }] };
    assert.throws(() => vocabToGguf(json, tok, { vocabSize: tok.vocabSize }), /matches none of the byte-level pre-tokenizers .*cannot be exported/);
  });
});

describe('GGUF import', () => {
  const cases: [string, () => Promise<LoadedModel | LoadedLlama>][] = [
    ['GPT-2', async () => tiny.lm],
    ['Llama (SmolLM2 flags, rope rows restored)', () => tinyLlama('llama-smollm2')],
    ['Llama 3.2 (rope_freqs → llama3 rope_scaling)', () => tinyLlama('llama-llama32')],
    ['Llama with linear rope scaling and biases', () => tinyLlama('llama-linear')],
    ['Qwen2.5', () => tinyLlama('llama-qwen25')],
    ['Qwen3', () => tinyLlama('llama-qwen3')],
  ];
  for (const [name, make] of cases) {
    it(`${name}: export f32 → import gives a folder with the same logits, bit for bit, and the same tokens`, async () => {
      const lm = await make();
      const slug = name.split(' ')[0]!.replace(/\W/g, '') + Math.random().toString(36).slice(2, 6);
      const file = path.join(root, `${slug}.gguf`);
      await exportGguf(lm, { type: 'f32', out: file, modelfile: false });
      const res = await importGguf(file, path.join(root, `${slug}-imported`));
      const back = await loadLanguageModel(res.dir);
      assert.equal(back.model.constructor, lm.model.constructor);
      assert.deepEqual(Array.from(logits(back, IDS)), Array.from(logits(lm, IDS)));
      const text = 'the army, the navy; 120 days.';
      assert.deepEqual(back.tokenizer.encode(text, { addSpecialTokens: true }), lm.tokenizer.encode(text, { addSpecialTokens: true }));
    });
  }

  it('f16 and bf16 files import as F16/BF16 safetensors with exactly the stored values', async () => {
    for (const type of ['f16', 'bf16'] as const) {
      const file = path.join(root, `gpt-${type}.gguf`);
      await exportGguf(tiny.lm, { type, out: file, modelfile: false });
      const res = await importGguf(file, path.join(root, `gpt-${type}-imported`));
      const st = openSafetensors(path.join(res.dir, 'model.safetensors'));
      const r = openGguf(file);
      try {
        assert.equal(st.info('wte.weight').dtype, type.toUpperCase());
        assert.equal(st.info('wpe.weight').dtype, 'F32');
        assert.deepEqual(Array.from(st.readF32('wte.weight')), Array.from(r.readF32('token_embd.weight')));
      } finally {
        st.close();
        r.close();
      }
    }
  });

  it('q4_0: blocks assembled from the definition (f16 d, nibbles − 8) import to exactly those values', async () => {
    const f32File = path.join(root, 'gpt-for-q4.gguf');
    await exportGguf(tiny.lm, { type: 'f32', out: f32File, modelfile: false });
    const src = openGguf(f32File);
    const expected = new Map<string, Float32Array>();
    let seed = 7;
    const rand = (): number => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    const tensors: GgufTensorToWrite[] = src.tensors.map((t) => {
      const isMatrix = t.shape.length === 2 && t.name !== 'position_embd.weight';
      if (!isMatrix) return { name: t.name, shape: t.shape, type: t.type.name, data: () => src.readBytes(t.name) };
      const blocks = t.numel / 32;
      const bytes = new Uint8Array(blocks * 18);
      const values = new Float32Array(t.numel);
      for (let b = 0; b < blocks; b++) {
        const dBits = f32ToF16Bits(0.001 + 0.01 * rand());
        const d = f16BitsToF32(dBits);
        bytes[b * 18] = dBits & 0xff;
        bytes[b * 18 + 1] = dBits >> 8;
        for (let j = 0; j < 16; j++) {
          const lo = Math.floor(rand() * 16);
          const hi = Math.floor(rand() * 16);
          bytes[b * 18 + 2 + j] = lo | (hi << 4);
          values[b * 32 + j] = (lo - 8) * d;
          values[b * 32 + 16 + j] = (hi - 8) * d;
        }
      }
      expected.set(t.name, values);
      return { name: t.name, shape: t.shape, type: 'Q4_0', data: () => bytes };
    });
    const q4File = path.join(root, 'gpt-q4_0.gguf');
    await writeGguf(q4File, [...src.metadata].map(([k, v]) => [k, k === 'general.file_type' ? { type: 'u32', value: 2 } : v] as const), tensors);
    src.close();
    const res = await importGguf(q4File, path.join(root, 'gpt-q4-imported'));
    assert.deepEqual(res.sourceTypes, { Q4_0: 9, F32: 19 });
    const back = (await loadLanguageModel(res.dir)) as LoadedModel;
    const p = back.model.stateDict();
    assert.deepEqual(Array.from(p.get('wte.weight')!.toArray()), Array.from(expected.get('token_embd.weight')!));
    // c_attn is stored (in, out): element (i, o) is the GGUF row o, column i.
    const C = back.model.config.nEmbd;
    const qkv = expected.get('blk.1.attn_qkv.weight')!;
    const cAttn = p.get('h.1.attn.c_attn.weight')!.toArray();
    for (const [i, o] of [[0, 0], [3, 100], [63, 191]] as const) assert.equal(cAttn[i * 3 * C + o], qkv[o * C + i]);
    const st = openSafetensors(path.join(res.dir, 'model.safetensors'));
    assert.equal(st.info('wte.weight').dtype, 'F32', 'dequantized values are stored as float32');
    st.close();
  });

  it('names what it cannot import', async () => {
    const file = path.join(root, 'gpt-for-bad.gguf');
    await exportGguf(tiny.lm, { type: 'f32', out: file, modelfile: false });
    const src: GgufReader = openGguf(file);
    const meta = [...src.metadata].map(([k, v]) => [k, k === 'general.architecture' ? { type: 'string', value: 'falcon' } : v] as const);
    const bad = path.join(root, 'falcon.gguf');
    await writeGguf(bad, meta as never, src.tensors.map((t) => ({ name: t.name, shape: t.shape, type: t.type.name, data: () => src.readBytes(t.name) })));
    const extra = path.join(root, 'extra.gguf');
    await writeGguf(extra, [...src.metadata], [...src.tensors.map((t) => ({ name: t.name, shape: t.shape, type: t.type.name, data: () => src.readBytes(t.name) })), { name: 'cls.weight', shape: [4], type: 'F32', data: () => new Uint8Array(16) }]);
    src.close();
    await assert.rejects(importGguf(bad, path.join(root, 'x1')), /is a "falcon" model; genlab imports the gpt2, llama \(Llama, Mistral\), qwen2 and qwen3 architectures/);
    await assert.rejects(importGguf(extra, path.join(root, 'x2')), /has tensors genlab's gpt2 model has no place for: cls\.weight/);
  });
});

describe('genlab export / genlab import on the command line', () => {
  it('export writes <folder>/<name>-<type>.gguf and a Modelfile by default; import makes a folder genlab runs', async () => {
    const { buildCli } = await import('../cli/main.ts');
    const { saveModel } = await import('../io/model-folder.ts');
    const dir = path.join(root, 'cli-model');
    await saveModel(dir, tiny.lm);
    await buildCli().parseAsync(['node', 'genlab', 'export', '--model', dir, '--type', 'q8_0']);
    const file = path.join(dir, 'cli-model-q8_0.gguf');
    const r = openGguf(file);
    assert.equal(ggufGet(r, 'general.name'), 'cli-model');
    r.close();
    assert.match(await readFile(path.join(dir, 'Modelfile'), 'utf8'), /^FROM \.\/cli-model-q8_0\.gguf\n/);
    const out = path.join(root, 'cli-imported');
    await buildCli().parseAsync(['node', 'genlab', 'import', file, '--out', out]);
    const back = await loadLanguageModel(out);
    assert.deepEqual(back.tokenizer.encode('Fellow citizens'), tiny.lm.tokenizer.encode('Fellow citizens'));
    // q8_0 weights: the imported model is the quantized one, close to but not the original.
    const a = logits(back, [1, 2, 3]);
    const b = logits(tiny.lm, [1, 2, 3]);
    const maxDiff = a.reduce((m, x, i) => Math.max(m, Math.abs(x - b[i]!)), 0);
    assert.ok(maxDiff > 0 && maxDiff < 1e-2, `logit difference after q8_0 ${maxDiff}`);
  });

  it('errors name the bad input and the fix', async () => {
    const { exportCommand, importCommand } = await import('./commands.ts');
    await assert.rejects(exportCommand({ model: tiny.dir, format: 'gguf', type: 'q4_0' }), /--type q4_0 is not supported; use one of f32, f16, bf16, q8_0/);
    await assert.rejects(exportCommand({ model: tiny.dir, format: 'onnx', type: 'f16' }), /--format onnx is not supported; genlab exports --format gguf/);
    await assert.rejects(exportCommand({ model: tiny.dir, format: 'gguf', type: 'f16', out: path.join(root, 'x.bin') }), /should name a \.gguf file .*--out .*x\.bin\.gguf/);
    await assert.rejects(exportCommand({ model: path.join(root, 'nope'), format: 'gguf', type: 'f16' }), /model folder .*nope does not exist/);
    await assert.rejects(importCommand({ file: path.join(root, 'missing.gguf'), out: path.join(root, 'y') }), /missing\.gguf does not exist; pass a \.gguf model file/);
    await assert.rejects(importCommand({ file: path.join(root, 'gpt-f16.gguf'), out: tiny.dir }), /already holds a model \(config\.json\); choose a new folder/);
  });
});
