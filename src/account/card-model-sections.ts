// Sections 6–12 of the model card (capabilities and limitations, risks and mitigations,
// evaluations, testing, machine-generated content, member states, downstream documentation):
// the recorded evaluations and declarations, and samples generated when the card is written.
// The prose earns nothing; the points come from card-rubric.ts.

import type { Block } from './card-doc.ts';
import { historyText, stageKind, type Stage } from './card-lineage.ts';
import { evalsNamed, int, pct, UNKNOWN, type CardInput, type Section } from './card-format.ts';
import type { Declaration, Evaluation } from '../record/run-record.ts';

interface WatermarkDetails {
  byLength?: { tokens: number; detectionRate: number; falsePositiveRate: number; samples: number; humanWindows: number }[];
}

const num = (e: Evaluation | undefined, k: string): number | undefined => (typeof e?.metrics?.[k] === 'number' ? e.metrics[k] : undefined);

/** Names of every source any stage trained on (text: only the text it learned to continue, not preference pairs). */
export function lineageSourceNames(lineage: readonly Stage[], o: { text?: boolean } = {}): string[] {
  const sources = lineage.flatMap((s) => s.record?.data?.sources ?? []).filter((x) => !o.text || x.kind !== 'preference-pairs');
  return [...new Set(sources.map((x) => x.name))];
}

/** What the model does, from the folder's kind and its lineage; never more than the records show. */
function whatItDoes(c: CardInput, lineage: readonly Stage[], sources: string[]): string {
  const history = `How it was made: ${historyText(lineage)}.`;
  const unknown = lineage.some((s) => !s.record);
  if (c.model.kind === 'reward-model') return `A reward model: it scores a prompt and completion with one number (higher = preferred, as learned from its pairs) and does not generate text. ${history}`;
  if (c.model.kind === 'translator') return `Translates ${c.model.languages?.source ?? '?'} into ${c.model.languages?.target ?? '?'}, sentence by sentence, seeing at most ${c.model.nPositions} tokens of each. ${history}`;
  const kinds = lineage.map((s) => stageKind(s.record));
  const onlyPretrained = !unknown && kinds.every((k) => k === 'pretraining');
  const style = sources.length ? `in the style and vocabulary of ${sources.map((s) => `\`${s}\``).join(', ')}` : 'in the style of its (unrecorded) training data';
  return `Continues text ${style}, seeing at most ${c.model.nPositions} tokens of context. ${history} ${
    onlyPretrained
      ? 'It was only pre-trained: it does not follow instructions or answer questions, and it knows nothing beyond its training text.'
      : unknown
        ? 'Part of its history is unknown, so what else it learned is unknown too.'
        : kinds.includes('alignment')
          ? 'Its preference alignment moves it toward the completions people chose in its pairs; it was not trained to follow instructions in general.'
          : 'It was adapted to new text after pre-training; it was not trained to follow instructions.'
  }`;
}

function capabilities(c: CardInput, lineage: readonly Stage[]): Section {
  const blocks: Block[] = [];
  const sources = lineageSourceNames(lineage);
  const texts = lineageSourceNames(lineage, { text: true });
  const val = evalsNamed(c.evaluations, 'validation-loss')[0];
  const cal = evalsNamed(c.evaluations, 'calibration')[0];
  blocks.push({ type: 'para', text: whatItDoes(c, lineage, texts) });
  const measured: string[] = [];
  if (cal) {
    measured.push(`on ${cal.data}: loss ${num(cal, 'loss')?.toFixed(3)} nats/token, perplexity ${num(cal, 'perplexity')?.toFixed(1)}, ${num(cal, 'bitsPerByte')?.toFixed(3)} bits per byte over ${int(num(cal, 'tokens'))} tokens; its most likely next token is right ${pct(num(cal, 'top1Accuracy') ?? NaN)} of the time, with mean confidence ${pct(num(cal, 'meanConfidence') ?? NaN)}`);
  }
  if (val) measured.push(`held-out loss ${num(val, 'loss')?.toFixed(3)} nats/token, perplexity ${num(val, 'perplexity')?.toFixed(1)} on the ${val.data}${num(val, 'lossBefore') !== undefined ? ` (${num(val, 'lossBefore')!.toFixed(3)} before its last training stage)` : ''}`);
  for (const e of evalsNamed(c.evaluations, 'corpus-loss')) {
    const inTraining = sources.some((s) => (e.data ?? '').split(' + ').includes(s));
    measured.push(`perplexity ${num(e, 'perplexity')?.toFixed(1)}${num(e, 'bitsPerByte') !== undefined ? `, ${num(e, 'bitsPerByte')!.toFixed(3)} bits per byte` : ''} on ${e.data}${inTraining ? ' (includes documents it trained on)' : ' (text it was not trained on)'}`);
  }
  for (const e of [...evalsNamed(c.evaluations, 'translation'), ...evalsNamed(c.evaluations, 'preference-pairs')]) measured.push(`${e.name} on ${e.data}: ${metricText(e)}`);
  blocks.push({ type: 'para', text: measured.length ? `Measured: ${measured.join('; ')}.` : `Measured capabilities: ${UNKNOWN}; no evaluation is recorded.` });
  if (c.samples.length) {
    blocks.push({ type: 'para', text: "Examples, generated when this card was written (seed 0, temperature 0.8, top-k 40); the probability is the model's own for the tokens it chose. They illustrate; they earn no points:" });
    blocks.push({
      type: 'table',
      header: ['prompt', 'continuation', 'mean p', 'least likely token', 'shows'],
      rows: c.samples.map((s) => [`\`${s.prompt}\``, s.text.replace(/\s+/g, ' ').trim(), s.meanProbability.toFixed(2), `\`${s.lowest.text}\` (p = ${s.lowest.probability.toFixed(3)})`, s.purpose]),
    });
  }
  blocks.push({
    type: 'list',
    items: [
      `Context: ${c.model.nPositions} tokens; longer inputs must be cut.`,
      `Vocabulary: ${c.model.vocabSize} byte-level BPE tokens, so any text can be encoded, but text unlike the training data (other languages, code) costs many tokens and is modelled poorly.`,
      ...(c.model.kind === 'language-model' ? ['Facts: it produces fluent statements with no grounding; a prompt asking for a fact is completed with whatever its training text makes likely, not with the truth.'] : []),
    ],
  });
  return { key: 'capabilities', blocks };
}

