// `genlab data experiment`: does cleaning pay? Builds the noisy corpus (data/clean/noisy.ts), cleans
// it, and trains the same model from the same seed for the same number of tokens twice, once on the raw
// corpus and once on the cleaned one. Both share one tokenizer (trained on the raw corpus, so the
// cleaned arm gets no help from it) and are scored on the same held-out speeches, which neither
// arm saw in any form. Results go to OUT/experiment.{json,md} and a chart of held-out loss against
// training tokens.

import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { buildNoisyCorpus, NOISY_HELDOUT_FILE, NOISY_RAW_FILE, type NoisyManifest, type NoisyOptions } from '../data/clean/noisy.ts';
import { cleanCorpus, CLEAN_DOCUMENTS_FILE, type CleanReport } from '../data/clean/pipeline.ts';
import { formatCleanSummary, writeCleanReport } from '../data/clean/report.ts';
import { jsonlSource } from '../data/corpus.ts';
import { BatchLoader } from '../data/loader.ts';
import { prepareDataset, type PreparedDataset } from '../data/prepare.ts';
import { trainingFlops } from '../models/flops.ts';
import { Gpt, type GptConfig } from '../models/gpt.ts';
import { loadTokenizer, saveTokenizer } from '../tokenizer/files.ts';
import { tokenizerJsonString } from '../tokenizer/formats.ts';
import type { Tokenizer } from '../tokenizer/tokenizer.ts';
import { trainBpe } from '../tokenizer/train.ts';
import { gptPreset, type PresetName } from '../train/presets.ts';
import { evaluate, trainLoop } from '../train/trainer.ts';
import { writeFileAtomic, writeJsonAtomic } from '../util/atomic.ts';
import { writeChart } from '../util/charts.ts';
import { progressBar } from '../util/progress.ts';

export interface CleanExperimentOptions {
  outDir: string;
  /** Model preset (default 'tiny'). */
  preset?: PresetName;
  /** Training tokens per arm (default 3,000,000). */
  tokens?: number;
  /** BPE vocabulary (default: the preset's). */
  vocabSize?: number;
  batch?: number;
  seed?: number;
  /** Passed to the noisy corpus builder (e-mails, held-out share, ...). */
  noisy?: Omit<NoisyOptions, 'outDir' | 'seed'>;
  /** Held-out evaluations during training (default 10). */
  evalPoints?: number;
  quiet?: boolean;
}

export interface ArmResult {
  arm: 'raw' | 'clean';
  trainTokensAvailable: number;
  epochs: number;
  steps: number;
  tokens: number;
  flops: number;
  seconds: number;
  heldOutLoss: number;
  heldOutBitsPerByte: number;
  curve: { tokens: number; loss: number }[];
}

export interface CleanExperimentResult {
  format: 'genlab-clean-experiment';
  createdAt: string;
  model: { preset: string; config: GptConfig; parameters: number; nonEmbeddingParameters: number };
  training: { tokensPerArm: number; batch: number; seqLen: number; steps: number; lr: number; seed: number };
  tokenizer: { vocabSize: number; trainedOn: 'raw'; sha256: string };
  corpus: {
    raw: NoisyManifest['counts'];
    heldOut: { documents: number; tokens: number; bytes: number };
    /** Documents of each kind in the cleaned output (which copy of a duplicated speech survives is arbitrary). */
    cleanedKept: Record<string, number>;
    /** Distinct training speeches, how many survive cleaning at least once, and how many survive more than once. */
    speeches: { total: number; kept: number; keptMoreThanOnce: number };
  };
  cleaning: { inputDocuments: number; outputDocuments: number; keptCharFraction: number; mbPerSecond: number };
  arms: ArmResult[];
  /** heldOutLoss(raw) - heldOutLoss(clean), in nats per token (positive: cleaning helped). */
  improvement: number;
  /**
   * Training tokens after which the cleaned arm's held-out curve reaches the raw arm's final
   * curve value (linear interpolation between evaluations; null if it never does).
   */
  cleanTokensToMatchRaw: number | null;
}

const sha = (s: string): string => createHash('sha256').update(s).digest('hex');

async function prepare(dir: string, file: string, tokenizer: Tokenizer, hash: string): Promise<PreparedDataset> {
  return prepareDataset({
    sources: [jsonlSource(file)],
    tokenizer: { encode: (t) => tokenizer.encode(t, { allowSpecial: false }), eotId: tokenizer.eotId!, vocabSize: tokenizer.vocabSize },
    tokenizerHash: hash,
    outDir: dir,
    valFraction: 0,
    seed: 0,
  });
}

