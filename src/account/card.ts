// `genlab card --model DIR`: the model card, written into the model folder as README.md (Hugging
// Face format: YAML front matter, then Markdown) and card.html, with the compute chart. One section
// per requirement of Stanford CRFM's reading of the draft EU AI Act, filled from the run records of
// the model's lineage (card-lineage.ts) and its recorded evaluations and declarations; then the
// self-assessment against the CRFM rubric, where every point names the fact that earned it
// (card-rubric.ts), and the ten graded providers for comparison.

import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { loadRewardModel, REWARD_ARCHITECTURE } from '../align/reward-model.ts';
import { generate } from '../generate/generate.ts';
import { writeFileAtomic, writeJsonAtomic } from '../util/atomic.ts';
import { loadLanguageModel, type LoadedLlama, type LoadedModel } from '../io/model-folder.ts';
import { Llama } from '../models/llama.ts';
import { writeChart, type ChartOptions } from '../util/charts.ts';
import { loadTranslator, MODEL_TYPE as TRANSLATOR_MODEL_TYPE } from '../translate/folder.ts';
import { dataAndComputeSections } from './card-data-sections.ts';
import { toHtml, toMarkdown, toYaml, type Block } from './card-doc.ts';
import { energyText, gramsText, int, sci, type CardInput, type CardSample, type FolderModel } from './card-format.ts';
import { historyText, lineageOf, stageKind, type Stage } from './card-lineage.ts';
import { lineageSourceNames, modelSections } from './card-model-sections.ts';
import { assess, type Assessment } from './card-rubric.ts';
import { CRFM_SOURCE, MAX_TOTAL, PROVIDER_GRADES, REQUIREMENTS } from './crfm.ts';
import type { CarbonIntensity } from '../record/emissions.ts';
import { EU_SYSTEMIC_RISK_FLOP, MILESTONES } from './milestones.ts';
import { DECLARATIONS_FILE, EVALUATIONS_FILE, readDeclarations, readEvaluations, readRunRecord, recordDeclaration, type Declaration, type RunRecord } from '../record/run-record.ts';

export const CHART_BASE = 'compute-milestones';

export interface CardOptions {
  model: string;
  /** Recompute emissions with this grid intensity instead of the one recorded at training. */
  intensity?: CarbonIntensity;
  memberStates?: string[];
  license?: string;
  /**
   * Who declares --license and --member-states. With it they are recorded in the folder (run.json
   * declarations, or declarations.json) and count in the self-assessment; without it they are the
   * card author's claims, shown as such and not scored.
   */
  declaredBy?: string;
  /** Generate example continuations (default true). */
  samples?: boolean;
}

export interface ComposedCard {
  markdown: string;
  html: string;
  frontMatter: string;
  assessments: Assessment[];
  total: number;
}

export interface CardResult extends ComposedCard {
  files: { readme: string; html: string; json: string; chart: { svg: string; png: string; html: string } };
}

// Label sides that keep the names of neighbouring milestones apart on the chart.
const LABEL_SIDE: Record<string, 'left' | 'right' | 'top' | 'bottom'> = {
  'Chinchilla (70B)': 'left',
  'PaLM (540B)': 'left',
  'BLOOM (176B)': 'bottom',
  'LLaMA (65B)': 'right',
  'GPT-4': 'left',
  'Gemini 1.0 Ultra': 'top',
  'Llama 3.1 (405B)': 'right',
  'GPT-3 (175B)': 'top',
};

/**
 * Training compute of this model on the timeline of milestone systems. The y axis is log10(FLOP),
 * drawn on a linear axis so every decade gets a labelled tick.
 */
