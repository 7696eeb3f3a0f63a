// DPO: the loss and its derivatives, exact gradients through the model, the reference computed
// once, and the guards against the failure modes preference training is known for (loss stuck at
// log 2, NaN rewards, chosen log-probabilities collapsing).

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Device } from '../backend/device.ts';
import { createDevice } from '../backend/registry.ts';
import { defaultGptConfig, Gpt } from '../models/gpt.ts';
import { attachAdapter, freezeBase, LoraAdapter } from '../nn/lora.ts';
import { dpoLoss, referenceLogprobs, trainDpo, type ReferencedPair } from './dpo.ts';
import { backwardThroughScalars, batchLogprobs, batchLogprobsNoGrad, logSigmoid, rowLogprobs } from './logprobs.ts';
import { runPairLoop } from './pair-loop.ts';
import { pairBatch, type TokenizedPair } from './preferences.ts';
import { empty } from '../tensor/tensor.ts';

const lora = { r: 4, alpha: 8, dropout: 0, targetModules: ['c_attn', 'c_proj', 'c_fc'], rsLora: false };

/** Pairs over a 20-token vocabulary where chosen completions use even ids and rejected odd ones. */
function syntheticPairs(n: number): TokenizedPair[] {
  return Array.from({ length: n }, (_, i) => ({
    prompt: [1 + (i % 5), 3],
    chosen: [2 * (i % 4) + 2, 2 * ((i + 1) % 4) + 2, 4],
    rejected: [2 * (i % 4) + 3, 2 * ((i + 2) % 4) + 3],
    source: `pair ${i}`,
  }));
}

