// How well the watermark works on a given model, measured rather than assumed: continuations of
// prompts taken from the run's held-out documents are generated with and without the watermark
// (same seeds), and the detector runs on their first L tokens for several L. The detection rate is
// the share of watermarked samples flagged (z > threshold); false positives are counted on the
// unwatermarked samples and on windows of held-out human text. The perplexity cost is the model's
// own perplexity of what it generated, with and without the bias.

import path from 'node:path';
import { generate, type GenerateOptions } from '../generate/generate.ts';
import { detectWatermark, watermarkParams, type WatermarkOptions } from '../generate/watermark.ts';
import type { LoadedLlama, LoadedModel } from '../io/model-folder.ts';
import { recordEvaluation } from '../record/run-record.ts';
import { writeJsonAtomic } from '../util/atomic.ts';
import { writeChart, type ChartOptions } from '../util/charts.ts';
import { documentsOf, heldOutSet, runSources } from './held-out.ts';

export interface StudyOptions extends WatermarkOptions {
  /** Prompts (each gives `perPrompt` samples). */
  prompts?: number;
  perPrompt?: number;
  /** Prefix lengths (tokens) to test detection at; the longest is generated. */
  lengths?: number[];
  promptTokens?: number;
  threshold?: number;
  temperature?: number;
  seed?: number;
  onProgress?: (done: number, total: number) => void;
}

export interface LengthResult {
  tokens: number;
  samples: number;
  detectionRate: number;
  /** Unwatermarked model samples flagged. */
  falsePositiveRateGenerated: number;
  humanWindows: number;
  /** Held-out human windows flagged (repeated pairs counted once, the detector's default). */
  falsePositiveRate: number;
  /** The same windows flagged when repeated pairs are counted every time. */
  falsePositiveRateCountingRepeats: number;
  medianZWatermarked: number;
  medianZHuman: number;
}

export interface StudyResult {
  gamma: number;
  delta: number;
  key: number;
  threshold: number;
  temperature: number;
  samples: number;
  perplexityPlain: number;
  perplexityWatermarked: number;
  byLength: LengthResult[];
}

