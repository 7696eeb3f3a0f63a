import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Rng } from '../backend/rng.ts';
import { CalibrationAccumulator, calibrationError, reliabilityChart } from './calibration.ts';

function softmax(logits: number[]): number[] {
  const m = Math.max(...logits);
  const e = logits.map((l) => Math.exp(l - m));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((x) => x / s);
}

function draw(p: number[], u: number): number {
  for (let i = 0; i < p.length; i++) {
    u -= p[i]!;
    if (u < 0) return i;
  }
  return p.length - 1;
}

describe('calibration', () => {
  it('ECE and MCE of hand-made bins', () => {
    const bins = [
      { lo: 0, hi: 0.5, count: 30, confidence: 0.3, accuracy: 0.2 },
      { lo: 0.5, hi: 1, count: 10, confidence: 0.9, accuracy: 0.5 },
      { lo: 0, hi: 0, count: 0, confidence: 0, accuracy: 0 },
    ];
    const { ece, mce } = calibrationError(bins);
    assert.ok(Math.abs(ece - (0.75 * 0.1 + 0.25 * 0.4)) < 1e-12);
    assert.ok(Math.abs(mce - 0.4) < 1e-12);
  });

  it('targets drawn from the predicted distribution give an ECE near 0; loss and accuracy match a direct count', () => {
    const rng = new Rng(7);
    const acc = new CalibrationAccumulator(10, 3);
    let nats = 0;
    let right = 0;
    const rows = 20000;
    for (let r = 0; r < rows; r++) {
      const logits = Array.from({ length: 7 }, () => 3 * rng.normal());
      const p = softmax(logits);
      const y = draw(p, rng.uniform());
      acc.add(Float32Array.from(logits), y);
      nats -= Math.log(p[y]!);
      if (p.indexOf(Math.max(...p)) === y) right++;
    }
    const res = acc.result({ bytes: 1000, documents: 1 });
    assert.equal(res.tokens, rows);
    assert.ok(Math.abs(res.loss - nats / rows) < 1e-5, `loss ${res.loss} vs ${nats / rows}`);
    assert.ok(Math.abs(res.top1Accuracy - right / rows) < 1e-12);
    assert.ok(res.ece < 0.02, `ECE ${res.ece}`);
    assert.ok(res.topK.ece < 0.02, `top-3 ECE ${res.topK.ece}`);
    assert.equal(res.bins.reduce((a, b) => a + b.count, 0), rows);
    assert.equal(res.topK.bins.reduce((a, b) => a + b.count, 0), 3 * rows);
    assert.ok(res.meanEntropy > 0 && res.meanEntropy < Math.log(7));
  });

  it('an overconfident model is caught: always right about a wrong guess', () => {
    const acc = new CalibrationAccumulator(15, 2);
    // The model puts 0.9 on token 0; the truth is token 0 half of the time.
    const logits = Float32Array.from([Math.log(0.9), Math.log(0.05), Math.log(0.05)]);
    for (let i = 0; i < 1000; i++) acc.add(logits, i % 2 === 0 ? 0 : 1);
    const res = acc.result({ bytes: 0, documents: 0 });
    assert.ok(Math.abs(res.ece - 0.4) < 1e-6, `ECE ${res.ece}`);
    assert.ok(Math.abs(res.meanConfidence - 0.9) < 1e-6);
    assert.ok(Number.isNaN(res.bitsPerByte));
    const chart = reliabilityChart(res, 'test');
    assert.equal((chart.series as unknown[]).length, 4);
  });

  it('rejects a bad bin count', () => {
    assert.throws(() => new CalibrationAccumulator(1), /bins must be an integer from 2 to 100/);
  });
});