function watermarkSummary(e: Evaluation): string {
  const d = (e.details ?? {}) as WatermarkDetails;
  const rows = d.byLength ?? [];
  const parts = rows.map((r) => `${r.tokens} tokens: ${pct(r.detectionRate)} detected, ${pct(r.falsePositiveRate, 2)} false positives`);
  return `${parts.join('; ')} (γ ${num(e, 'gamma')}, δ ${num(e, 'delta')}, z > 4)`;
}

function risks(c: CardInput, lineage: readonly Stage[]): Section {
  const blocks: Block[] = [];
  const wm = evalsNamed(c.evaluations, 'watermark')[0];
  const cal = evalsNamed(c.evaluations, 'calibration')[0];
  const reviewed = lineage.flatMap((s) => (s.record?.data?.sources ?? []).filter((x) => x.review).map((x) => `\`${x.name}\``));
  blocks.push({ type: 'para', text: 'Foreseeable risks of a language model of this kind:' });
  blocks.push({
    type: 'list',
    items: [
      'Fabrication: confident, fluent statements that are false (dates, names, quotations attributed to real people).',
      `Bias: it reproduces the views and blind spots of its training data${reviewed.length ? `; the reviews recorded for ${[...new Set(reviewed)].join(', ')} are under Data governance` : `; what they are is ${UNKNOWN} (no review is recorded)`}.`,
      `Regurgitation: it may repeat passages of its training text verbatim; how often is ${UNKNOWN} (not measured).`,
      'Deception: its text passed off as written by a person.',
    ],
  });
  blocks.push({ type: 'para', text: 'Mitigations genlab offers, and how well they work on this model:' });
  blocks.push({
    type: 'list',
    items: [
      `Watermark: generation can add a statistical watermark (green-list logit bias, Kirchenbauer et al. 2023; the \`watermark\` option of generation and of the API) that \`genlab detect\` finds without the model. ${wm ? `Measured: ${watermarkSummary(wm)}; the model's own perplexity of what it generates is ${num(wm, 'perplexityPlain')?.toFixed(2)} without and ${num(wm, 'perplexityWatermarked')?.toFixed(2)} with the watermark, which is why it is off unless requested.` : `Its effectiveness on this model is ${UNKNOWN} (run \`genlab detect --study\`).`}`,
      `Confidence signals: every generated token comes with its probability and the entropy of the model's distribution, so the app can mark low-confidence spans. ${cal ? `The probabilities are meaningful to the extent the calibration shows: expected calibration error ${num(cal, 'ece')?.toFixed(4)} (${cal.data}).` : `Their calibration is ${UNKNOWN} (run \`genlab eval --calibration\`).`}`,
    ],
  });
  blocks.push({ type: 'para', text: 'Fabrication is inherent to a model trained to predict text; it can be signalled (probabilities, entropy) but not removed. A watermark can be removed by paraphrasing and only covers text generated with it switched on.' });
  return { key: 'risks', blocks };
}

function metricText(e: Evaluation): string {
  const m = e.metrics ?? {};
  switch (e.name) {
    case 'validation-loss':
      return `loss ${m.loss?.toFixed(4)}, perplexity ${m.perplexity?.toFixed(2)}`;
    case 'corpus-loss':
      return `loss ${m.loss?.toFixed(4)}, perplexity ${m.perplexity?.toFixed(2)}, ${m.bitsPerByte?.toFixed(4)} bits/byte, ${int(m.tokens ?? 0)} tokens`;
    case 'calibration':
      return `ECE ${m.ece?.toFixed(4)} (top-10 ${m.topKEce?.toFixed(4)}), accuracy ${pct(m.top1Accuracy ?? 0)}, confidence ${pct(m.meanConfidence ?? 0)}, ${int(m.tokens ?? 0)} tokens`;
    case 'watermark':
      return watermarkSummary(e);
    default:
      return Object.entries(m)
        .map(([k, v]) => `${k} ${Number.isInteger(v) ? v : v.toPrecision(4)}`)
        .join(', ');
  }
}

function evaluations(c: CardInput): Section {
  if (c.evaluations.length === 0) return { key: 'evaluations', blocks: [{ type: 'para', text: `Evaluations: ${UNKNOWN}; none is recorded.` }] };
  return {
    key: 'evaluations',
    blocks: [
      { type: 'table', header: ['evaluation', 'data', 'result', 'by / reproduce with'], rows: c.evaluations.map((e) => [e.name ?? UNKNOWN, e.data ?? UNKNOWN, metricText(e), [e.by ? `by ${e.by}` : '', e.command ? `\`${e.command}\`` : ''].filter(Boolean).join('; ')]) },
      { type: 'para', text: `Recorded in ${c.evaluationsFile ?? 'run.json'}. Not evaluated unless listed above: standard benchmarks, bias (unintentional harms) and misuse (intentional harms).` },
    ],
  };
}

