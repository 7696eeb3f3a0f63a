// Is the model's next-token probability a probability? Kingma's case for pretrained models is that
// p(completion | prompt) is well calibrated: of the tokens predicted with confidence 0.7, about 70%
// should be right. The expected calibration error (ECE; Naeini et al. 2015, Guo et al. 2017) bins
// predictions by confidence and averages |accuracy − confidence| weighted by bin size. Two views:
// top-1 (the model's best guess against the actual next token) and top-k (each of the k most likely
// tokens as a separate prediction "this is the next token"), which also tests the probabilities
// the app shows as alternatives.

import { noGrad } from '../autograd/tape.ts';
import type { Document } from '../data/corpus.ts';
import { documentStart, type CausalLm, type LanguageModel } from '../generate/generate.ts';
import { empty } from '../tensor/tensor.ts';
import type { ChartOptions } from '../util/charts.ts';

export interface CalibrationBin {
  lo: number;
  hi: number;
  count: number;
  /** Mean predicted probability in the bin. */
  confidence: number;
  /** Share of those predictions that were right. */
  accuracy: number;
}

export interface CalibrationResult {
  tokens: number;
  bytes: number;
  documents: number;
  /** Mean negative log-likelihood of the actual next token (nats). */
  loss: number;
  perplexity: number;
  bitsPerByte: number;
  top1Accuracy: number;
  meanConfidence: number;
  /** Expected calibration error of the top-1 prediction. */
  ece: number;
  /** Largest |accuracy − confidence| over non-empty bins. */
  mce: number;
  bins: CalibrationBin[];
  /** ECE over the top-k predictions at every position. */
  topK: { k: number; ece: number; bins: CalibrationBin[] };
  /** Mean entropy (nats) of the next-token distribution. */
  meanEntropy: number;
}

class Binner {
  readonly count: Float64Array;
  readonly conf: Float64Array;
  readonly hits: Float64Array;
  constructor(readonly n: number) {
    this.count = new Float64Array(n);
    this.conf = new Float64Array(n);
    this.hits = new Float64Array(n);
  }
  add(p: number, hit: boolean): void {
    const b = Math.min(this.n - 1, Math.floor(p * this.n));
    this.count[b]!++;
    this.conf[b]! += p;
    if (hit) this.hits[b]!++;
  }
  bins(): CalibrationBin[] {
    return Array.from({ length: this.n }, (_, b) => {
      const c = this.count[b]!;
      return { lo: b / this.n, hi: (b + 1) / this.n, count: c, confidence: c > 0 ? this.conf[b]! / c : 0, accuracy: c > 0 ? this.hits[b]! / c : 0 };
    });
  }
}

/** ECE and MCE of a set of bins. */
export function calibrationError(bins: readonly CalibrationBin[]): { ece: number; mce: number } {
  const total = bins.reduce((a, b) => a + b.count, 0);
  let ece = 0;
  let mce = 0;
  for (const b of bins) {
    if (b.count === 0) continue;
    const gap = Math.abs(b.accuracy - b.confidence);
    ece += (b.count / Math.max(1, total)) * gap;
    mce = Math.max(mce, gap);
  }
  return { ece, mce };
}

/** Collects predictions row by row (one row of logits and the token that actually came next). */
export class CalibrationAccumulator {
  private readonly top1: Binner;
  private readonly topk: Binner;
  private readonly ids: Int32Array;
  private readonly ps: Float64Array;
  private nats = 0;
  private entropy = 0;
  private correct = 0;
  private confidence = 0;
  tokens = 0;

  constructor(
    readonly numBins = 15,
    readonly k = 10,
  ) {
    if (!Number.isInteger(numBins) || numBins < 2 || numBins > 100) throw new Error(`bins must be an integer from 2 to 100, got ${numBins}`);
    this.top1 = new Binner(numBins);
    this.topk = new Binner(numBins);
    this.ids = new Int32Array(k);
    this.ps = new Float64Array(k);
  }

  add(logits: ArrayLike<number>, target: number): void {
    const V = logits.length;
    let max = -Infinity;
    for (let i = 0; i < V; i++) if (logits[i]! > max) max = logits[i]!;
    let sum = 0;
    for (let i = 0; i < V; i++) sum += Math.exp(logits[i]! - max);
    const lse = max + Math.log(sum);
    // The k most likely ids by insertion into a small sorted list; entropy in the same pass.
    const k = Math.min(this.k, V);
    let filled = 0;
    let h = 0;
    for (let i = 0; i < V; i++) {
      const lp = logits[i]! - lse;
      const p = Math.exp(lp);
      h -= p * lp;
      if (filled < k || p > this.ps[filled - 1]!) {
        let j = filled < k ? filled++ : k - 1;
        while (j > 0 && this.ps[j - 1]! < p) {
          this.ps[j] = this.ps[j - 1]!;
          this.ids[j] = this.ids[j - 1]!;
          j--;
        }
        this.ps[j] = p;
        this.ids[j] = i;
      }
    }
    const hit = this.ids[0] === target;
    this.top1.add(this.ps[0]!, hit);
    for (let j = 0; j < filled; j++) this.topk.add(this.ps[j]!, this.ids[j] === target);
    this.nats -= logits[target]! - lse;
    this.entropy += h;
    if (hit) this.correct++;
    this.confidence += this.ps[0]!;
    this.tokens++;
  }

