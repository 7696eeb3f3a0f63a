// `bench generate --peer llama.cpp` end to end on tiny shapes (a few tokens; no timing asserted):
// both engines report tokens/s for every pair, fp32 greedy ids agree id for id, and the int8 row
// says what genlab's device says about int8.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createDevice, defaultBackend } from '../backend/registry.ts';
import { buildCli } from '../cli/main.ts';
import { bestOfEach, benchDecodePrompt, benchGenerateVsLlamaCpp, genlabPrecisionUnavailable, type LlamaCppBenchRow } from './llama-cpp-peer.ts';
import { benchDecode, type BenchConfig } from './train.ts';

const tinyGpt: BenchConfig = { name: 'tiny-gpt', vocabSize: 512, nPositions: 128, nEmbd: 64, nLayer: 2, nHead: 4, batch: 1, seqLen: 8, steps: 8 };
const tinyLlama: BenchConfig = {
  name: 'tiny-llama', vocabSize: 512, nPositions: 128, nEmbd: 64, nLayer: 2, nHead: 4, batch: 1, seqLen: 8, steps: 8,
  llama: { intermediateSize: 128, numKeyValueHeads: 2, ropeTheta: 10000 },
};

describe('bench generate --peer llama.cpp', () => {
  it("benchDecodePrompt is the prompt benchDecode's timed run decodes", async () => {
    const dev = await createDevice({ backend: await defaultBackend(), threads: 1 });
    try {
      const r = benchDecode(dev, tinyGpt);
      assert.deepEqual(r.prompt, benchDecodePrompt(tinyGpt));
      assert.equal(r.ids.length, tinyGpt.steps + 1);
    } finally {
      await dev.close();
    }
  });

  it('tiny GPT-2 and Llama shapes: both engines decode every pair; fp32 greedy ids are identical', async (t) => {
    const lines: string[] = [];
    const rows = await benchGenerateVsLlamaCpp({ json: false, threads: [1], benchConfigs: [tinyGpt, tinyLlama], print: (l) => lines.push(l) });
    for (const l of lines) t.diagnostic(l);
    const backend = await defaultBackend();
    const int8Missing = await genlabPrecisionUnavailable(backend, 'int8');
    const pairs = (c: string): string[] => rows.filter((r) => r.config === c).map((r) => `${r.precision}/${r.llama_cpp_type}`);
    for (const c of [tinyGpt, tinyLlama]) {
      assert.deepEqual(pairs(c.name), ['fp32/f32', 'bf16/f16', 'bf16/bf16', 'int8/q8_0']);
      for (const r of rows.filter((x) => x.config === c.name)) {
        assert.ok(r.peer_tokens_per_s > 0, `${c.name} ${r.llama_cpp_type}: llama.cpp tokens/s`);
        assert.equal(r.tokens, c.steps);
        if (r.precision === 'int8' && int8Missing !== null) {
          assert.equal(r.tokens_per_s, null, 'no genlab int8 number where the device has no int8');
          assert.equal(r.genlab_unavailable, int8Missing);
          assert.ok(lines.some((l) => l.includes('genlab int8 is not available')));
        } else {
          assert.ok(r.tokens_per_s! > 0 && r.ratio === r.tokens_per_s! / r.peer_tokens_per_s, `${c.name} ${r.precision}: genlab tokens/s and ratio`);
        }
      }
      const fp32 = rows.find((r) => r.config === c.name && r.precision === 'fp32')!;
      assert.equal(fp32.ids_equal, true, `${c.name}: fp32 greedy ids differ from token ${fp32.first_divergence}`);
    }
    assert.ok(lines.some((l) => /node-llama-cpp 3\.\d+\.\d+/.test(l)), 'names the node-llama-cpp version');
  });

  it('the command line runs it and prints JSON rows', async () => {
    const out: string[] = [];
    const log = console.log;
    console.log = (...a: unknown[]) => void out.push(a.join(' '));
    try {
      await buildCli().parseAsync(['node', 'genlab', 'bench', 'generate', '--peer', 'llama.cpp', '--configs', 'b', '--threads', '1', '--precision', 'fp32', '--json']);
    } finally {
      console.log = log;
    }
    const objs = out.map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.ok(typeof (objs[0]!['llama_cpp'] as Record<string, unknown>)['nodeLlamaCpp'] === 'string');
    const rows = objs.filter((o) => o['bench'] === 'generate') as unknown as LlamaCppBenchRow[];
    assert.equal(rows.length, 1);
    assert.equal(rows[0]!.llama_cpp_type, 'f32');
    assert.ok(rows[0]!.tokens_per_s! > 0 && rows[0]!.peer_tokens_per_s > 0);
    assert.equal(rows[0]!.ids_equal, true);
  });

  it('bestOfEach compares each engine at its own best thread count, per pair', () => {
    const row = (threads: number, ours: number | null, theirs: number): LlamaCppBenchRow => ({
      bench: 'generate', peer: 'llama.cpp', config: 'b', threads, precision: 'bf16', llama_cpp_type: 'f16', kernels: 'native', tokens_per_s: ours, peer_tokens_per_s: theirs,
      ratio: ours === null ? null : ours / theirs, tokens: 8, prompt_tokens: 8, ids_equal: null, first_divergence: null, genlab_load: null, peer_load: 0, gguf_bytes: 1,
    });
    const [best, ...rest] = bestOfEach([row(1, 50, 84), row(2, 82, 49)]);
    assert.equal(rest.length, 0);
    assert.equal(best!.genlab_threads, 2);
    assert.equal(best!.peer_threads, 1);
    assert.equal(best!.ratio, 82 / 84);
    assert.deepEqual(bestOfEach([row(1, null, 84), row(2, null, 49)]), [], 'no best-of-each without a genlab number');
  });
});