export function milestoneChart(ours: { name: string; date: string; flop: number } | null): ChartOptions {
  const lg = (x: number): number => +Math.log10(x).toFixed(4);
  const points = MILESTONES.map((m) => ({ value: [`${m.date}-15`, lg(m.flop)], name: m.name, label: { position: LABEL_SIDE[m.name] ?? 'right' } }));
  const lastDate = ours && ours.date > '2024-12-31' ? ours.date : '2024-12-31';
  const maxDate = new Date(Date.parse(lastDate) + 200 * 86400e3).toISOString().slice(0, 10);
  // An even lowest decade, so ticks every two decades land on 1e(even).
  const minExp = 2 * Math.floor((ours ? Math.min(16, Math.floor(lg(ours.flop)) - 1) : 16) / 2);
  return {
    title: { text: 'Training compute: this model and milestone language models', subtext: 'FLOP, log scale · milestones from Epoch AI (or 6·N·D from the papers) · this model counted by genlab', left: 'center' },
    grid: { top: 80, left: 70, right: 50, bottom: 40 },
    xAxis: { type: 'time', min: '2016-06-01', max: maxDate },
    yAxis: { type: 'value', name: 'training FLOP', min: minExp, max: 26, interval: 2, axisLabel: { formatter: (v: number) => `1e${v}` } },
    series: [
      {
        name: 'milestones',
        type: 'scatter',
        data: points,
        symbolSize: 9,
        itemStyle: { color: '#4477aa' },
        label: { show: true, formatter: (p: { name: string }) => p.name, fontSize: 10 },
        markLine: {
          silent: true,
          symbol: 'none',
          lineStyle: { type: 'dashed', color: '#aa3377' },
          label: { formatter: 'EU AI Act: systemic risk presumed above 1e25 FLOP', position: 'insideStartTop', fontSize: 10 },
          data: [{ yAxis: lg(EU_SYSTEMIC_RISK_FLOP) }],
        },
      },
      ...(ours
        ? [
            {
              name: 'this model',
              type: 'scatter' as const,
              data: [{ value: [ours.date, lg(ours.flop)], name: ours.name }],
              symbolSize: 14,
              symbol: 'diamond',
              itemStyle: { color: '#ee6677' },
              label: { show: true, formatter: `${ours.name}: ${sci(ours.flop)} FLOP`, position: 'left' as const, fontSize: 11, fontWeight: 'bold' as const },
            },
          ]
        : []),
    ],
  };
}

/** Prompts that show the style the model learned and what happens when asked for a fact. */
function samplePrompts(sources: string[]): { prompt: string; purpose: string }[] {
  if (sources.includes('sotu')) {
    return [
      { prompt: 'The state of the Union is', purpose: 'the register it learned' },
      { prompt: 'We must not forget that', purpose: 'free continuation' },
      { prompt: 'In 1865 the President of the United States was', purpose: 'asks for a fact' },
    ];
  }
  return [
    { prompt: 'The', purpose: 'free continuation' },
    { prompt: 'It was the first time that', purpose: 'free continuation' },
    { prompt: 'The capital of France is', purpose: 'asks for a fact' },
  ];
}

async function generateSamples(lm: LoadedModel | LoadedLlama, sources: string[]): Promise<CardSample[]> {
  const out: CardSample[] = [];
  for (const { prompt, purpose } of samplePrompts(sources)) {
    const room = lm.model.contextLength - lm.tokenizer.encode(prompt, { allowSpecial: false }).length;
    if (room < 2) continue;
    const r = await generate(lm, prompt, { seed: 0, temperature: 0.8, topK: 40, maxTokens: Math.min(40, room - 1) });
    const c = r.completions[0]!;
    if (c.tokens.length === 0) continue;
    const probs = c.tokens.map((t) => Math.exp(t.logprob));
    let lo = 0;
    probs.forEach((p, i) => (p < probs[lo]! ? (lo = i) : 0));
    out.push({ prompt, text: c.text, meanProbability: probs.reduce((a, b) => a + b, 0) / probs.length, lowest: { text: c.tokens[lo]!.text, probability: probs[lo]! }, purpose });
  }
  return out;
}

const TRAINING_TYPE: Record<string, string> = { pretraining: 'pre-training', 'fine-tuning': 'fine-tuning', alignment: 'fine-tuning (preference alignment)', merge: 'LoRA merge (no training)', 'reward-model': 'reward-model training', translation: 'pre-training (translation)' };

