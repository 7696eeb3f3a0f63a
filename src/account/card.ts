// `genlab card --model DIR`: the model card, written into the model folder as README.md (Hugging
// Face format: YAML front matter, then Markdown) and card.html, with the compute chart. One section
// per requirement of Stanford CRFM's reading of the draft EU AI Act, each filled from run.json and
// the recorded evaluations; then a self-assessment against the CRFM rubric with the evidence for
// every point, and the ten graded providers for comparison.

import path from 'node:path';
import { generate } from '../generate/generate.ts';
import { writeFileAtomic, writeJsonAtomic } from '../io/atomic.ts';
import { loadModel, type LoadedModel } from '../io/model-folder.ts';
import { writeChart, type ChartOptions } from '../report/charts.ts';
import { dataAndComputeSections } from './card-data-sections.ts';
import { toHtml, toMarkdown, toYaml, type Block } from './card-doc.ts';
import { energyText, gramsText, int, sci, type Assessment, type CardInput, type CardSample } from './card-format.ts';
import { modelSections } from './card-model-sections.ts';
import { CRFM_SOURCE, MAX_TOTAL, PROVIDER_GRADES, REQUIREMENTS } from './crfm.ts';
import type { CarbonIntensity } from './emissions.ts';
import { EU_SYSTEMIC_RISK_FLOP, MILESTONES } from './milestones.ts';
import { readEvaluations, type RunRecord } from './run-record.ts';

export const CHART_BASE = 'compute-milestones';