const median = (xs: number[]): number => {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

/** Runs the study on a loaded model whose folder has a run record (for the held-out text). */
export async function watermarkStudy(lm: LoadedModel | LoadedLlama, dir: string, o: StudyOptions = {}): Promise<StudyResult> {
  const p = watermarkParams(o);
  const threshold = o.threshold ?? 4;
  const temperature = o.temperature ?? 1;
  const promptTokens = o.promptTokens ?? 16;
  const maxLen = Math.max(...(o.lengths ?? [100]));
  const lengths = [...(o.lengths ?? [10, 25, 50, 100])].sort((a, b) => a - b);
  if (lengths.some((l) => !Number.isInteger(l) || l < 2)) throw new Error(`lengths must be integers >= 2, got ${lengths.join(',')}`);
  if (promptTokens + maxLen > lm.model.contextLength) {
    throw new Error(`prompt (${promptTokens}) + longest length (${maxLen}) tokens exceed the model's context of ${lm.model.contextLength}; lower --lengths`);
  }
  const nPrompts = o.prompts ?? 25;
  const perPrompt = o.perPrompt ?? 4;
  const held = await heldOutSet(lm.runRecord, dir);
  const sources = runSources(lm.runRecord, dir).map((s) => ({ source: s.source, name: s.recorded.name }));

  // Held-out documents give both the prompts (their openings) and the human text (the rest).
  const humanIds: number[][] = [];
  const prompts: number[][] = [];
  for await (const doc of documentsOf(sources, held)) {
    const ids = lm.tokenizer.encode(doc.text, { allowSpecial: false });
    humanIds.push(ids);
    // Prompts from evenly spaced places in each document, so they are not all openings.
    for (let at = 0; at + promptTokens <= ids.length && prompts.length < nPrompts * 4; at += Math.max(promptTokens, Math.floor(ids.length / 8))) prompts.push(ids.slice(at, at + promptTokens));
  }
  if (prompts.length === 0) throw new Error(`the held-out documents of ${dir} are shorter than ${promptTokens} tokens; nothing to prompt with`);
  const step = Math.max(1, Math.floor(prompts.length / nPrompts));
  const chosen = prompts.filter((_, i) => i % step === 0).slice(0, nPrompts);

  const marked: number[][] = [];
  const plain: number[][] = [];
  let natsPlain = 0;
  let natsMarked = 0;
  let tokensPlain = 0;
  let tokensMarked = 0;
  for (let i = 0; i < chosen.length; i++) {
    const base: GenerateOptions = { maxTokens: maxLen, n: perPrompt, temperature, seed: (o.seed ?? 0) + i, stopAtEndOfText: false };
    const [a, b] = [await generate(lm, chosen[i]!, { ...base, watermark: p }), await generate(lm, chosen[i]!, base)];
    const ctx = chosen[i]!.at(-1)!;
    for (const c of a.completions) {
      marked.push([ctx, ...c.tokens.map((t) => t.id)]);
      for (const t of c.tokens) natsMarked -= t.logprob;
      tokensMarked += c.tokens.length;
    }
    for (const c of b.completions) {
      plain.push([ctx, ...c.tokens.map((t) => t.id)]);
      for (const t of c.tokens) natsPlain -= t.logprob;
      tokensPlain += c.tokens.length;
    }
    o.onProgress?.(i + 1, chosen.length);
  }

  const det = (ids: number[], ignoreRepeats = true) => detectWatermark(ids, { gamma: p.gamma, key: p.key, threshold, ignoreRepeats });
  const byLength: LengthResult[] = lengths.map((L) => {
    const zm = marked.map((s) => det(s.slice(0, L + 1)).z);
    const zp = plain.map((s) => det(s.slice(0, L + 1)).z);
    // Non-overlapping windows of L + 1 human tokens (the first is context only).
    const windows: number[][] = [];
    for (const ids of humanIds) for (let at = 0; at + L + 1 <= ids.length; at += L + 1) windows.push(ids.slice(at, at + L + 1));
    const zh = windows.map((w) => det(w).z);
    const zhRepeats = windows.map((w) => det(w, false).z);
    const rate = (zs: number[]): number => (zs.length ? zs.filter((z) => z > threshold).length / zs.length : NaN);
    return {
      tokens: L,
      samples: zm.length,
      detectionRate: rate(zm),
      falsePositiveRateGenerated: rate(zp),
      humanWindows: windows.length,
      falsePositiveRate: rate(zh),
      falsePositiveRateCountingRepeats: rate(zhRepeats),
      medianZWatermarked: median(zm),
      medianZHuman: median(zh),
    };
  });
  return {
    gamma: p.gamma,
    delta: p.delta,
    key: p.key,
    threshold,
    temperature,
    samples: marked.length,
    perplexityPlain: Math.exp(natsPlain / Math.max(1, tokensPlain)),
    perplexityWatermarked: Math.exp(natsMarked / Math.max(1, tokensMarked)),
    byLength,
  };
}

export function studyChart(r: StudyResult, title: string): ChartOptions {
  const x = r.byLength.map((l) => String(l.tokens));
  return {
    title: { text: title, subtext: `γ ${r.gamma}, δ ${r.delta}, flagged when z > ${r.threshold} · ${r.samples} samples per length · perplexity ${r.perplexityPlain.toFixed(2)} → ${r.perplexityWatermarked.toFixed(2)} with the watermark`, left: 'center' },
    legend: { top: 70 },
    grid: { top: 130, left: 70, right: 30, bottom: 55 },
    xAxis: { type: 'category', data: x, name: 'tokens scored', nameLocation: 'middle', nameGap: 30 },
    yAxis: { type: 'value', min: 0, max: 1, name: 'share flagged' },
    series: [
      { name: 'watermarked (detected)', type: 'line', data: r.byLength.map((l) => +l.detectionRate.toFixed(4)), itemStyle: { color: '#228833' } },
      { name: 'unwatermarked (false positives)', type: 'line', data: r.byLength.map((l) => +l.falsePositiveRateGenerated.toFixed(4)), itemStyle: { color: '#ccbb44' } },
      { name: 'human, held out (false positives)', type: 'line', data: r.byLength.map((l) => +l.falsePositiveRate.toFixed(4)), itemStyle: { color: '#ee6677' } },
    ],
  };
}

/** Runs the study, writes watermark-study.{json,svg,png,html} and records it in run.json. */
export async function watermarkStudyCommand(lm: LoadedModel | LoadedLlama, dir: string, o: StudyOptions, command: string): Promise<StudyResult> {
  const r = await watermarkStudy(lm, dir, o);
  const base = path.join(dir, 'watermark-study');
  await writeJsonAtomic(`${base}.json`, r);
  await writeChart(base, studyChart(r, `Watermark on ${path.basename(path.resolve(dir))}`), { title: 'Watermark detection vs length' });
  const longest = r.byLength.at(-1)!;
  await recordEvaluation(dir, {
    name: 'watermark',
    data: `${r.samples} generated samples (prompts from held-out documents) and ${longest.humanWindows} windows of held-out human text`,
    metrics: { gamma: r.gamma, delta: r.delta, threshold: r.threshold, tokens: longest.tokens, detectionRate: longest.detectionRate, falsePositiveRate: longest.falsePositiveRate, perplexityPlain: r.perplexityPlain, perplexityWatermarked: r.perplexityWatermarked },
    createdAt: new Date().toISOString(),
    command,
    details: { byLength: r.byLength, temperature: r.temperature, files: 'watermark-study.{json,svg,png,html}' },
  });
  return r;
}