function testing(c: CardInput): Section {
  const cal = evalsNamed(c.evaluations, 'calibration')[0];
  const wm = evalsNamed(c.evaluations, 'watermark')[0];
  const external = c.evaluations.filter((e) => e.name === 'external-evaluation' || e.name === 'red-team');
  const model: string[] = [];
  if (cal) model.push(`calibration on held-out text (\`${cal.command ?? 'command not recorded'}\`)`);
  if (wm) model.push(`watermark detection and false-positive rates (\`${wm.command ?? 'command not recorded'}\`)`);
  return {
    key: 'testing',
    blocks: [
      { type: 'para', text: model.length ? `Testing of this model: ${model.join('; ')}; results under Evaluations.` : `Testing of this model beyond its training's own validation: ${UNKNOWN}.` },
      { type: 'para', text: external.length ? `Outside testing: ${external.map((e) => `${e.name} by ${e.by ?? 'an unnamed party'} (${e.data})`).join('; ')}.` : 'External evaluation and red-teaming: none recorded.' },
      { type: 'para', text: "The software that trained and runs the model has its own tests (kernels against a plain TypeScript reference and float64 gradient checks, bit-exact resumption, the watermark detector against hand counts); they test genlab, not this model." },
    ],
  };
}

function machineGenerated(c: CardInput): Section {
  const wm = evalsNamed(c.evaluations, 'watermark')[0];
  return {
    key: 'machineGenerated',
    blocks: [
      { type: 'para', text: "Within genlab: every response of `genlab serve`'s API names the model that produced it, and the app shows generated text as suggestions the user accepts or rejects. Beyond genlab: text generated with the watermark on carries it; `genlab detect --model DIR TEXT` reports the z-score and p-value and flags z > 4." },
      { type: 'para', text: wm ? `Measured on this model: ${watermarkSummary(wm)}.` : `The watermark's detection rate on this model is ${UNKNOWN} (not measured).` },
      { type: 'para', text: 'Anyone publishing text from this model should label it as machine-generated; the watermark is off unless requested.' },
    ],
  };
}