export interface CardOptions {
  model: string;
  /** Recompute emissions with this grid intensity instead of the one recorded at training. */
  intensity?: CarbonIntensity;
  memberStates?: string[];
  license?: string;
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

async function generateSamples(lm: LoadedModel, sources: string[]): Promise<CardSample[]> {
  const out: CardSample[] = [];
  for (const { prompt, purpose } of samplePrompts(sources)) {
    const room = lm.model.config.nPositions - lm.tokenizer.encode(prompt, { allowSpecial: false }).length;
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

function frontMatter(c: CardInput, total: number): string {
  const r = c.record;
  const known = (r?.data?.sources ?? []).filter((s) => s.name === 'sotu' || s.name === 'moby-dick');
  const english = known.length > 0 && known.length === (r?.data?.sources ?? []).length;
  const intensity = c.intensity ?? r?.emissions?.intensity;
  const val = c.evaluations.find((e) => e.name === 'validation-loss');
  const meta: Record<string, unknown> = {
    language: english ? ['en'] : undefined,
    license: c.license ?? 'unknown',
    library_name: 'transformers',
    pipeline_tag: 'text-generation',
    tags: ['gpt2', 'genlab', 'text-generation', ...(r?.data?.sources ?? []).filter((s) => s.kind === 'package').map((s) => s.name)],
    co2_eq_emissions:
      r?.energy && intensity
        ? {
            emissions: +(r.energy.kWh * (r.emissions?.pue ?? 1) * intensity.gPerKWh).toPrecision(4),
            source: `genlab run record: ${r.energy.method === 'rapl' ? 'measured with Intel RAPL' : 'estimated from CPU time and TDP (CodeCarbon method)'}, ${intensity.gPerKWh} gCO2e/kWh`,
            training_type: r.genlab?.kind === 'pretraining' ? 'pre-training' : (r.genlab?.kind ?? 'unknown'),
            geographical_location: r.hardware?.location?.startsWith('unknown') ? 'unknown' : (r.hardware?.location ?? 'unknown'),
            hardware_used: r.hardware ? `${r.hardware.cores} x CPU core (${r.hardware.cpu})` : 'unknown',
          }
        : undefined,
    'model-index': val
      ? [{ name: c.name, results: [{ task: { type: 'text-generation', name: 'next-token prediction' }, dataset: { name: `${(r?.data?.sources ?? []).map((s) => s.name).join(' + ')} (held-out documents)`, type: (r?.data?.sources ?? []).map((s) => s.name).join('+') || 'unknown' }, metrics: [{ type: 'perplexity', value: +val.metrics.perplexity!.toFixed(3), name: 'held-out perplexity' }] }] }]
      : undefined,
    genlab_crfm_self_assessment: `${total}/${MAX_TOTAL}`,
  };
  return toYaml(meta);
}

/** The card's text from its inputs (pure: no files, no model). */
export function composeCard(c: CardInput): ComposedCard {
  const sections = [...dataAndComputeSections(c), ...modelSections(c)];
  const assessments = sections.map((s) => s.assessment);
  const total = assessments.reduce((a, s) => a + s.points, 0);
  const r = c.record;
  const blocks: Block[] = [{ type: 'heading', level: 1, text: c.name }];
  const flops = r?.compute?.trainingFlops ?? r?.training?.trainingFlops;
  blocks.push({
    type: 'para',
    text: `A GPT-2-architecture language model with ${int(c.model.parameters)} parameters${r?.genlab ? `, ${r.genlab.kind === 'pretraining' ? 'pre-trained' : r.genlab.kind} by genlab ${r.genlab.version} on ${r.createdAt?.slice(0, 10)} (preset \`${r.preset}\`)` : ', origin unknown (no run record)'}${flops ? `, using ${sci(flops)} FLOP` : ''}${r?.energy ? ` and ${energyText(r.energy.kWh)}` : ''}${r?.energy && (c.intensity ?? r.emissions?.intensity) ? ` (${gramsText(r.energy.kWh * (r.emissions?.pue ?? 1) * (c.intensity ?? r.emissions!.intensity).gPerKWh)})` : ''}. Every statement below comes from the run record (run.json) and the evaluations recorded with it; what is not known is marked unknown.`,
  });
  blocks.push({ type: 'para', text: `The sections follow the twelve requirements the draft EU AI Act (European Parliament, June 2023) sets for foundation models, as read by Stanford CRFM ([${CRFM_SOURCE.title}](${CRFM_SOURCE.url})); each ends with the points it earns on CRFM's 0–4 rubric.` });
  sections.forEach((s, i) => {
    blocks.push({ type: 'heading', level: 2, text: `${i + 1}. ${s.assessment.title}` });
    blocks.push(...s.blocks);
    blocks.push({ type: 'para', text: `**CRFM rubric: ${s.assessment.points}/4** — ${s.assessment.evidence.join('; ')}.` });
  });
  blocks.push({ type: 'heading', level: 2, text: 'Self-assessment against the CRFM rubric' });
  blocks.push({
    type: 'table',
    header: ['requirement', 'draft Act', 'points', 'evidence'],
    rows: assessments.map((a, i) => [a.title, REQUIREMENTS[i]!.article, `${a.points}/4`, a.evidence.join('; ')]),
    align: ['left', 'left', 'right', 'left'],
  });
  blocks.push({ type: 'para', text: `Total: **${total}/${MAX_TOTAL}**. The grading is genlab's own, applying CRFM's rubric to this card; CRFM graded providers from their public documentation, not their models.` });
  blocks.push({ type: 'heading', level: 2, text: 'Comparison with the ten graded providers (June 2023)' });
  const rows = [...PROVIDER_GRADES.map((p) => ({ who: p.provider, model: p.model, total: p.total })), { who: 'this card (self-assessed)', model: c.name, total }].sort((a, b) => b.total - a.total);
  blocks.push({ type: 'table', header: ['provider', 'model', `total /${MAX_TOTAL}`], rows: rows.map((p) => [p.model === c.name ? `**${p.who}**` : p.who, p.model, String(p.total)]), align: ['left', 'left', 'right'] });
  blocks.push({ type: 'para', text: `Provider totals from CRFM's results figure; grades and the justification of each are in ${CRFM_SOURCE.data}.` });
  if (r?.genlab) {
    const h = r.hyperparameters;
    blocks.push({ type: 'heading', level: 2, text: 'Reproduce' });
    blocks.push({
      type: 'code',
      text: [
        `genlab train --model ${r.preset} --data ${(r.data?.sources ?? []).map((s) => s.name).join(' ')}${h ? ` --steps ${h.steps} --batch ${h.batch} --seq-len ${h.seqLen} --lr ${h.lr} --weight-decay ${h.weightDecay}${h.warmup !== null ? ` --warmup ${h.warmup}` : ''}${h.dropout ? ` --dropout ${h.dropout}` : ''} --vocab-size ${r.tokenizer?.vocabSize} --val-fraction ${h.valFraction} --seed ${h.seed}` : ''} --out ${c.dir}`,
        ...c.evaluations.filter((e) => e.command?.startsWith('genlab')).map((e) => e.command!),
        `genlab card --model ${c.dir}`,
      ].join('\n'),
    });
    blocks.push({ type: 'para', text: `Software: genlab ${r.software?.genlab ?? '?'} (git ${r.software?.gitCommit?.slice(0, 12) ?? 'unknown'}), Node ${r.software?.node ?? '?'} on ${r.software?.platform ?? '?'}.` });
  }
  const fm = frontMatter(c, total);
  const markdown = `---\n${fm}\n---\n\n${toMarkdown(blocks)}`;
  return { markdown, html: toHtml(blocks, `${c.name} — model card`, fm), frontMatter: fm, assessments, total };
}

/** Writes README.md, card.html, card.json and the compute chart into the model folder. */
export async function writeModelCard(o: CardOptions): Promise<CardResult> {
  const lm = await loadModel(o.model);
  const record = lm.runRecord as Partial<RunRecord> | null;
  const evaluations = await readEvaluations(o.model);
  const name = path.basename(path.resolve(o.model));
  const sources = (record?.data?.sources ?? []).map((s) => s.name);
  const samples = o.samples === false ? [] : await generateSamples(lm, sources);
  const flops = record?.compute?.trainingFlops ?? record?.training?.trainingFlops;
  const chart = await writeChart(path.join(o.model, CHART_BASE), milestoneChart(flops ? { name, date: (record?.createdAt ?? new Date().toISOString()).slice(0, 10), flop: flops } : null), { width: 900, height: 520, title: `${name}: training compute` });
  const input: CardInput = {
    name,
    dir: o.model,
    record,
    evaluations,
    model: { nLayer: lm.config.nLayer, nEmbd: lm.config.nEmbd, nHead: lm.config.nHead, nPositions: lm.config.nPositions, vocabSize: lm.config.vocabSize, parameters: lm.model.numParameters() },
    samples,
    ...(o.intensity ? { intensity: o.intensity } : {}),
    ...(o.memberStates ? { memberStates: o.memberStates } : {}),
    ...(o.license ? { license: o.license } : {}),
    chartFile: `${CHART_BASE}.svg`,
  };
  const card = composeCard(input);
  const files = { readme: path.join(o.model, 'README.md'), html: path.join(o.model, 'card.html'), json: path.join(o.model, 'card.json'), chart };
  await writeFileAtomic(files.readme, card.markdown);
  await writeFileAtomic(files.html, card.html);
  await writeJsonAtomic(files.json, { createdAt: new Date().toISOString(), total: card.total, max: MAX_TOTAL, assessments: card.assessments, samples });
  return { ...card, files };
}