export async function runCleanExperiment(o: CleanExperimentOptions): Promise<CleanExperimentResult> {
  const quiet = o.quiet ?? false;
  const say = (s: string): void => {
    if (!quiet) process.stderr.write(s + '\n');
  };
  const presetName = o.preset ?? 'tiny';
  const preset = gptPreset(presetName, 'the data-cleaning experiment');
  const seed = o.seed ?? 1;
  const B = o.batch ?? preset.batch;
  const T = preset.seqLen;
  const tokensWanted = o.tokens ?? 3_000_000;
  const steps = Math.max(1, Math.round(tokensWanted / (B * T)));
  const tokensPerArm = steps * B * T;

  const noisyDir = path.join(o.outDir, 'noisy');
  say(`building the noisy corpus in ${noisyDir}`);
  const manifest = await buildNoisyCorpus({ ...o.noisy, outDir: noisyDir, seed });
  const cleanDir = path.join(o.outDir, 'clean');
  say(`cleaning it into ${cleanDir}`);
  const rawFile = path.join(noisyDir, NOISY_RAW_FILE);
  const report: CleanReport = await cleanCorpus({ sources: [jsonlSource(rawFile)], outDir: cleanDir, writeRemoved: true });
  await writeCleanReport(cleanDir, report);
  say(formatCleanSummary(report));

  const cleanedKept: Record<string, number> = {};
  const speechCopies = new Map<string, number>();
  for (const line of fs.readFileSync(path.join(cleanDir, CLEAN_DOCUMENTS_FILE), 'utf8').split('\n')) {
    if (line === '') continue;
    const id = (JSON.parse(line) as { id: string }).id;
    const index = Number(id.slice(id.lastIndexOf(':') + 1)) - 1;
    const kind = manifest.kinds[index]!;
    cleanedKept[kind] = (cleanedKept[kind] ?? 0) + 1;
    const speech = manifest.speeches[index];
    if (speech) speechCopies.set(speech, (speechCopies.get(speech) ?? 0) + 1);
  }
  const speeches = {
    total: new Set(manifest.speeches.filter((x) => x !== null)).size,
    kept: speechCopies.size,
    keptMoreThanOnce: [...speechCopies.values()].filter((c) => c > 1).length,
  };

  const vocabSize = o.vocabSize ?? preset.vocabSize;
  const tokDir = path.join(o.outDir, 'tokenizer');
  let tokenizer: Tokenizer;
  const tokKey = `${sha(fs.readFileSync(rawFile, 'utf8')).slice(0, 16)}-v${vocabSize}`;
  const keyFile = path.join(tokDir, 'trained-on.txt');
  if (fs.existsSync(keyFile) && fs.readFileSync(keyFile, 'utf8') === tokKey) tokenizer = await loadTokenizer(tokDir);
  else {
    say(`training a ${vocabSize}-token BPE tokenizer on the raw corpus`);
    async function* texts(): AsyncGenerator<string> {
      for await (const d of jsonlSource(rawFile).documents()) yield d.text;
    }
    tokenizer = await trainBpe(texts(), { vocabSize });
    fs.mkdirSync(tokDir, { recursive: true });
    await saveTokenizer(tokDir, tokenizer, { formats: ['tokenizer.json'] });
    await writeFileAtomic(keyFile, tokKey);
  }
  if (tokenizer.eotId === null) throw new Error('the tokenizer has no <|endoftext|> token');
  const tokHash = sha(tokenizerJsonString(tokenizer));
  const data = {
    raw: await prepare(path.join(o.outDir, 'data', 'raw'), rawFile, tokenizer, tokHash),
    clean: await prepare(path.join(o.outDir, 'data', 'clean'), path.join(cleanDir, CLEAN_DOCUMENTS_FILE), tokenizer, tokHash),
    heldOut: await prepare(path.join(o.outDir, 'data', 'heldout'), path.join(noisyDir, NOISY_HELDOUT_FILE), tokenizer, tokHash),
  };
  const heldOutBytes = fs.readFileSync(path.join(noisyDir, NOISY_HELDOUT_FILE), 'utf8').split('\n').filter((l) => l !== '').reduce((a, l) => a + Buffer.byteLength((JSON.parse(l) as { text: string }).text, 'utf8'), 0);
  const heldOutTokens = data.heldOut.manifest.train.tokens;
  say(`tokens: raw ${data.raw.manifest.train.tokens.toLocaleString()}, cleaned ${data.clean.manifest.train.tokens.toLocaleString()}, held out ${heldOutTokens.toLocaleString()}; each arm trains on ${tokensPerArm.toLocaleString()}`);

  const config: GptConfig = { ...preset.model, vocabSize: tokenizer.vocabSize };
  const evalBatchSize = 8;
  const evalLoader = (): BatchLoader => new BatchLoader({ shards: data.heldOut.trainFiles, batchSize: evalBatchSize, seqLen: T, mode: 'sequential', seed, vocabSize: tokenizer.vocabSize });
  const evalPoints = o.evalPoints ?? 10;
  const arms: ArmResult[] = [];
  let params = { total: 0, nonEmbedding: 0 };
  for (const arm of ['raw', 'clean'] as const) {
    const model = new Gpt(config, { seed });
    params = { total: model.numParameters(), nonEmbedding: model.numNonEmbeddingParameters() };
    const train = new BatchLoader({ shards: data[arm].trainFiles, batchSize: B, seqLen: T, mode: 'shuffle', seed, vocabSize: tokenizer.vocabSize });
    const val = evalLoader();
    const curve: { tokens: number; loss: number }[] = [];
    const bar = quiet ? null : progressBar(steps, `train ${arm.padEnd(5)}`, 'loss {loss} | held-out {val}');
    let last = '—';
    const t0 = performance.now();
    try {
      await trainLoop(model, train, val, {
        steps,
        lr: preset.lr,
        evalEvery: Math.max(1, Math.floor(steps / evalPoints)),
        evalBatches: 32,
        checkpointEvery: 0,
        seed,
        outDir: path.join(o.outDir, 'runs', arm),
        onStep: (m) => bar?.update(m.step, { loss: m.loss.toFixed(3), val: last }),
        onEval: (e) => {
          last = e.valLoss.toFixed(3);
          curve.push({ tokens: e.step * B * T, loss: e.valLoss });
        },
      });
    } finally {
      bar?.stop();
      train.close();
    }
    // The whole held-out set, not the 32-batch sample used for the curve.
    const loss = evaluate(model, val, Number.MAX_SAFE_INTEGER);
    val.close();
    const available = data[arm].manifest.train.tokens;
    arms.push({
      arm, trainTokensAvailable: available, epochs: tokensPerArm / available, steps, tokens: tokensPerArm,
      flops: trainingFlops(config, tokensPerArm, T), seconds: (performance.now() - t0) / 1000,
      heldOutLoss: loss, heldOutBitsPerByte: (loss * heldOutTokens) / (heldOutBytes * Math.LN2), curve,
    });
    say(`${arm}: held-out loss ${loss.toFixed(4)} nats/token (${arms.at(-1)!.heldOutBitsPerByte.toFixed(4)} bits/byte) after ${tokensPerArm.toLocaleString()} tokens (${arms.at(-1)!.epochs.toFixed(2)} epochs of its data)`);
  }

  const result: CleanExperimentResult = {
    format: 'genlab-clean-experiment',
    createdAt: new Date().toISOString(),
    model: { preset: presetName, config, parameters: params.total, nonEmbeddingParameters: params.nonEmbedding },
    training: { tokensPerArm, batch: B, seqLen: T, steps, lr: preset.lr, seed },
    tokenizer: { vocabSize: tokenizer.vocabSize, trainedOn: 'raw', sha256: tokHash },
    corpus: { raw: manifest.counts, heldOut: { documents: manifest.heldOut.documents, tokens: heldOutTokens, bytes: heldOutBytes }, cleanedKept, speeches },
    cleaning: { inputDocuments: report.input.documents, outputDocuments: report.output.documents, keptCharFraction: report.output.chars / report.input.chars, mbPerSecond: report.mbPerSecond },
    arms,
    improvement: arms[0]!.heldOutLoss - arms[1]!.heldOutLoss,
    cleanTokensToMatchRaw: tokensToReach(arms[1]!.curve, arms[0]!.curve.at(-1)?.loss ?? NaN),
  };
  await writeJsonAtomic(path.join(o.outDir, 'experiment.json'), result);
  await writeFileAtomic(path.join(o.outDir, 'experiment.md'), experimentMarkdown(result));
  await writeChart(path.join(o.outDir, 'experiment'), {
    title: { text: 'Held-out loss on clean speeches: raw vs cleaned training data', left: 'center', textStyle: { fontSize: 15 } },
    legend: { top: 32 },
    grid: { left: 80, right: 30, top: 70, bottom: 50 },
    xAxis: { type: 'value', name: 'training tokens', nameLocation: 'middle', nameGap: 30 },
    yAxis: { type: 'value', name: 'held-out loss, 32 batches (nats/token)', nameLocation: 'middle', nameGap: 50, scale: true },
    series: arms.map((a) => ({ name: `${a.arm} (whole held-out set at the end: ${a.heldOutLoss.toFixed(3)})`, type: 'line', showSymbol: true, data: a.curve.map((p) => [p.tokens, Math.round(p.loss * 1e4) / 1e4]) })),
  }, { title: 'genlab data experiment: raw vs cleaned' });
  say(`cleaning ${result.improvement > 0 ? 'lowered' : 'raised'} the held-out loss by ${Math.abs(result.improvement).toFixed(4)} nats/token; see ${path.join(o.outDir, 'experiment.md')}`);
  return result;
}

