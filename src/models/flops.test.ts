import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { forwardFlopsPerToken, loraTrainingFlops, trainingFlops, trainStepFlops } from './flops.ts';
import { defaultGptConfig } from './gpt.ts';
import { defaultLlamaConfig } from './llama.ts';

/**
 * Counts a forward pass over one sequence of T tokens matmul by matmul, the way the model runs it:
 * per layer the QKV projection (T×C)·(C×3C), the causal scores and weighted sums per query, the
 * output projection, the two MLP matmuls; then the LM head. A (m×k)·(k×n) product costs 2·m·n·k.
 */
function handCount(c: { nEmbd: number; nLayer: number; nInner: number | null; vocabSize: number }, T: number): number {
  const C = c.nEmbd;
  const H = c.nInner ?? 4 * C;
  const mm = (m: number, k: number, n: number): number => 2 * m * k * n;
  let total = 0;
  for (let l = 0; l < c.nLayer; l++) {
    total += mm(T, C, 3 * C); // c_attn
    for (let t = 0; t < T; t++) {
      // Query t attends to keys 0..t: q·Kᵀ over all heads (head widths sum to C), then weights·V.
      total += mm(1, C, t + 1) + mm(1, t + 1, C);
    }
    total += mm(T, C, C); // c_proj
    total += mm(T, C, H) + mm(T, H, C); // mlp.c_fc, mlp.c_proj
  }
  total += mm(T, C, c.vocabSize); // lm_head (tied to wte)
  return total;
}

describe('FLOP counter', () => {
  it('equals a hand count for a 1-layer toy model: 496 forward FLOP per token', () => {
    const c = defaultGptConfig({ vocabSize: 10, nPositions: 8, nEmbd: 4, nLayer: 1, nHead: 2 });
    // By hand: c_attn 2·4·12 = 96, c_proj 2·4·4 = 32, MLP 2·4·16·2 = 256, attention 4·4·(T+1)/2 = 32
    // at T = 3, head 2·4·10 = 80: 496 per token; training = 3 × 496 × 6 tokens = 8928.
    assert.equal(forwardFlopsPerToken(c, 3), 496);
    assert.equal(handCount(c, 3) / 3, 496);
    assert.equal(trainingFlops(c, 6, 3), 8928);
  });

  it('equals the matmul-by-matmul count for wider, deeper shapes and an explicit n_inner', () => {
    for (const [cfg, T] of [
      [defaultGptConfig({ vocabSize: 512, nPositions: 64, nEmbd: 64, nLayer: 2, nHead: 2 }), 64],
      [defaultGptConfig({ vocabSize: 2048, nPositions: 128, nEmbd: 192, nLayer: 4, nHead: 4, nInner: 500 }), 100],
      [defaultGptConfig({ vocabSize: 50257, nPositions: 1024, nEmbd: 768, nLayer: 12, nHead: 12 }), 1024],
    ] as const) {
      const expected = handCount(cfg, T) / T;
      assert.ok(Math.abs(forwardFlopsPerToken(cfg, T) - expected) <= 1e-9 * expected, `${cfg.nLayer}×${cfg.nEmbd}: ${forwardFlopsPerToken(cfg, T)} vs ${expected}`);
    }
  });

  it('GPT-2 small at 1024 tokens: about 2N + 2·n_layer·n_ctx·d (Kaplan et al.) plus the LM head', () => {
    const c = defaultGptConfig({ vocabSize: 50257, nPositions: 1024, nEmbd: 768, nLayer: 12, nHead: 12 });
    const nonEmbedding = 12 * 12 * 768 * 768; // 12 layers × 12·d² weights
    const head = 2 * 768 * 50257;
    // Kaplan's attention term counts QKᵀ over the full context; genlab counts QKᵀ and the weighted
    // sum of V (twice the work) over the causal average (half the keys), the same total at n_ctx + 1.
    const kaplan = 2 * nonEmbedding + 2 * 12 * 1025 * 768;
    assert.equal(forwardFlopsPerToken(c, 1024), kaplan + head);
    assert.ok(Math.abs(forwardFlopsPerToken(c, 1024) / 2.66e8 - 1) < 0.01, 'about 266 MFLOP per token');
  });

  it('Llama family: q/o over H·D, k/v over the kv heads (GQA), three SwiGLU matmuls, attention over H·D', () => {
    const c = defaultLlamaConfig({ vocabSize: 10, hiddenSize: 4, intermediateSize: 6, numHiddenLayers: 1, numAttentionHeads: 2, numKeyValueHeads: 1, headDim: 2 });
    // By hand at T = 3: q 2·4·4 = 32, k 2·4·2 = 16, v 16, o 32; gate, up, down 3 · 2·4·6 = 144;
    // attention over H·D = 4: 4·4·(T+1)/2 = 32; head 2·4·10 = 80. 352 per token.
    assert.equal(forwardFlopsPerToken(c, 3), 352);
    assert.equal(trainingFlops(c, 6, 3), 3 * 352 * 6);
    // LoRA: weights 2·(96 + 144 + 80), attention 3·32, an adapter of 40 parameters 3·2·40.
    assert.equal(loraTrainingFlops(c, 6, 3, 40), 6 * (2 * 320 + 3 * 32 + 240));
    // Qwen3-style head_dim wider than hidden_size / H: q/o and attention follow H·D = 8, two layers.
    const wide = { ...c, headDim: 4, numHiddenLayers: 2 };
    // q 2·4·8 = 64, k 32, v 32, o 64, MLP 144, attention 4·8·2 = 64 per layer; head 80.
    assert.equal(forwardFlopsPerToken(wide, 3), 2 * (192 + 144 + 64) + 80);
    assert.equal(forwardFlopsPerToken(wide, 3, { head: false }), 2 * (192 + 144 + 64));
    // A sliding window of 2 on layer 1 only (Qwen2's max_window_layers 1) at T = 5: layer 0 sees
    // (5+1)/2 = 3 keys on average, layer 1 (1 + 2·4)/5 = 1.8; attention 4·8·(3 + 1.8) in all.
    const windowed = { ...wide, slidingWindow: 2, maxWindowLayers: 1 };
    assert.equal(forwardFlopsPerToken(windowed, 5, { head: false }), 2 * 336 + 4 * 8 * (3 + 1.8));
    // Up to the window's length it changes nothing.
    assert.equal(forwardFlopsPerToken({ ...windowed, slidingWindow: 3 }, 3), forwardFlopsPerToken(wide, 3));
  });

  it('LoRA: frozen matmuls 2× forward, attention 3×, adapter 3× its 2 FLOPs per parameter; no LM head for a reward backbone', () => {
    const c = defaultGptConfig({ vocabSize: 10, nPositions: 8, nEmbd: 4, nLayer: 1, nHead: 2 });
    // The toy model of the first test at T = 3: 464 FLOP of weight matmuls and 32 of attention per
    // token. An adapter of 40 parameters: per token 2·464 + 3·32 + 3·2·40 = 1264.
    assert.equal(loraTrainingFlops(c, 6, 3, 40), 6 * 1264);
    assert.equal(trainStepFlops(c, 2, 3, 40), 6 * 1264);
    assert.equal(trainStepFlops(c, 2, 3, null), trainingFlops(c, 6, 3));
    assert.equal(forwardFlopsPerToken(c, 3, { head: false }), 496 - 80);
  });
});