/** Training FLOPs of every stage together; undefined when a stage's are unknown. */
function lineageFlops(lineage: readonly Stage[]): number | undefined {
  const each = lineage.map((s) => s.record?.training?.trainingFlops ?? s.record?.compute?.trainingFlops);
  return each.every((f) => typeof f === 'number') ? each.reduce<number>((a, f) => a + f!, 0) : undefined;
}

function frontMatter(c: CardInput, lineage: readonly Stage[], total: number): string {
  const r = c.record;
  const sources = lineage.flatMap((s) => s.record?.data?.sources ?? []);
  const known = sources.filter((s) => s.name === 'sotu' || s.name === 'moby-dick');
  const english = known.length > 0 && known.length === sources.length;
  const intensity = c.intensity ?? r?.emissions?.intensity;
  const val = c.evaluations.find((e) => e.name === 'validation-loss');
  const licence = c.declarations?.find((d) => d.name === 'licence');
  const kind = stageKind(r);
  const meta: Record<string, unknown> = {
    language: c.model.languages ? [c.model.languages.source, c.model.languages.target] : english ? ['en'] : undefined,
    license: licence ? [licence.value].flat().join(' ') : (c.license ?? 'unknown'),
    library_name: c.model.kind === 'translator' ? 'genlab' : 'transformers',
    pipeline_tag: c.model.kind === 'translator' ? 'translation' : c.model.kind === 'reward-model' ? 'text-classification' : 'text-generation',
    tags: ['genlab', ...(c.model.kind === 'translator' ? [] : [c.model.family ?? 'gpt2']), ...new Set(sources.filter((s) => s.kind === 'package').map((s) => s.name))],
    co2_eq_emissions:
      typeof r?.energy?.kWh === 'number' && intensity
        ? {
            emissions: +(r.energy.kWh * (r.emissions?.pue ?? 1) * intensity.gPerKWh).toPrecision(4),
            source: `genlab run record of this folder's last stage: ${r.energy.method === 'rapl' ? 'measured with Intel RAPL' : 'estimated from CPU time and TDP (CodeCarbon method)'}, ${intensity.gPerKWh} gCO2e/kWh`,
            training_type: kind ? (TRAINING_TYPE[kind] ?? kind) : 'unknown',
            geographical_location: r.hardware?.location?.startsWith('unknown') ? 'unknown' : (r.hardware?.location ?? 'unknown'),
            hardware_used: r.hardware ? `${r.hardware.cores} x CPU core (${r.hardware.cpu})` : 'unknown',
          }
        : undefined,
    'model-index':
      val && typeof val.metrics.perplexity === 'number'
        ? [{ name: c.name, results: [{ task: { type: 'text-generation', name: 'next-token prediction' }, dataset: { name: val.data, type: (r?.data?.sources ?? []).map((s) => s.name).join('+') || 'unknown' }, metrics: [{ type: 'perplexity', value: +val.metrics.perplexity.toFixed(3), name: 'held-out perplexity' }] }] }]
        : undefined,
    genlab_crfm_self_assessment: `${total}/${MAX_TOTAL}`,
  };
  return toYaml(meta);
}

/** The command that made a stage: recorded by schema 2; rebuilt from the hyperparameters of older pre-training records. */
function stageCommand(s: Stage, dir: string): string | null {
  const r = s.record;
  if (!r) return null;
  if (typeof r.command === 'string') return r.command;
  const h = r.hyperparameters as Record<string, unknown> | undefined;
  if (stageKind(r) !== 'pretraining' || !h) return null;
  return `genlab train --model ${r.preset} --data ${(r.data?.sources ?? []).map((x) => (x.kind === 'package' ? x.name : x.path)).join(' ')} --steps ${h.steps} --batch ${h.batch} --seq-len ${h.seqLen} --lr ${h.lr} --weight-decay ${h.weightDecay}${h.warmup !== null && h.warmup !== undefined ? ` --warmup ${h.warmup}` : ''}${h.dropout ? ` --dropout ${h.dropout}` : ''} --vocab-size ${r.tokenizer?.vocabSize} --val-fraction ${h.valFraction} --seed ${h.seed} --out ${s.role === 'model' ? dir : (s.path ?? s.name)}`;
}

