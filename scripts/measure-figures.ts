// Measures the figures README.md and docs/*.md quote about the app model and writes them, with the
// commands that printed them, the machine, the date and a hash of the preset they depend on, to
// docs/figures.json (checked by src/report/doc-figures.test.ts). Every value is read from what a real
// genlab command wrote or printed; nothing is typed in by hand.
//
//   node --import tsx scripts/measure-figures.ts                 # every group (about 20 minutes on 2 idle cores)
//   node --import tsx scripts/measure-figures.ts --only card     # one group (or several: --only calibration,watermark)
//   node --import tsx scripts/measure-figures.ts --list          # the groups and their commands
//
// The app model is trained into runs/figures/app (the docs call it models/app). Groups other than
// `train` reuse it while the app preset is unchanged; the output of each command goes to
// runs/figures/logs/GROUP.log.

import { spawn } from 'node:child_process';
import { copyFileSync, createWriteStream, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createNetServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { writeJsonAtomic } from '../src/util/atomic.ts';
import { FIGURES_FILE, FIGURES_SCHEMA, fileHashes, presetHash, type Dependency, type Figure, type FiguresFile, type Machine } from '../src/report/doc-figures.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const SCRATCH = 'runs/figures';
const APP = `${SCRATCH}/app`;
/** What the docs call the folder the script trains into. */
const DOC_APP = 'models/app';
const README = 'README.md';
const ACC = 'docs/accountability.md';
const FT = 'docs/finetune.md';
const AL = 'docs/alignment.md';

type Measured = Pick<Figure, 'id' | 'value' | 'unit' | 'appearsIn'>;
interface Group {
  name: string;
  /** The commands as a reader types them (models/app for the scratch folder). */
  commands: string[];
  needs: string[];
  dependsOn: () => Dependency;
  run: () => Promise<Measured[]>;
}

// ---------- formatting, as the docs print numbers ----------
const int = (n: number): string => Math.round(n).toLocaleString('en-US');
const fixed = (n: number, d: number): string => n.toFixed(d);
/** A share as the docs print it; never rounds a share below 1 up to 100% or above 0 down to 0%. */
const pct = (x: number, d = 1): string => {
  if (x === 1 || x === 0) return `${100 * x}%`;
  const s = (100 * x).toFixed(d);
  if (Number(s) >= 100) return `>${(100 - 10 ** -d).toFixed(d)}%`;
  if (Number(s) <= 0) return `<${(10 ** -d).toFixed(d)}%`;
  return `${s}%`;
};
const sci = (x: number, d: number): string => x.toExponential(d).replace('e+', 'e');
const signed = (x: number, d: number): string => `${x >= 0 ? '+' : '−'}${Math.abs(x).toFixed(d)}`;
const minus = (s: string): string => s.replace(/^-/, '−');
const at = (file: string, text: string): { file: string; text: string } => ({ file, text });

// ---------- running commands ----------
let groupLabel = '';
function progress(line: string): void {
  process.stdout.write(`[${new Date().toISOString().slice(11, 19)}] ${groupLabel} ${line}\n`);
}

/** Runs node with `args` in the repository, output to the group's log; `done` resolves to stdout. */
function startNode(args: string[], display: string, log: string): { done: Promise<string>; stop: () => void } {
  let stop = (): void => {};
  const done = new Promise<string>((resolve, reject) => {
    const t0 = Date.now();
    progress(`$ ${display}`);
    const out = createWriteStream(log, { flags: 'a' });
    out.write(`\n$ ${display}\n`);
    const child = spawn(process.execPath, ['--import', 'tsx', ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stopped = false;
    stop = () => {
      stopped = true;
      child.kill('SIGINT');
    };
    let stdout = '';
    let lastShown = 0;
    const onLine = (chunk: Buffer): void => {
      out.write(chunk);
      const last = chunk.toString().split(/[\r\n]/).filter((l) => l.trim()).pop();
      if (last && Date.now() - lastShown > 15_000) {
        lastShown = Date.now();
        progress(`  ${((Date.now() - t0) / 1000).toFixed(0)} s: ${last.trim().slice(0, 110)}`);
      }
    };
    child.stdout.on('data', (c: Buffer) => {
      stdout += c.toString();
      onLine(c);
    });
    child.stderr.on('data', onLine);
    child.on('error', reject);
    child.on('close', (code) => {
      out.end();
      progress(`  ${stopped ? 'stopped after' : 'done in'} ${((Date.now() - t0) / 1000).toFixed(0)} s${code === 0 || stopped ? '' : ` (exit ${code}; see ${log})`}`);
      if (code === 0 || stopped) resolve(stdout);
      else reject(new Error(`${display} exited with ${code}; its output is in ${log}`));
    });
  });
  return { done, stop };
}

const runNode = (args: string[], display: string, log: string): Promise<string> => startNode(args, display, log).done;
const genlab = (args: string[], log: string): Promise<string> => runNode(['src/cli/entry.ts', ...args], `genlab ${args.join(' ')}`, log);
const lastJsonLine = <T>(stdout: string): T => JSON.parse(stdout.trim().split('\n').filter((l) => l.startsWith('{')).pop() ?? 'null') as T;
const readJson = <T>(file: string): T => JSON.parse(readFileSync(path.join(ROOT, file), 'utf8')) as T;
const logOf = (group: string): string => path.join(ROOT, SCRATCH, 'logs', `${group}.log`);
const docCommand = (c: string): string => c.split(APP).join(DOC_APP);

// ---------- the app model ----------
const appMark = path.join(ROOT, SCRATCH, 'app.preset-sha256');
const appIsCurrent = (): boolean => existsSync(path.join(ROOT, APP, 'run.json')) && existsSync(appMark) && readFileSync(appMark, 'utf8').trim() === presetHash('app');
const appDependency = (): Dependency => ({ preset: { name: 'app', sha256: presetHash('app') } });

interface RunJson {
  training: { tokensSeen: number; trainingFlops: number; wallSeconds: number; finalValLoss: number; steps: number };
  compute: { forwardFlopsPerToken: number; achievedFlopsPerSecond: number };
  hardware: { cpu: string; cpuFamily: number | null; cpuModel: number | null };
  energy: { method: string; cpuSeconds: number; wallSeconds: number; cpuJoules: number; ramJoules: number; kWh: number; cpu: { wattsPerCore: number; source: string }; ram: { peakRssBytes: number; wattsPerGB: number } };
  emissions: { gCO2e: number; intensity: { gPerKWh: number } };
  evaluations: { name: string; data: string; metrics: Record<string, number>; details?: unknown }[];
}

const train: Group = {
  name: 'train',
  commands: [`genlab train --model app --out ${DOC_APP}`],
  needs: [],
  dependsOn: appDependency,
  async run() {
    rmSync(path.join(ROOT, APP), { recursive: true, force: true });
    await genlab(['train', '--model', 'app', '--out', APP], logOf('train'));
    writeFileSync(appMark, presetHash('app') + '\n');
    const r = readJson<RunJson>(`${APP}/run.json`);
    const t = r.training;
    const e = r.energy;
    const wh = e.kWh * 1000;
    const cpuWh = e.cpuJoules / 3600;
    const ramWh = e.ramJoules / 3600;
    const peakGB = e.ram.peakRssBytes / 1e9;
    const watts = e.cpu.wattsPerCore;
    const table = [
      '| quantity | value |',
      '|---|---|',
      `| training compute (counted) | ${sci(t.trainingFlops, 2)} FLOP (${sci(r.compute.forwardFlopsPerToken, 2)} forward FLOP per token), ${fixed(r.compute.achievedFlopsPerSecond / 1e9, 1)} GFLOP/s sustained |`,
      `| wall time / CPU time of the process | ${int(e.wallSeconds)} s / ${int(e.cpuSeconds)} CPU-s |`,
      `| energy | ${fixed(wh, 2)} Wh = CPU ${fixed(cpuWh, 2)} Wh (${int(e.cpuSeconds)} s × ${+watts.toFixed(2)} W) + memory ${fixed(ramWh, 3)} Wh (${fixed(peakGB, 2)} GB peak × 3/8 W per GB × ${int(e.wallSeconds)} s) |`,
      `| emissions at ${r.emissions.intensity.gPerKWh} g/kWh | ${fixed(r.emissions.gCO2e, 2)} g CO2e |`,
    ].join('\n');
    return [
      { id: 'app.trainingFlops', value: t.trainingFlops, unit: 'FLOP', appearsIn: [at(README, `${sci(t.trainingFlops, 1)} training FLOPs`), at(ACC, sci(t.trainingFlops, 2))] },
      { id: 'app.trainingTokens', value: t.tokensSeen, unit: 'tokens', appearsIn: [at(ACC, `${int(t.steps)} steps, ${int(t.tokensSeen)} tokens`)] },
      { id: 'app.energyTable', value: { trainingFlops: t.trainingFlops, forwardFlopsPerToken: r.compute.forwardFlopsPerToken, flopsPerSecond: r.compute.achievedFlopsPerSecond, wallSeconds: e.wallSeconds, cpuSeconds: e.cpuSeconds, wh, cpuWh, ramWh, peakRssGB: peakGB, wattsPerCore: watts, gCO2e: r.emissions.gCO2e }, unit: 'table', appearsIn: [at(ACC, table)] },
      { id: 'app.energyWh', value: wh, unit: 'Wh', appearsIn: [at(README, `${fixed(wh, 2)} Wh and ${fixed(r.emissions.gCO2e, 2)} g CO2e`)] },
      { id: 'app.wattsPerCore', value: { wattsPerCore: watts, source: e.cpu.source, cpu: r.hardware.cpu, cpuFamily: r.hardware.cpuFamily, cpuModel: r.hardware.cpuModel }, unit: 'W per busy core', appearsIn: [at(ACC, `CPUID family ${r.hardware.cpuFamily} model ${r.hardware.cpuModel}`), at(ACC, `${+watts.toFixed(2)} W per busy core`)] },
      { id: 'app.valLoss', value: t.finalValLoss, unit: 'nats/token', appearsIn: [at(FT, `validation loss ${fixed(t.finalValLoss, 2)}`), at(AL, `val loss ${fixed(t.finalValLoss, 2)}`)] },
    ];
  },
};

interface CalibrationJson { tokens: number; documents: number; top1Accuracy: number; meanConfidence: number; ece: number; mce: number; topK: { k: number; ece: number }; loss: number; perplexity: number; bitsPerByte: number; meanEntropy: number; bins: { count: number; confidence: number; accuracy: number }[] }

const calibration: Group = {
  name: 'calibration',
  commands: [`genlab eval --model ${DOC_APP} --data sotu --calibration --held-out`, `genlab eval --model ${DOC_APP} --data moby-dick --max-tokens 100000`],
  needs: ['train'],
  dependsOn: appDependency,
  async run() {
    await genlab(['eval', '--model', APP, '--data', 'sotu', '--calibration', '--held-out'], logOf('calibration'));
    const c = readJson<CalibrationJson>(`${APP}/calibration.json`);
    const moby = lastJsonLine<{ perplexity: number; bitsPerByte: number }>(await genlab(['eval', '--model', APP, '--data', 'moby-dick', '--max-tokens', '100000', '--json'], logOf('calibration')));
    // The diagonal claim is made of the bins that hold at least 1% of the predictions.
    const big = c.bins.filter((b) => b.count >= 0.01 * c.tokens);
    const gap = Math.max(...big.map((b) => Math.abs(b.accuracy - b.confidence)));
    const lo = Math.min(...big.map((b) => b.confidence));
    const hi = Math.max(...big.map((b) => b.confidence));
    const table = [
      '| metric | value |',
      '|---|---|',
      `| top-1 accuracy / mean confidence | ${fixed(100 * c.top1Accuracy, 2)}% / ${fixed(100 * c.meanConfidence, 2)}% |`,
      `| ECE (${c.bins.length} bins) / MCE | ${fixed(c.ece, 4)} / ${fixed(c.mce, 4)} |`,
      `| ECE of the top-${c.topK.k} alternatives | ${fixed(c.topK.ece, 4)} |`,
      `| loss / perplexity / bits per byte | ${fixed(c.loss, 3)} nats / ${fixed(c.perplexity, 2)} / ${fixed(c.bitsPerByte, 3)} |`,
      `| mean entropy | ${fixed(c.meanEntropy, 2)} nats |`,
    ].join('\n');
    return [
      { id: 'calibration.ece', value: c.ece, unit: 'expected calibration error', appearsIn: [at(README, `next-token ECE ${fixed(c.ece, 3)}`)] },
      { id: 'calibration.predictions', value: c.tokens, unit: 'predictions', appearsIn: [at(ACC, `${c.documents} held-out speeches, ${int(c.tokens)} predictions`)] },
      { id: 'calibration.table', value: { ...c, bins: undefined, topK: { k: c.topK.k, ece: c.topK.ece } }, unit: 'table', appearsIn: [at(ACC, table)] },
      { id: 'calibration.diagonal', value: { largestGap: gap, lowestConfidence: lo, highestConfidence: hi, bins: big.length }, unit: 'accuracy − confidence', appearsIn: [at(ACC, `within ${fixed(gap, 3)} of the diagonal in each of the ${big.length} bins that hold at least 1% of the predictions (mean confidence ${pct(lo, 0)} to ${pct(hi, 0)})`)] },
      { id: 'calibration.outOfDomain', value: { perplexity: moby.perplexity, bitsPerByte: moby.bitsPerByte, heldOutPerplexity: c.perplexity }, unit: 'perplexity', appearsIn: [at(ACC, `perplexity ${fixed(moby.perplexity, 1)} (${fixed(moby.bitsPerByte, 3)} bits per byte), against ${fixed(c.perplexity, 1)} on held-out speeches`)] },
    ];
  },
};

interface StudyJson { delta: number; samples: number; perplexityPlain: number; perplexityWatermarked: number; byLength: { tokens: number; detectionRate: number; falsePositiveRateGenerated: number; humanWindows: number; falsePositiveRate: number; falsePositiveRateCountingRepeats: number; medianZWatermarked: number; medianZHuman: number }[] }

const DELTAS = [1, 4, 2]; // 2 last: the study recorded in run.json is the default's
const watermark: Group = {
  name: 'watermark',
  commands: DELTAS.map((d) => `genlab detect --model ${DOC_APP} --study --delta ${d} --prompts 50`),
  needs: ['train'],
  dependsOn: appDependency,
  async run() {
    const studies = new Map<number, StudyJson>();
    for (const d of DELTAS) studies.set(d, lastJsonLine<StudyJson>(await genlab(['detect', '--model', APP, '--study', '--delta', String(d), '--prompts', '50', '--json'], logOf('watermark'))));
    const byDelta = [...studies.entries()].sort((a, b) => a[0] - b[0]);
    const rows = byDelta.flatMap(([d, s]) => s.byLength.map((l) => `| ${d} | ${l.tokens} | ${pct(l.detectionRate)} | ${pct(l.falsePositiveRateGenerated)} | ${pct(l.falsePositiveRate, 2)} (${int(l.humanWindows)}) |`));
    const table = ['| δ | tokens | detected | false positives: unwatermarked samples | false positives: human text (windows) |', '|---|---:|---:|---:|---:|', ...rows].join('\n');
    const def = studies.get(2)!;
    const len = (s: StudyJson, n: number) => s.byLength.find((l) => l.tokens === n)!;
    const longest = (s: StudyJson) => s.byLength[s.byLength.length - 1]!;
    const medians = `${byDelta.map(([d, s]) => `${fixed(longest(s).medianZWatermarked, 2)} (δ ${d})`).join(', ')}; of human windows: ${minus(fixed(longest(def).medianZHuman, 2))}`;
    const fromNoFp = def.byLength.find((l) => def.byLength.filter((m) => m.tokens >= l.tokens).every((m) => m.falsePositiveRate === 0));
    const humanFp = fromNoFp ? `no false positive on held-out human text from ${fromNoFp.tokens} tokens on` : `false positives on held-out human text at every length (${pct(longest(def).falsePositiveRate, 2)} at ${longest(def).tokens} tokens)`;
    const sameRepeats = byDelta.every(([, s]) => s.byLength.every((l) => l.falsePositiveRate === l.falsePositiveRateCountingRepeats));
    const rise = (s: StudyJson) => `${fixed(s.perplexityWatermarked, 2)} with δ ${s.delta} (${signed(100 * (s.perplexityWatermarked / s.perplexityPlain - 1), 0)}%)`;
    const ppl = `${fixed(def.perplexityPlain, 2)} without the watermark; ${byDelta.map(([, s]) => rise(s)).join(', ')}`;
    const short = len(def, Math.min(...def.byLength.map((l) => l.tokens)));
    const flagged = Math.round(short.falsePositiveRate * short.humanWindows);
    // z > 4 with 10 scored tokens at γ 0.25 needs 8 or more green: exact binomial tail 4.2e-4.
    const expected = short.tokens === 10 ? `(≈ ${int(4.2e-4 * short.humanWindows)} windows expected)` : '';
    return [
      { id: 'watermark.table', value: byDelta.map(([, s]) => ({ delta: s.delta, samples: s.samples, byLength: s.byLength })), unit: 'table', appearsIn: [at(ACC, table)] },
      { id: 'watermark.detection', value: { at25: len(def, 25).detectionRate, at50: len(def, 50).detectionRate }, unit: 'share of δ 2 samples flagged', appearsIn: [at(README, `${pct(len(def, 25).detectionRate)} of 25-token and ${pct(len(def, 50).detectionRate)} of 50-token samples are`)] },
      { id: 'watermark.humanFalsePositives', value: def.byLength.map((l) => ({ tokens: l.tokens, rate: l.falsePositiveRate })), unit: 'share of human windows flagged', appearsIn: [at(README, humanFp)] },
      { id: 'watermark.medianZ', value: byDelta.map(([d, s]) => ({ delta: d, watermarked: longest(s).medianZWatermarked, human: longest(s).medianZHuman })), unit: 'z', appearsIn: [at(ACC, medians), at(ACC, sameRepeats ? 'Counting repeated pairs every time gave the same false-positive rates' : 'Counting repeated pairs every time changed the false-positive rates')] },
      { id: 'watermark.perplexity', value: byDelta.map(([d, s]) => ({ delta: d, plain: s.perplexityPlain, watermarked: s.perplexityWatermarked })), unit: 'perplexity', appearsIn: [at(README, `${fixed(def.perplexityPlain, 1)} → ${fixed(def.perplexityWatermarked, 1)}`), at(ACC, ppl), at(ACC, `${pct(len(def, 50).detectionRate)} of 50-token samples are detected for ${fixed(100 * (def.perplexityWatermarked / def.perplexityPlain - 1), 0)}% more perplexity`)] },
      { id: 'watermark.shortTexts', value: { tokens: short.tokens, flagged, windows: short.humanWindows, rate: short.falsePositiveRate }, unit: 'human windows flagged', appearsIn: [at(ACC, `at ${short.tokens} tokens ${flagged} of ${int(short.humanWindows)} human windows were flagged (${pct(short.falsePositiveRate, 2)})`), at(ACC, expected)] },
    ];
  },
};

// ---------- through the server: watermark detection of text, low-confidence spans ----------
const API_PROMPTS = ['The state of the Union is', 'Mr. Speaker, Mr. President,', 'The Congress of the United States', 'Our nation must', 'In the past year, we have', 'I ask the Congress to'];
const API_SEEDS = [1, 2, 3, 4];
/** A speech-like paragraph with invented facts (docs/accountability.md quotes it). */
const INVENTED_PARAGRAPH = 'Fellow-Citizens of the Senate and House of Representatives: The Congress of the United States met in Philadelphia in 1912, when the President spoke of the railroads to California and of the duties on imports, which amounted to $4 billion in the last fiscal year.';

const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const s = createNetServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });

const api: Group = {
  name: 'api',
  commands: [`genlab serve --model ${DOC_APP}`, `POST /v1/completions {prompt, max_tokens: 100, temperature: 1, seed, watermark: true|false} for ${API_PROMPTS.length} prompts × ${API_SEEDS.length} seeds, each text to POST /api/detect`, 'POST /api/analyze {text: the paragraph quoted in docs/accountability.md}'],
  needs: ['train', 'watermark'],
  dependsOn: appDependency,
  async run() {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const serving = startNode(['src/cli/entry.ts', 'serve', '--model', APP, '--port', String(port), '--db', `${SCRATCH}/feedback.sqlite`], `genlab serve --model ${APP} --port ${port}`, logOf('api'));
    let failed: Error | null = null;
    serving.done.then(
      () => (failed = new Error('genlab serve stopped')),
      (err: Error) => (failed = err),
    );
    const post = async <T>(route: string, body: unknown): Promise<T> => {
      const res = await fetch(url + route, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
      if (!res.ok) throw new Error(`${route}: ${res.status} ${await res.text()}`);
      return (await res.json()) as T;
    };
    try {
      for (let i = 0; ; i++) {
        if (failed) throw failed;
        if (i > 600) throw new Error('genlab serve did not answer within 5 minutes');
        try {
          if ((await fetch(url + '/v1/models')).ok) break;
        } catch {
          // not listening yet
        }
        await new Promise((r) => setTimeout(r, 500));
      }
      const model = 'app';
      const z = { on: [] as number[], off: [] as number[], flaggedOn: 0, flaggedOff: 0 };
      for (const prompt of API_PROMPTS) {
        for (const seed of API_SEEDS) {
          for (const on of [true, false]) {
            const c = await post<{ choices: { text: string }[] }>('/v1/completions', { model, prompt, max_tokens: 100, temperature: 1, seed, watermark: on });
            const d = await post<{ z: number; flagged: boolean }>('/api/detect', { model, text: c.choices[0]!.text });
            (on ? z.on : z.off).push(d.z);
            if (d.flagged) on ? z.flaggedOn++ : z.flaggedOff++;
          }
        }
      }
      progress(`  ${z.on.length} watermarked and ${z.off.length} plain completions detected`);
      const a = await post<{ tokens: { text: string; prob: number | null }[]; low_confidence_spans: { first_token: number; end_token: number }[] }>('/api/analyze', { model, text: INVENTED_PARAGRAPH });
      const median = (xs: number[]): number => {
        const s = [...xs].sort((p, q) => p - q);
        return s.length % 2 ? s[s.length >> 1]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
      };
      const study = readJson<RunJson>(`${APP}/run.json`).evaluations.find((e) => e.name === 'watermark');
      const studyZ = (study?.details as { byLength?: { tokens: number; medianZWatermarked: number }[] } | undefined)?.byLength?.find((l) => l.tokens === 100)?.medianZWatermarked;
      const n = z.on.length;
      const apiText = `${z.flaggedOn} of ${n} flagged, median z ${fixed(median(z.on), 2)} (lowest ${fixed(Math.min(...z.on), 2)}${studyZ !== undefined ? `; the study's ${fixed(studyZ, 2)} on the token ids` : ''}); the same requests without the watermark: ${z.flaggedOff} of ${n} flagged, median z ${minus(fixed(median(z.off), 2))}, highest ${minus(fixed(Math.max(...z.off), 2))}`;
      const spans = a.low_confidence_spans;
      const covered = spans.reduce((s, x) => s + x.end_token - x.first_token, 0);
      const inside = (i: number): boolean => spans.some((s) => i >= s.first_token && i < s.end_token);
      const ranked = a.tokens.map((t, i) => ({ ...t, i })).filter((t) => t.prob !== null).sort((p, q) => p.prob! - q.prob!).slice(0, 5);
      const lowest = ranked.map((t, k) => (k === 0 ? `"${t.text}" at ${(100 * t.prob!).toPrecision(2)}%` : `"${t.text}"`)).join(', ');
      const allInside = ranked.every((t) => inside(t.i));
      const spansText = `(${a.tokens.length} tokens) gets ${spans.length} spans covering ${covered} tokens; the ${ranked.length} most unlikely tokens (${lowest}) are ${allInside ? 'all inside them' : `${ranked.filter((t) => inside(t.i)).length} of ${ranked.length} inside them`}`;
      return [
        { id: 'api.watermarkDetection', value: { watermarked: z.on, plain: z.off, flaggedWatermarked: z.flaggedOn, flaggedPlain: z.flaggedOff, studyMedianZ100: studyZ ?? null }, unit: 'z', appearsIn: [at(ACC, apiText)] },
        { id: 'api.lowConfidenceSpans', value: { tokens: a.tokens.length, spans: spans.length, covered, lowest: ranked.map((t) => ({ text: t.text, prob: t.prob })) }, unit: 'spans', appearsIn: [at(ACC, spansText)] },
      ];
    } finally {
      // The server is this script's child; SIGINT lets it close its queue and database.
      serving.stop();
      await serving.done.catch(() => {});
    }
  },
};

// ---------- the model card (its score changes with the rubric code, so that code is hashed too) ----------
/** The code that grades a card: the rubric and the sections (not the renderers, not the tests). */
const cardScoring = (): string[] =>
  readdirSync(path.join(ROOT, 'src/account'))
    .filter((f) => /^(card|crfm).*\.ts$/.test(f) && !/\.test\.ts$|^card-(format|doc)\.ts$/.test(f))
    .sort()
    .map((f) => `src/account/${f}`);
const card: Group = {
  name: 'card',
  commands: [`genlab card --model ${DOC_APP}`],
  // The card grades the evaluations recorded in run.json: calibration, the Moby-Dick loss, the watermark study.
  needs: ['train', 'calibration', 'watermark'],
  dependsOn: () => ({ ...appDependency(), files: fileHashes(ROOT, cardScoring()) }),
  async run() {
    await genlab(['card', '--model', APP], logOf('card'));
    const c = readJson<{ total: number; max: number; assessments: { title: string; points: number }[] }>(`${APP}/card.json`);
    const levels = [...new Set(c.assessments.map((a) => a.points))].sort((a, b) => b - a);
    const lower = (t: string): string => t.charAt(0).toLowerCase() + t.slice(1);
    const points = levels.map((p) => `${p} for ${c.assessments.filter((a) => a.points === p).map((a) => lower(a.title)).join(', ')}`).join('; ');
    return [{ id: 'card.score', value: { total: c.total, max: c.max, sections: c.assessments.map((a) => ({ title: a.title, points: a.points })) }, unit: 'CRFM points', appearsIn: [at(ACC, `scores **${c.total}/${c.max}** on its own card: ${points}`)] }];
  },
};

// ---------- LoRA and full fine-tuning on Moby-Dick ----------
interface FinetuneRun { data: { trainTokens: number; valTokens: number }; parameters: { trainable: number; total: number }; evaluation: { valLoss: { before: number; after: number }; alsoValLoss: Record<string, { before: number; after: number }> } }

/** A fine-tuning run's record, with the losses from the finetune-summary.txt the command writes ("validation loss on SOURCE: a → b"). */
function readFinetune(out: string, data: string): FinetuneRun {
  const r = readJson<Omit<FinetuneRun, 'evaluation'>>(`${out}/run.json`);
  const losses: Record<string, { before: number; after: number }> = {};
  for (const m of readFileSync(path.join(ROOT, out, 'finetune-summary.txt'), 'utf8').matchAll(/^validation loss on (.+): ([\d.]+) → ([\d.]+)$/gm)) {
    losses[m[1]!] = { before: Number(m[2]), after: Number(m[3]) };
  }
  const { [data]: valLoss, ...alsoValLoss } = losses;
  if (!valLoss) throw new Error(`${out}/finetune-summary.txt has no validation loss on ${data}`);
  return { data: r.data, parameters: r.parameters, evaluation: { valLoss, alsoValLoss } };
}
const finetune: Group = {
  name: 'finetune',
  commands: [`genlab finetune --model ${DOC_APP} --data moby-dick --eval-also sotu --out runs/moby-lora`, `genlab finetune --model ${DOC_APP} --data moby-dick --eval-also sotu --lora-r 0 --out runs/moby-full`],
  needs: ['train'],
  dependsOn: appDependency,
  async run() {
    const runs: { name: string; out: string; extra: string[]; seconds: number; r?: FinetuneRun }[] = [
      { name: 'lora', out: `${SCRATCH}/moby-lora`, extra: [], seconds: 0 },
      { name: 'full', out: `${SCRATCH}/moby-full`, extra: ['--lora-r', '0'], seconds: 0 },
    ];
    for (const run of runs) {
      rmSync(path.join(ROOT, run.out), { recursive: true, force: true });
      const t0 = Date.now();
      await genlab(['finetune', '--model', APP, '--data', 'moby-dick', '--eval-also', 'sotu', ...run.extra, '--out', run.out], logOf('finetune'));
      run.seconds = (Date.now() - t0) / 1000;
      run.r = readFinetune(run.out, 'moby-dick');
    }
    const [lora, full] = runs.map((x) => x.r!) as [FinetuneRun, FinetuneRun];
    const forget = (r: FinetuneRun): number => r.evaluation.alsoValLoss['sotu']!.after - r.evaluation.alsoValLoss['sotu']!.before;
    const row = (label: string, r: FinetuneRun, share: string): string => {
      const v = r.evaluation.valLoss;
      const s = r.evaluation.alsoValLoss['sotu']!;
      return `| ${label} | ${int(r.parameters.trainable)} (${share}) | ${fixed(v.before, 3)} → **${fixed(v.after, 3)}** | ${fixed(s.before, 3)} → ${fixed(s.after, 3)} (${signed(forget(r), 2)}) |`;
    };
    const table = [
      '| | trainable parameters | Moby-Dick before → after | SOTU before → after (forgetting) |',
      '|---|---:|---:|---:|',
      row('LoRA r=8, α=16, dropout 0.05 on c_attn, c_proj, c_fc', lora, `${fixed((100 * lora.parameters.trainable) / lora.parameters.total, 1)}% of ${int(lora.parameters.total)}`),
      row('full fine-tuning (`--lora-r 0`)', full, '100%'),
    ].join('\n');
    const value = runs.map((x) => ({ run: x.name, seconds: x.seconds, trainable: x.r!.parameters.trainable, total: x.r!.parameters.total, moby: x.r!.evaluation.valLoss, sotu: x.r!.evaluation.alsoValLoss['sotu'] }));
    return [
      { id: 'finetune.table', value, unit: 'nats/token', appearsIn: [at(FT, table)] },
      { id: 'finetune.tokens', value: { train: lora.data.trainTokens, val: lora.data.valTokens }, unit: 'tokens', appearsIn: [at(FT, `${int(lora.data.trainTokens)} training and ${int(lora.data.valTokens)} validation tokens`)] },
      { id: 'finetune.forgetting', value: forget(full) / forget(lora), unit: 'ratio', appearsIn: [at(FT, `forgets about ${fixed(forget(full) / forget(lora), 1)}× as much`)] },
      { id: 'finetune.seconds', value: runs.map((x) => x.seconds), unit: 's', appearsIn: [at(FT, `${int(runs[0]!.seconds)} s (LoRA) and ${int(runs[1]!.seconds)} s (full)`)] },
      {
        id: 'finetune.summary',
        value,
        unit: 'nats/token',
        appearsIn: [at(README, `validation loss ${fixed(lora.evaluation.valLoss.before, 2)} → ${fixed(lora.evaluation.valLoss.after, 2)} on Moby-Dick with LoRA r 8 (${fixed(full.evaluation.valLoss.after, 2)} fully), at a\ncost of ${signed(forget(lora), 2)} on the State of the Union (${signed(forget(full), 2)} fully)`)],
      },
    ];
  },
};

// ---------- DPO on the app model's own samples (scripts/align-demo.ts) ----------
interface AlignResult { pairs: number; before: { rate: number; samples: number }; after: { rate: number; samples: number }; kl: { perSequence: number; perToken: number }; bestOf: { n: number; rate: number; rewardAccuracy: number } | null; lastStep: Record<string, number> | null; events: unknown[]; seconds: number; examples: { before: string[]; after: string[] } }
const ALIGN_RUNS = [
  { name: 'lr 3e-4', args: ['--lr', '3e-4', '--reward'], out: `${SCRATCH}/align-demo` },
  { name: 'lr 1e-3', args: ['--lr', '1e-3'], out: `${SCRATCH}/align-demo-lr1e-3` },
  { name: 'lr 1e-3, `--sft-weight 1`', args: ['--lr', '1e-3', '--sft-weight', '1'], out: `${SCRATCH}/align-demo-sft` },
];
const align: Group = {
  name: 'align',
  commands: ALIGN_RUNS.map((r) => `node --import tsx scripts/align-demo.ts --model ${DOC_APP} ${r.args.join(' ')} --out ${r.out.replace(SCRATCH, 'runs')}`),
  needs: ['train'],
  dependsOn: appDependency,
  async run() {
    const results: { name: string; r: AlignResult; stdout: string }[] = [];
    for (const run of ALIGN_RUNS) {
      const stdout = await runNode(['scripts/align-demo.ts', '--model', APP, ...run.args, '--out', run.out], `node --import tsx scripts/align-demo.ts --model ${APP} ${run.args.join(' ')} --out ${run.out}`, logOf('align'));
      results.push({ name: run.name, r: readJson<AlignResult>(`${run.out}/result.json`), stdout });
    }
    const main = results[0]!;
    const r = main.r;
    // What the demo printed about the pool of samples and the reward model's held-out pairs.
    const pool = /pairs: (\d+) from (\d+) samples of (\d+) prompts \(([\d.]+)% had the property\)/.exec(main.stdout);
    const held = /accuracy on (\d+) held-out pairs/.exec(main.stdout);
    if (!pool || !held || !r.bestOf || !r.lastStep) throw new Error(`scripts/align-demo.ts printed no pool, reward-model or last-step line; see ${logOf('align')}`);
    const perfect = 1 - (1 - r.before.rate) ** r.bestOf.n;
    const table = [
      '| | samples | mentions America |',
      '|---|---:|---:|',
      `| base model | ${r.before.samples} | ${pct(r.before.rate)} |`,
      `| **after DPO** | ${r.after.samples} | **${pct(r.after.rate)}** |`,
      `| base + best-of-${r.bestOf.n} by the reward model (${pct(r.bestOf.rewardAccuracy, 0)} accuracy on ${held[1]} held-out pairs) | ${r.before.samples} | ${pct(r.bestOf.rate)} (a perfect ranker: ${pct(perfect)}) |`,
    ].join('\n');
    const last = r.lastStep;
    const finalText = `loss ${fixed(last['loss']!, 3)} (from 0.693), margin ${fixed(last['rewards/margins']!, 2)}, accuracy ${fixed(last['rewards/accuracies']!, 1)}; ${r.events.length === 0 ? 'no guard events' : `${r.events.length} guard event(s)`}`;
    const lrRows = results.map((x) => `| ${x.name} | ${pct(x.r.after.rate)} | ${fixed(x.r.kl.perSequence, 1)} (${fixed(x.r.kl.perToken, 2)}) |`);
    const lrTable = ['| run | mentions America | KL per completion (per token) |', '|---|---:|---:|', ...lrRows].join('\n');
    const quote = (s: string): string => s.replace(/\s+/g, ' ').trim();
    const examples = `> ${quote(r.examples.before[0]!)}\n>\n> ${quote(r.examples.after[0]!)}`;
    const value = results.map((x) => ({ run: x.name, pairs: x.r.pairs, before: x.r.before, after: x.r.after, kl: x.r.kl, bestOf: x.r.bestOf, lastStep: x.r.lastStep, events: x.r.events.length, seconds: x.r.seconds }));
    // The chart docs/alignment.md shows is this run's.
    copyFileSync(path.join(ROOT, ALIGN_RUNS[0]!.out, 'dpo-curve.png'), path.join(ROOT, 'docs/alignment-dpo-curve.png'));
    return [
      { id: 'align.pool', value: { samples: Number(pool[2]), rate: Number(pool[4]) / 100, pairs: Number(pool[1]), prompts: Number(pool[3]) }, unit: 'samples', appearsIn: [at(AL, `gave ${pool[2]} samples, ${pool[4]}% with the property, and ${pool[1]} pairs`)] },
      { id: 'align.seconds', value: r.seconds, unit: 's', appearsIn: [at(AL, `${int(r.seconds)} s on the shared 2-core machine`)] },
      { id: 'align.table', value: value[0], unit: 'share of samples', appearsIn: [at(AL, table)] },
      { id: 'align.kl', value: r.kl, unit: 'nats', appearsIn: [at(AL, `${fixed(r.kl.perSequence, 2)} nats per completion, ${fixed(r.kl.perToken, 2)} per token`), at(AL, finalText)] },
      { id: 'align.examples', value: r.examples, unit: 'text', appearsIn: [at(AL, examples)] },
      { id: 'align.learningRates', value, unit: 'share of samples, nats', appearsIn: [at(AL, lrTable), at(AL, `kept growing to ${fixed(results[1]!.r.lastStep?.['rewards/margins'] ?? NaN, 1)}`)] },
      { id: 'align.summary', value: { before: r.before.rate, after: r.after.rate, kl: r.kl.perSequence }, unit: 'share of samples', appearsIn: [at(README, `${pct(r.before.rate)} to ${pct(r.after.rate)} at a KL of ${fixed(r.kl.perSequence, 1)} nats per completion`)] },
    ];
  },
};

// ---------- main ----------
const GROUPS: Group[] = [train, calibration, watermark, api, card, finetune, align];

/** The machine, as `genlab info` and /proc/cpuinfo describe it. */
async function machine(): Promise<Machine> {
  const info = await genlab(['info'], logOf('machine'));
  const field = (k: string): string => new RegExp(`^${k}\\s+(.*)$`, 'm').exec(info)?.[1]?.trim() ?? 'unknown';
  let cpuid = '';
  try {
    const ci = readFileSync('/proc/cpuinfo', 'utf8');
    const f = /^cpu family\s*:\s*(\d+)/m.exec(ci)?.[1];
    const m = /^model\s*:\s*(\d+)/m.exec(ci)?.[1];
    const flags = /^flags\s*:(.*)$/m.exec(ci)?.[1]?.split(/\s+/) ?? [];
    const isa = flags.includes('amx_tile') ? 'AMX' : flags.includes('avx512f') ? 'AVX-512' : flags.includes('avx2') ? 'AVX2' : 'no AVX2';
    cpuid = ` (CPUID family ${f} model ${m}; ${isa}${flags.includes('hypervisor') ? '; virtual machine' : ''})`;
  } catch {
    // not Linux: the model name alone
  }
  // The bf16 speed ratio `genlab info` measures at start-up varies from run to run; it is not the machine.
  const native = field('native').replace(/, vdpbf16ps [^;]*/, '');
  return { cpu: `${os.cpus()[0]?.model ?? 'unknown'}${cpuid}`, cores: os.availableParallelism(), backend: `${field('backend')}, ${field('threads')} threads, ${field('precision')}; native: ${native}`, node: process.version };
}

const { values: args } = parseArgs({ options: { only: { type: 'string' }, list: { type: 'boolean', default: false } } });
if (args.list) {
  for (const g of GROUPS) console.log(`${g.name.padEnd(12)} ${g.commands.join('\n             ')}`);
  process.exit(0);
}
const wanted = args.only ? args.only.split(',').map((s) => s.trim()) : GROUPS.map((g) => g.name);
for (const w of wanted) {
  if (!GROUPS.some((g) => g.name === w)) {
    console.error(`measure-figures: --only: no group '${w}'; the groups are ${GROUPS.map((g) => g.name).join(', ')}`);
    process.exit(2);
  }
}

// Prerequisites run too when their results are missing: a stale or absent app model is retrained,
// evaluations the card grades are measured first. What they measure is recorded as well.
const plan = new Set<string>();
const recorded = (name: string): boolean => appIsCurrent() && (readJson<RunJson>(`${APP}/run.json`).evaluations ?? []).some((e) => e.name === name);
const satisfied: Record<string, () => boolean> = { train: appIsCurrent, calibration: () => recorded('calibration') && recorded('corpus-loss'), watermark: () => recorded('watermark') };
const add = (name: string): void => {
  const g = GROUPS.find((x) => x.name === name)!;
  for (const n of g.needs) if (!wanted.includes(n) && !(satisfied[n]?.() ?? false)) add(n);
  plan.add(name);
};
for (const w of wanted) add(w);
const order = GROUPS.filter((g) => plan.has(g.name));

mkdirSync(path.join(ROOT, SCRATCH, 'logs'), { recursive: true });
const file: FiguresFile = existsSync(path.join(ROOT, FIGURES_FILE)) ? readJson<FiguresFile>(FIGURES_FILE) : { schema: FIGURES_SCHEMA, note: '', figures: [] };
const host = await machine();
progress(`machine: ${host.cpu}, ${host.cores} cores; ${host.backend}`);
const t0 = Date.now();
for (const [i, g] of order.entries()) {
  groupLabel = `[${i + 1}/${order.length} ${g.name}]`;
  const started = Date.now();
  const measured = await g.run();
  const date = new Date().toISOString();
  const dependsOn = g.dependsOn();
  const figures: Figure[] = measured.map((m) => ({ ...m, group: g.name, command: g.commands.map(docCommand), machine: host, date, dependsOn }));
  file.figures = [...file.figures.filter((f) => f.group !== g.name), ...figures].sort((a, b) => GROUPS.findIndex((x) => x.name === a.group) - GROUPS.findIndex((x) => x.name === b.group) || a.id.localeCompare(b.id));
  file.schema = FIGURES_SCHEMA;
  file.note = 'Generated by scripts/measure-figures.ts; checked against README.md and docs/*.md by src/report/doc-figures.test.ts. Do not edit by hand.';
  // Written after every group, so a long run that stops keeps what it measured.
  await writeJsonAtomic(path.join(ROOT, FIGURES_FILE), file);
  progress(`${figures.length} figures in ${((Date.now() - started) / 1000).toFixed(0)} s → ${FIGURES_FILE}`);
  for (const f of figures) for (const a of f.appearsIn) progress(`  ${f.id} (${a.file}): ${a.text.split('\n')[0]!}${a.text.includes('\n') ? ' …' : ''}`);
}
groupLabel = '';
progress(`done: ${order.map((g) => g.name).join(', ')} in ${((Date.now() - t0) / 60_000).toFixed(1)} minutes`);