const declared = (c: CardInput, name: Declaration['name']): Declaration | undefined => c.declarations?.find((d) => d.name === name);

function memberStates(c: CardInput): Section {
  const d = declared(c, 'member-states');
  const blocks: Block[] = [];
  if (d) blocks.push({ type: 'para', text: `Made available in: ${[d.value].flat().join(', ')}; declared by ${d.by} on ${d.createdAt.slice(0, 10)} (recorded with \`${d.command}\`). No practice differing between these states is recorded.` });
  if (c.memberStates?.length) blocks.push({ type: 'para', text: `Claimed by whoever wrote this card (\`genlab card --member-states\` without --declared-by, so not recorded and not scored): ${c.memberStates.join(', ')}.` });
  if (!d && !c.memberStates?.length) blocks.push({ type: 'para', text: `Where in the EU this model is placed on the market or made available is ${UNKNOWN}; whoever distributes it declares it with \`genlab card --member-states ... --declared-by NAME\`.` });
  return { key: 'memberStates', blocks };
}

function downstream(c: CardInput, lineage: readonly Stage[]): Section {
  const r = c.record;
  const d = declared(c, 'licence');
  const unknownStages = lineage.filter((s) => !s.record).length;
  const blocks: Block[] = [
    {
      type: 'para',
      text: r
        ? `The run record (run.json, schema \`${r.schema ?? 'genlab-run-record/1'}\`) ships inside the folder with the weights, with the records of the ${lineage.length - 1} stage(s) it was made from${unknownStages ? ` (${unknownStages} of them without a record)` : ''}; this card (README.md, card.html, card.json) is written into the same folder. The folder loads with Hugging Face tools as ${c.model.kind === 'translator' ? "genlab's own translator format (config.json model_type genlab-translator)" : c.model.family === 'llama' ? 'a Llama folder (LlamaForCausalLM)' : c.model.family && c.model.family !== 'gpt2' ? `a ${c.model.family} folder` : 'a GPT-2 folder'}.`
        : `No run record ships with these weights: what the card says about their making is ${UNKNOWN}. The card itself (README.md, card.html, card.json) is written into the folder.`,
    },
    { type: 'para', text: d ? `Licence of the weights: ${[d.value].flat().join(', ')}, declared by ${d.by} on ${d.createdAt.slice(0, 10)}.` : c.license ? `Licence of the weights: ${c.license}, as claimed by whoever wrote this card (not recorded, not scored).` : `Licence of the weights: ${UNKNOWN}.` },
  ];
  return { key: 'downstream', blocks };
}

/** Sections 6–12, in the CRFM order. */
export function modelSections(c: CardInput, lineage: readonly Stage[]): Section[] {
  return [capabilities(c, lineage), risks(c, lineage), evaluations(c), testing(c), machineGenerated(c), memberStates(c), downstream(c, lineage)];
}