/** The card's text from its inputs (pure, except that parents named only by folder are read). */
export function composeCard(c: CardInput): ComposedCard {
  const lineage = c.lineage ?? lineageOf(c.record as Record<string, unknown> | null, c.name);
  const sections = [...dataAndComputeSections(c, lineage), ...modelSections(c, lineage)];
  const evaluationsFile = c.evaluationsFile ?? (c.record ? 'run.json' : EVALUATIONS_FILE);
  const { assessments, total } = assess({
    lineage,
    model: { ...(c.record ?? {}), evaluations: c.evaluations, declarations: c.declarations ?? [], weights: { parameters: c.model.parameters } },
    citeModel: (fact) => (fact.startsWith('evaluations') ? evaluationsFile : fact.startsWith('declarations') ? (c.record ? 'run.json' : DECLARATIONS_FILE) : fact.startsWith('weights.') ? 'model.safetensors (counted when the card was written):' : 'run.json'),
  });
  const r = c.record;
  const blocks: Block[] = [{ type: 'heading', level: 1, text: c.name }];
  const flops = lineageFlops(lineage);
  const intensity = c.intensity ?? r?.emissions?.intensity;
  blocks.push({
    type: 'para',
    text:
      `${c.model.architecture}: ${int(c.model.parameters)} parameters. ` +
      (r ? `How it was made: ${historyText(lineage)}. ${flops !== undefined ? `Training compute of all its stages: ${sci(flops)} FLOP. ` : ''}${typeof r.energy?.kWh === 'number' ? `Its last stage (genlab ${r.genlab?.version ?? '?'}, ${r.createdAt?.slice(0, 10) ?? '?'}) used ${energyText(r.energy.kWh)}${intensity ? ` (${gramsText(r.energy.kWh * (r.emissions?.pue ?? 1) * intensity.gPerKWh)})` : ''}. ` : ''}` : 'Origin unknown: this folder has no run record (run.json), so how the weights were made is unknown. ') +
      'Every point of the self-assessment names the fact that earned it: a path into this folder\'s run.json (parents\' records are embedded in it), its recorded evaluations or its recorded declarations. The card\'s own prose, the examples it generates and flags given to `genlab card` earn nothing; what is not known is marked unknown.',
  });
  blocks.push({ type: 'para', text: `The sections follow the twelve requirements the draft EU AI Act (European Parliament, June 2023) sets for foundation models, as read by Stanford CRFM ([${CRFM_SOURCE.title}](${CRFM_SOURCE.url})); each ends with the points it earns on CRFM's 0–4 rubric.` });
  REQUIREMENTS.forEach((req, i) => {
    const a = assessments[i]!;
    blocks.push({ type: 'heading', level: 2, text: `${i + 1}. ${req.title}` });
    blocks.push(...sections.find((s) => s.key === req.key)!.blocks);
    blocks.push({ type: 'para', text: `**CRFM rubric: ${a.points}/4**${a.max < 4 ? ` (no fact genlab records can earn more than ${a.max} here)` : ''}:` });
    blocks.push({ type: 'list', items: a.items.map((p) => `${p.earned ? `+${p.earned}` : '+0'} ${p.awards} — ${p.earned ? `earned by ${p.evidence}` : p.evidence}`) });
  });
  blocks.push({ type: 'heading', level: 2, text: 'Self-assessment against the CRFM rubric' });
  blocks.push({
    type: 'table',
    header: ['requirement', 'draft Act', 'points', 'earned by'],
    rows: assessments.map((a, i) => [a.title, REQUIREMENTS[i]!.article, `${a.points}/4`, a.items.filter((p) => p.earned).map((p) => p.id).join(', ') || 'nothing recorded']),
    align: ['left', 'left', 'right', 'left'],
  });
  blocks.push({ type: 'para', text: `Total: **${total}/${MAX_TOTAL}**. The grading is genlab's own, applying CRFM's rubric to facts recorded with this model; CRFM graded providers from their public documentation, not their models.` });
  blocks.push({ type: 'heading', level: 2, text: 'Comparison with the ten graded providers (June 2023)' });
  const rows = [...PROVIDER_GRADES.map((p) => ({ who: p.provider, model: p.model, total: p.total })), { who: 'this card (self-assessed)', model: c.name, total }].sort((a, b) => b.total - a.total);
  blocks.push({ type: 'table', header: ['provider', 'model', `total /${MAX_TOTAL}`], rows: rows.map((p) => [p.model === c.name ? `**${p.who}**` : p.who, p.model, String(p.total)]), align: ['left', 'left', 'right'] });
  blocks.push({ type: 'para', text: `Provider totals from CRFM's results figure; grades and the justification of each are in ${CRFM_SOURCE.data}.` });
  const commands = [...lineage].reverse().map((s) => stageCommand(s, c.dir)).filter((x): x is string => x !== null);
  if (commands.length > 0) {
    blocks.push({ type: 'heading', level: 2, text: 'Reproduce' });
    blocks.push({ type: 'code', text: [...commands, ...c.evaluations.filter((e) => e.command?.startsWith('genlab')).map((e) => e.command!), `genlab card --model ${c.dir}`].join('\n') });
    const sw = r?.software;
    if (sw) blocks.push({ type: 'para', text: `Software of the last stage: genlab ${sw.genlab} (git ${sw.gitCommit?.slice(0, 12) ?? 'unknown'}), Node ${sw.node} on ${sw.platform}.` });
  }
  const fm = frontMatter(c, lineage, total);
  const markdown = `---\n${fm}\n---\n\n${toMarkdown(blocks)}`;
  return { markdown, html: toHtml(blocks, `${c.name} — model card`, fm), frontMatter: fm, assessments, total };
}