/** First point where a falling curve reaches `loss`, interpolated between evaluations. */
export function tokensToReach(curve: readonly { tokens: number; loss: number }[], loss: number): number | null {
  for (let i = 0; i < curve.length; i++) {
    const p = curve[i]!;
    if (p.loss > loss) continue;
    if (i === 0) return p.tokens;
    const q = curve[i - 1]!;
    return Math.round(q.tokens + ((q.loss - loss) / (q.loss - p.loss)) * (p.tokens - q.tokens));
  }
  return null;
}

export function experimentMarkdown(r: CleanExperimentResult): string {
  const [raw, clean] = r.arms as [ArmResult, ArmResult];
  const kinds = Object.keys(r.corpus.raw) as (keyof NoisyManifest['counts'])[];
  return [
    '# Raw vs cleaned training data',
    '',
    `Model: preset \`${r.model.preset}\` (${r.model.config.nLayer} layers × ${r.model.config.nEmbd}, ${r.model.parameters.toLocaleString()} parameters), BPE vocabulary ${r.tokenizer.vocabSize} trained on the raw corpus, seed ${r.training.seed}.`,
    `Each arm: ${r.training.steps} steps × ${r.training.batch} × ${r.training.seqLen} = ${r.training.tokensPerArm.toLocaleString()} tokens, learning rate ${r.training.lr}.`,
    `Held-out text: ${r.corpus.heldOut.documents} State of the Union speeches (${r.corpus.heldOut.tokens.toLocaleString()} tokens) that are in neither training set in any form.`,
    '',
    '| training data | tokens available | epochs | held-out loss (nats/token) | bits/byte |',
    '|---|---:|---:|---:|---:|',
    `| raw (noisy) | ${raw.trainTokensAvailable.toLocaleString()} | ${raw.epochs.toFixed(2)} | ${raw.heldOutLoss.toFixed(4)} | ${raw.heldOutBitsPerByte.toFixed(4)} |`,
    `| cleaned | ${clean.trainTokensAvailable.toLocaleString()} | ${clean.epochs.toFixed(2)} | ${clean.heldOutLoss.toFixed(4)} | ${clean.heldOutBitsPerByte.toFixed(4)} |`,
    '',
    `Difference (raw − cleaned): ${r.improvement.toFixed(4)} nats/token.` +
      (r.cleanTokensToMatchRaw !== null ? ` On the held-out curve (${r.arms[0]!.curve.length} evaluations of 32 batches), the cleaned arm reaches the raw arm's final value after ${r.cleanTokensToMatchRaw.toLocaleString()} tokens, ${((100 * r.cleanTokensToMatchRaw) / r.training.tokensPerArm).toFixed(0)}% of the budget.` : ''),
    '',
    '## Corpus',
    '',
    `Cleaning kept ${r.cleaning.outputDocuments} of ${r.cleaning.inputDocuments} documents and ${(100 * r.cleaning.keptCharFraction).toFixed(1)}% of the characters (${r.cleaning.mbPerSecond} MB/s).`,
    `Of the ${r.corpus.speeches.total} distinct training speeches, ${r.corpus.speeches.kept} survive (${r.corpus.speeches.keptMoreThanOnce} more than once); which copy of a duplicated speech survives is arbitrary, so the per-kind counts below mix originals and copies.`,
    '',
    '| kind | documents in raw | characters in raw | documents kept |',
    '|---|---:|---:|---:|',
    ...kinds.map((k) => `| ${k} | ${r.corpus.raw[k].documents} | ${r.corpus.raw[k].chars.toLocaleString()} | ${r.corpus.cleanedKept[k] ?? 0} |`),
    '',
  ].join('\n');
}