describe('DPO', () => {
  let dev: Device;
  let refDev: Device;
  before(async () => {
    dev = await createDevice({ backend: 'wasm', threads: 2 });
    refDev = await createDevice({ backend: 'ref' });
  });
  after(async () => {
    await dev.close();
    await refDev.close();
  });
  const model = (d: Device = dev, seed = 3) => new Gpt(defaultGptConfig({ vocabSize: 20, nPositions: 16, nEmbd: 16, nLayer: 1, nHead: 2, embdPdrop: 0, residPdrop: 0, attnPdrop: 0 }), { device: d, seed });

  it('loss is log 2 when the policy is the reference; derivatives match finite differences', () => {
    const same = dpoLoss({ chosen: [-3, -7], rejected: [-2, -9] }, { chosen: [-3, -7], rejected: [-2, -9] }, { beta: 0.1 });
    assert.ok(Math.abs(same.loss - Math.LN2) < 1e-12);
    assert.deepEqual([...same.gradChosen], [-0.025, -0.025]); // −β·σ(0)/B
    assert.equal(same.metrics['rewards/accuracies'], 0);
    const policy = { chosen: [-3.1, -6.2, -40], rejected: [-2.5, -9.1, -1] };
    const ref = { chosen: [-3, -7, -5], rejected: [-2, -9, -30] };
    const o = { beta: 0.5, labelSmoothing: 0.1, sftWeight: 0.3, chosenTokens: [2, 3, 4] };
    const r = dpoLoss(policy, ref, o);
    for (const side of ['chosen', 'rejected'] as const) {
      for (let i = 0; i < 3; i++) {
        const at = (d: number): number => {
          const p = { chosen: [...policy.chosen], rejected: [...policy.rejected] };
          p[side][i]! += d;
          return dpoLoss(p, ref, o).loss;
        };
        const numeric = (at(1e-6) - at(-1e-6)) / 2e-6;
        const analytic = (side === 'chosen' ? r.gradChosen : r.gradRejected)[i]!;
        assert.ok(Math.abs(numeric - analytic) < 1e-7, `${side} ${i}: ${analytic} vs ${numeric}`);
      }
    }
    // Huge margins stay finite (log-sigmoid is evaluated stably).
    const far = dpoLoss({ chosen: [0], rejected: [-1e6] }, { chosen: [0], rejected: [0] }, { beta: 1 });
    assert.ok(Number.isFinite(far.loss) && far.loss >= 0 && far.loss < 1e-12);
    assert.equal(logSigmoid(-800), -800);
  });

  it('gradients through the model equal finite differences of the loss', () => {
    // Float64 finite differences of a float32 model on the reference backend.
    const m = model(refDev);
    const pairs = syntheticPairs(2);
    const pb = pairBatch(pairs, 0);
    const ref = { chosen: [-5.1, -6.3], rejected: [-7.2, -2.9] };
    const o = { beta: 0.5, sftWeight: 0.3, chosenTokens: pairs.map((p) => p.chosen.length) };
    const lossOf = (): number => {
      const v = batchLogprobsNoGrad(m, pb);
      return dpoLoss({ chosen: v.subarray(0, 2), rejected: v.subarray(2) }, ref, o).loss;
    };
    for (const p of m.parameters()) p.grad = null;
    refDev.scope(() => {
      const lp = batchLogprobs(m, pb);
      const r = dpoLoss({ chosen: lp.values.subarray(0, 2), rejected: lp.values.subarray(2) }, ref, o);
      backwardThroughScalars(lp.tensors, [...r.gradChosen, ...r.gradRejected]);
    });
    let checked = 0;
    for (const [name, p] of m.namedParameters()) {
      const g = p.grad!.toArray();
      const v = p.toArray();
      for (const i of [0, Math.floor(v.length / 2), v.length - 1]) {
        const x = v[i]!;
        v[i] = x + 1e-2;
        p.set(v);
        const up = lossOf();
        v[i] = x - 1e-2;
        p.set(v);
        const down = lossOf();
        v[i] = x;
        p.set(v);
        const numeric = (up - down) / 2e-2;
        assert.ok(Math.abs(numeric - g[i]!) <= 2e-3 + 2e-2 * Math.abs(numeric), `${name}[${i}]: analytic ${g[i]} vs numeric ${numeric}`);
        checked++;
      }
    }
    assert.ok(checked > 20);
  });

  it('sequence log-probabilities sum the completion tokens only', () => {
    const m = model();
    const pairs = syntheticPairs(3);
    const v = batchLogprobsNoGrad(m, pairBatch(pairs, 0));
    // Independently: score each full sequence and add up the completion positions.
    pairs.forEach((p, i) => {
      for (const [k, completion] of [[i, p.chosen], [3 + i, p.rejected]] as const) {
        const seq = [...p.prompt, ...completion];
        const logits = dev.scope(() => m.logits(empty(dev, [1, seq.length], 'int32').set(seq)).toArray());
        let sum = 0;
        for (let t = p.prompt.length; t < seq.length; t++) {
          const row = Array.from(logits.subarray((t - 1) * 20, t * 20));
          const mx = Math.max(...row);
          const lse = mx + Math.log(row.reduce((s, x) => s + Math.exp(x - mx), 0));
          sum += row[seq[t]!]! - lse;
        }
        assert.ok(Math.abs(v[k]! - sum) < 1e-4, `row ${k}: ${v[k]} vs ${sum}`);
      }
    });
    assert.throws(() => dev.scope(() => rowLogprobs(empty(dev, [1, 2, 20]), empty(dev, [1, 2], 'int32').set([-100, -100]), [0])), /no completion tokens/);
  });

  it('with LoRA: the reference is the base (adapter detached), the first step sits at log 2, then margins grow', async () => {
    const m = model();
    freezeBase(m);
    const adapter = LoraAdapter.create(m, lora, { seed: 1 });
    attachAdapter(m, adapter);
    // A non-zero adapter must not leak into the reference.
    for (const mod of adapter.modules.values()) mod.b.set(Array.from({ length: mod.b.size }, (_, i) => 0.05 * Math.sin(i)));
    const pairs = syntheticPairs(12);
    const refs = referenceLogprobs(m, pairs, { adapter, pad: 0 });
    attachAdapter(m, null);
    const base = batchLogprobsNoGrad(m, pairBatch(pairs, 0));
    attachAdapter(m, adapter);
    refs.forEach((r, i) => assert.equal(r.refChosen, base[i]));
    for (const mod of adapter.modules.values()) mod.b.set(new Float32Array(mod.b.size));

    const steps: { loss: number; margin: number; acc: number }[] = [];
    const res = await trainDpo({ model: m, adapter, train: refs, steps: 30, batchSize: 6, lr: 1e-2, beta: 0.5, seed: 1, pad: 0, logFile: null, onStep: (s) => steps.push({ loss: s.loss, margin: Number(s['rewards/margins']), acc: Number(s['rewards/accuracies']) }) });
    assert.equal(res.steps, 30);
    assert.ok(Math.abs(steps[0]!.loss - Math.LN2) < 1e-5, `step 1 loss ${steps[0]!.loss} should be log 2 (policy = reference)`);
    assert.ok(steps.at(-1)!.loss < 0.6 && steps.at(-1)!.margin > 0.2 && steps.at(-1)!.acc === 1, JSON.stringify(steps.at(-1)));
    // The base weights did not move; only the adapter did.
    attachAdapter(m, null);
    assert.deepEqual(batchLogprobsNoGrad(m, pairBatch(pairs, 0)), base);
  });

  it('full fine-tuning needs no second copy: the reference is taken before the first update', async () => {
    const m = model(dev, 4);
    const pairs = syntheticPairs(8);
    const refs = referenceLogprobs(m, pairs, { adapter: null, pad: 0 });
    const first: number[] = [];
    await trainDpo({ model: m, adapter: null, train: refs, steps: 20, batchSize: 8, lr: 3e-3, beta: 0.1, seed: 2, pad: 0, logFile: null, onStep: (s) => first.push(s.loss) });
    assert.ok(Math.abs(first[0]! - Math.LN2) < 1e-5);
    assert.ok(first.at(-1)! < first[0]! - 0.05, `loss ${first[0]} → ${first.at(-1)}`);
  });

  it('stops when the loss is stuck at log 2 (nothing moves the policy)', async () => {
    const m = model();
    freezeBase(m);
    const adapter = LoraAdapter.create(m, lora, { seed: 1 });
    attachAdapter(m, adapter);
    const refs: ReferencedPair[] = referenceLogprobs(m, syntheticPairs(8), { adapter, pad: 0 });
    await assert.rejects(trainDpo({ model: m, adapter, train: refs, steps: 40, batchSize: 4, lr: 0, beta: 0.1, seed: 1, pad: 0, logFile: null }), /has not moved from the reference after 6 steps.*0\.6931/);
    // An adapter that is not attached gets no gradient at all.
    const detached = LoraAdapter.create(m, lora, { seed: 2 });
    await assert.rejects(
      runPairLoop({ model: m, parameters: detached.parameters(), train: refs, steps: 40, batchSize: 4, lr: 1e-2, seed: 1, logFile: null, step: (batch) => {
        attachAdapter(m, adapter);
        const pb = pairBatch(batch, 0);
        return dev.scope(() => {
          const lp = batchLogprobs(m, pb);
          const r = dpoLoss({ chosen: lp.values.subarray(0, batch.length), rejected: lp.values.subarray(batch.length) }, { chosen: batch.map((p) => p.refChosen), rejected: batch.map((p) => p.refRejected) }, { beta: 0.1 });
          backwardThroughScalars(lp.tensors, [...r.gradChosen, ...r.gradRejected]);
          return { loss: r.loss, metrics: {} };
        });
      } }),
      /gradient was exactly zero for 3 steps/,
    );
  });

  it('skips non-finite steps (NaN rewards) and stops when they persist', async () => {
    const m = model();
    const p = LoraAdapter.create(m, lora, { seed: 1 }).parameters();
    const events: string[] = [];
    let calls = 0;
    const before = p.map((t) => t.toArray());
    const res = await runPairLoop({
      model: m, parameters: p, train: [1, 2, 3], steps: 6, batchSize: 2, lr: 1e-2, seed: 1, logFile: null,
      step: () => {
        calls++;
        for (const t of p) t.grad!.set(new Float32Array(t.size).fill(calls === 2 ? NaN : 0.01));
        return { loss: calls === 2 ? NaN : 0.5, metrics: { 'rewards/chosen': calls === 3 ? NaN : 0 } };
      },
      onEvent: (e) => events.push(`${e.step}:${e.kind}`),
    });
    assert.deepEqual(events, ['2:non-finite', '3:non-finite']);
    assert.equal(res.skipped, 2);
    assert.ok(p.every((t) => t.toArray().every(Number.isFinite)), 'no NaN reached the weights');
    assert.notDeepEqual(p.map((t) => t.toArray()), before, 'the finite steps did update');
    await assert.rejects(
      runPairLoop({ model: m, parameters: p, train: [1], steps: 20, batchSize: 1, lr: 1e-2, seed: 1, logFile: null, step: () => ({ loss: NaN, metrics: {} }) }),
      /5 steps in a row gave a non-finite loss.*NaN rewards/,
    );
  });
});