/** What the folder holds, loaded by its kind: a GPT-2 or Llama-family language model, a reward model or a translator. */
async function loadFolder(dir: string): Promise<{ model: FolderModel; lm: LoadedModel | LoadedLlama | null }> {
  let config: { model_type?: unknown; architectures?: unknown };
  try {
    config = JSON.parse(await readFile(path.join(dir, 'config.json'), 'utf8')) as typeof config;
  } catch (err) {
    throw new Error(`${path.join(dir, 'config.json')} cannot be read (${(err as Error).message}); --model must be a model folder (an adapter folder has no card of its own: merge it with \`genlab merge\` first)`);
  }
  if (config.model_type === TRANSLATOR_MODEL_TYPE) {
    const tm = await loadTranslator(dir);
    const t = tm.model.config;
    return { lm: null, model: { kind: 'translator', architecture: `An encoder–decoder Transformer translation model: ${t.nEncoderLayer}+${t.nDecoderLayer} layers, width ${t.nEmbd}, ${t.nHead} heads, context ${t.nPositions} tokens, vocabulary ${t.vocabSize}`, parameters: tm.model.numParameters(), nPositions: t.nPositions, vocabSize: t.vocabSize, languages: { source: t.sourceLang, target: t.targetLang } } };
  }
  const gpt = (c: { nLayer: number; nEmbd: number; nHead: number; nPositions: number; vocabSize: number }): string => `${c.nLayer} layers, width ${c.nEmbd}, ${c.nHead} heads, context ${c.nPositions} tokens, vocabulary ${c.vocabSize}`;
  if (Array.isArray(config.architectures) && config.architectures.includes(REWARD_ARCHITECTURE)) {
    const { rm } = await loadRewardModel(dir);
    const b = rm.transformer.config;
    return { lm: null, model: { kind: 'reward-model', architecture: `A reward model (${REWARD_ARCHITECTURE}): a GPT-2 backbone (${gpt(b)}) with a scalar score head`, parameters: rm.numParameters(), nPositions: b.nPositions, vocabSize: b.vocabSize } };
  }
  const lm = await loadLanguageModel(dir);
  if (lm.model instanceof Llama) {
    const c = lm.model.config;
    const recipe = `RMSNorm, rotary positions, SwiGLU${c.qkvBias || c.oBias || c.mlpBias ? '' : ', no biases'}; ${c.numHiddenLayers} layers, width ${c.hiddenSize}, ${c.numAttentionHeads} heads (${c.numKeyValueHeads} key/value), context ${lm.model.contextLength} tokens, vocabulary ${c.vocabSize}`;
    return { lm, model: { kind: 'language-model', family: c.modelType, architecture: `A ${c.modelType === 'llama' ? 'Llama' : `${c.modelType} (Llama-family)`}-architecture language model (${recipe})`, parameters: lm.model.numParameters(), nPositions: lm.model.contextLength, vocabSize: c.vocabSize } };
  }
  const gptLm = lm as LoadedModel;
  return { lm, model: { kind: 'language-model', family: 'gpt2', architecture: `A GPT-2-architecture language model (${gpt(gptLm.config)})`, parameters: lm.model.numParameters(), nPositions: gptLm.config.nPositions, vocabSize: gptLm.config.vocabSize } };
}