  result(o: { bytes: number; documents: number }): CalibrationResult {
    const n = Math.max(1, this.tokens);
    const bins = this.top1.bins();
    const { ece, mce } = calibrationError(bins);
    const topBins = this.topk.bins();
    const loss = this.nats / n;
    return {
      tokens: this.tokens,
      bytes: o.bytes,
      documents: o.documents,
      loss,
      perplexity: Math.exp(loss),
      bitsPerByte: o.bytes > 0 ? this.nats / Math.LN2 / o.bytes : NaN,
      top1Accuracy: this.correct / n,
      meanConfidence: this.confidence / n,
      ece,
      mce,
      bins,
      topK: { k: this.k, ece: calibrationError(topBins).ece, bins: topBins },
      meanEntropy: this.entropy / n,
    };
  }
}

/**
 * Scores documents in context-sized windows (each document after an end-of-text token, as in
 * training and `genlab eval`) and accumulates the calibration of every next-token prediction.
 */
export async function measureCalibration(
  lm: LanguageModel<CausalLm>,
  docs: AsyncIterable<Document>,
  opts: { bins?: number; k?: number; maxTokens?: number; onProgress?: (tokens: number, bytes: number) => void } = {},
): Promise<CalibrationResult> {
  const { model, tokenizer } = lm;
  const dev = model.device;
  const T = model.contextLength;
  const V = model.config.vocabSize;
  const start0 = documentStart(tokenizer);
  const acc = new CalibrationAccumulator(opts.bins ?? 15, opts.k ?? 10);
  const limit = opts.maxTokens ?? Infinity;
  const encoder = new TextEncoder();
  let bytes = 0;
  let documents = 0;
  const wasTraining = model.training;
  model.eval();
  try {
    outer: for await (const doc of docs) {
      const ids = tokenizer.encode(doc.text, { allowSpecial: false });
      const seq = [...start0, ...ids];
      documents++;
      for (let start = 0; start + 1 < seq.length; start += T) {
        const end = Math.min(seq.length - 1, start + T);
        const n = end - start;
        const logits = dev.scope(() => noGrad(() => model.forward(empty(dev, [1, n], 'int32').set(seq.slice(start, end))).logits.toArray()));
        for (let i = 0; i < n; i++) {
          acc.add(logits.subarray(i * V, (i + 1) * V), seq[start + i + 1]!);
          if (acc.tokens >= limit) {
            // Bytes of the part of this document that was scored, so bits per byte stays honest.
            bytes += encoder.encode(tokenizer.decode(seq.slice(start0.length, start + i + 2))).length;
            break outer;
          }
        }
        opts.onProgress?.(acc.tokens, bytes);
      }
      bytes += encoder.encode(doc.text).length;
      await new Promise((r) => setImmediate(r));
    }
  } finally {
    model.train(wasTraining);
  }
  if (acc.tokens === 0) throw new Error('no tokens to score: the documents are empty; check --data (and --held-out)');
  return acc.result({ bytes, documents });
}

/** Reliability diagram: accuracy per confidence bin against the diagonal, with the ECE. */
export function reliabilityChart(r: CalibrationResult, title: string): ChartOptions {
  const labels = r.bins.map((b) => `${b.lo.toFixed(2)}–${b.hi.toFixed(2)}`);
  const ideal = r.bins.map((b) => +((b.lo + b.hi) / 2).toFixed(4));
  return {
    title: { text: title, subtext: `top-1 ECE ${r.ece.toFixed(4)} · top-${r.topK.k} ECE ${r.topK.ece.toFixed(4)} · ${r.tokens.toLocaleString('en-US')} predictions · accuracy ${(100 * r.top1Accuracy).toFixed(1)}%`, left: 'center' },
    legend: { top: 70, data: ['accuracy (top-1)', 'mean confidence', 'perfect calibration', 'predictions (right axis)'] },
    grid: { top: 130, left: 70, right: 80, bottom: 70 },
    xAxis: { type: 'category', data: labels, name: 'confidence of the most likely token', nameLocation: 'middle', nameGap: 45, axisLabel: { rotate: 45, fontSize: 10 } },
    yAxis: [
      { type: 'value', min: 0, max: 1, name: 'accuracy / confidence' },
      { type: 'log', name: 'predictions', min: 1 },
    ],
    series: [
      { name: 'accuracy (top-1)', type: 'bar', data: r.bins.map((b) => (b.count > 0 ? +b.accuracy.toFixed(4) : null)), itemStyle: { color: '#4477aa' } },
      { name: 'mean confidence', type: 'line', data: r.bins.map((b) => (b.count > 0 ? +b.confidence.toFixed(4) : null)), itemStyle: { color: '#ee6677' }, symbolSize: 6 },
      { name: 'perfect calibration', type: 'line', data: ideal, lineStyle: { type: 'dashed', color: '#888888' }, itemStyle: { color: '#888888' }, symbol: 'none' },
      { name: 'predictions (right axis)', type: 'line', yAxisIndex: 1, data: r.bins.map((b) => (b.count > 0 ? b.count : null)), itemStyle: { color: '#228833' }, lineStyle: { width: 1 }, symbolSize: 4 },
    ],
  };
}