/** Writes README.md, card.html, card.json and the compute chart into the model folder. */
export async function writeModelCard(o: CardOptions): Promise<CardResult> {
  const { model, lm } = await loadFolder(o.model);
  if (o.declaredBy !== undefined) {
    const by = o.declaredBy.trim();
    if (!by) throw new Error('--declared-by needs the name of the person or organisation making the declaration');
    if (!o.license && !o.memberStates?.length) throw new Error('--declared-by declares --license and/or --member-states; give at least one of them');
    const at = new Date().toISOString();
    const declare = (name: Declaration['name'], value: string | string[], flag: string): Promise<string> =>
      recordDeclaration(o.model, { name, value, by, createdAt: at, command: `genlab card --model ${o.model} ${flag} ${[value].flat().join(' ')} --declared-by ${JSON.stringify(by)}` });
    if (o.license) await declare('licence', o.license, '--license');
    if (o.memberStates?.length) await declare('member-states', o.memberStates, '--member-states');
  }
  const record = (await readRunRecord(o.model)) as Partial<RunRecord> | null;
  const evaluations = await readEvaluations(o.model);
  const declarations = await readDeclarations(o.model);
  const name = path.basename(path.resolve(o.model));
  const lineage = lineageOf(record as Record<string, unknown> | null, name);
  const samples = o.samples === false || !lm ? [] : await generateSamples(lm, lineageSourceNames(lineage, { text: true }));
  const flops = lineageFlops(lineage);
  const chart = await writeChart(path.join(o.model, CHART_BASE), milestoneChart(flops !== undefined && flops > 0 ? { name, date: (record?.createdAt ?? new Date().toISOString()).slice(0, 10), flop: flops } : null), { width: 900, height: 520, title: `${name}: training compute` });
  const declaredNow = o.declaredBy !== undefined;
  const input: CardInput = {
    name,
    dir: o.model,
    record,
    lineage,
    evaluations,
    evaluationsFile: record ? 'run.json' : EVALUATIONS_FILE,
    declarations,
    model,
    samples,
    ...(o.intensity ? { intensity: o.intensity } : {}),
    ...(o.memberStates && !declaredNow ? { memberStates: o.memberStates } : {}),
    ...(o.license && !declaredNow ? { license: o.license } : {}),
    chartFile: `${CHART_BASE}.svg`,
  };
  const card = composeCard(input);
  const files = { readme: path.join(o.model, 'README.md'), html: path.join(o.model, 'card.html'), json: path.join(o.model, 'card.json'), chart };
  await writeFileAtomic(files.readme, card.markdown);
  await writeFileAtomic(files.html, card.html);
  await writeJsonAtomic(files.json, { createdAt: new Date().toISOString(), total: card.total, max: MAX_TOTAL, assessments: card.assessments, samples });
  return { ...card, files };
}
