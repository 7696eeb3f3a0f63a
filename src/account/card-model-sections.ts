// Sections 6–12 of the model card (capabilities and limitations, risks and mitigations,
// evaluations, testing, machine-generated content, member states, downstream documentation),
// filled from the recorded evaluations and samples generated when the card is written.

import type { Block } from './card-doc.ts';
import { evalsNamed, int, pct, UNKNOWN, type CardInput, type Section } from './card-format.ts';
import type { Evaluation } from './run-record.ts';

interface WatermarkDetails {
  byLength?: { tokens: number; detectionRate: number; falsePositiveRate: number; samples: number; humanWindows: number }[];
}

const num = (e: Evaluation | undefined, k: string): number | undefined => (e && typeof e.metrics[k] === 'number' ? e.metrics[k] : undefined);

function trainingSourceNames(c: CardInput): string[] {
  return (c.record?.data?.sources ?? []).map((s) => s.name);
}

function capabilities(c: CardInput): Section {
  const blocks: Block[] = [];
  const evidence: string[] = [];
  const sources = trainingSourceNames(c);
  const val = evalsNamed(c.evaluations, 'validation-loss')[0];
  const cal = evalsNamed(c.evaluations, 'calibration')[0];
  blocks.push({
    type: 'para',
    text: `What it does: continues text in the style and vocabulary of ${sources.length ? sources.map((s) => `\`${s}\``).join(', ') : 'its (unknown) training data'}, seeing at most ${c.model.nPositions} tokens of context. It was only pre-trained: it does not follow instructions or answer questions, and it knows nothing beyond its training text.`,
  });
  const measured: string[] = [];
  if (cal) {
    measured.push(`on ${cal.data}: loss ${num(cal, 'loss')!.toFixed(3)} nats/token, perplexity ${num(cal, 'perplexity')!.toFixed(1)}, ${num(cal, 'bitsPerByte')!.toFixed(3)} bits per byte over ${int(num(cal, 'tokens')!)} tokens; its most likely next token is right ${pct(num(cal, 'top1Accuracy')!)} of the time, with mean confidence ${pct(num(cal, 'meanConfidence')!)}`);
    if (val) measured.push(`the trainer's own estimate on its first validation batches was ${val.metrics.loss!.toFixed(3)} nats/token`);
  } else if (val) measured.push(`held-out loss ${val.metrics.loss!.toFixed(3)} nats/token, perplexity ${val.metrics.perplexity!.toFixed(1)} on the ${val.data}`);
  for (const e of evalsNamed(c.evaluations, 'corpus-loss')) {
    const inTraining = sources.some((s) => e.data.split(' + ').includes(s));
    measured.push(`perplexity ${num(e, 'perplexity')?.toFixed(1)}, ${num(e, 'bitsPerByte')?.toFixed(3)} bits per byte on ${e.data}${inTraining ? ' (includes documents it trained on)' : ' (text unlike its training data)'}`);
  }
  blocks.push({ type: 'para', text: measured.length ? `Measured: ${measured.join('; ')}.` : `Measured capabilities: ${UNKNOWN}; no evaluation is recorded.` });
  if (c.samples.length) {
    blocks.push({ type: 'para', text: 'Examples, generated when this card was written (seed 0, temperature 0.8, top-k 40); the probability is the model\'s own for the tokens it chose:' });
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
      'Facts: it produces fluent statements with no grounding; the factual prompt above shows it completing a question with whatever its corpus makes likely, not with the truth.',
    ],
  });
  let points = 2;
  evidence.push('specific capabilities and limitations from the architecture and the data');
  if (val || cal) {
    points++;
    evidence.push('grounded in held-out evaluations');
  }
  if (c.samples.length && (val || cal)) {
    points++;
    evidence.push('illustrated with generated examples and their probabilities');
  }
  return { assessment: { key: 'capabilities', title: 'Capabilities and limitations', points, evidence }, blocks };
}

function watermarkSummary(e: Evaluation): string {
  const d = (e.details ?? {}) as WatermarkDetails;
  const rows = d.byLength ?? [];
  const parts = rows.map((r) => `${r.tokens} tokens: ${pct(r.detectionRate)} detected, ${pct(r.falsePositiveRate, 2)} false positives`);
  return `${parts.join('; ')} (γ ${num(e, 'gamma')}, δ ${num(e, 'delta')}, z > 4)`;
}

function risks(c: CardInput): Section {
  const blocks: Block[] = [];
  const evidence: string[] = [];
  const wm = evalsNamed(c.evaluations, 'watermark')[0];
  const cal = evalsNamed(c.evaluations, 'calibration')[0];
  const sources = trainingSourceNames(c);
  blocks.push({ type: 'para', text: 'Foreseeable risks:' });
  blocks.push({
    type: 'list',
    items: [
      'Fabrication: confident, fluent statements that are false (dates, names, quotations attributed to real people).',
      `Bias: it reproduces the views and blind spots of ${sources.length ? sources.map((s) => `\`${s}\``).join(', ') : 'its training data'} (see Data governance).`,
      `Regurgitation: it may repeat passages of its training text verbatim; how often is ${UNKNOWN} (not measured). The training text is public domain where the licences above say so.`,
      'Deception: its text passed off as written by a person.',
    ],
  });
  blocks.push({ type: 'para', text: 'Mitigations and how well they work:' });
  const mitigations = [
    `Watermark: generation can add a statistical watermark (green-list logit bias, Kirchenbauer et al. 2023; \`watermark\` option of generation and of the API) that \`genlab detect\` finds without the model. ${wm ? `Measured: ${watermarkSummary(wm)}; the model's own perplexity of what it generates is ${num(wm, 'perplexityPlain')?.toFixed(2)} without and ${num(wm, 'perplexityWatermarked')?.toFixed(2)} with the watermark.` : `Its effectiveness on this model is ${UNKNOWN} (run \`genlab detect --study\`).`}`,
    `Confidence signals: every generated token comes with its probability and the entropy of the model's distribution, so the app can mark low-confidence spans. ${cal ? `The probabilities are meaningful to the extent the calibration shows: expected calibration error ${num(cal, 'ece')!.toFixed(4)} (${cal.data}).` : `Their calibration is ${UNKNOWN} (run \`genlab eval --calibration\`).`}`,
  ];
  blocks.push({ type: 'list', items: mitigations });
  blocks.push({
    type: 'para',
    text: 'Not mitigated, and why: the biases are those of the training corpus, which is a historical record; filtering it would change what the model is a model of, so the biases are documented instead. Fabrication is inherent to a language model trained only to predict text; it can be signalled (probabilities, entropy) but not removed. A watermark can be removed by paraphrasing and only covers text generated with it switched on.',
  });
  let points = 2;
  evidence.push('risks listed', 'mitigations listed');
  if (wm || cal) {
    points++;
    evidence.push(`effectiveness measured (${[wm && 'watermark detection/false positives', cal && 'calibration'].filter(Boolean).join(', ')})`);
  }
  points++;
  evidence.push('reasons given for the risks left unmitigated');
  return { assessment: { key: 'risks', title: 'Risks and mitigations', points, evidence }, blocks };
}

function metricText(e: Evaluation): string {
  const m = e.metrics;
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
  const blocks: Block[] = [];
  const evidence: string[] = [];
  if (c.evaluations.length === 0) {
    blocks.push({ type: 'para', text: `Evaluations: ${UNKNOWN}; none is recorded.` });
    return { assessment: { key: 'evaluations', title: 'Evaluations', points: 0, evidence: ['none recorded'] }, blocks };
  }
  blocks.push({ type: 'table', header: ['evaluation', 'data', 'result', 'reproduce with'], rows: c.evaluations.map((e) => [e.name, e.data, metricText(e), e.command ? `\`${e.command}\`` : '']) });
  blocks.push({ type: 'para', text: `Not evaluated: standard benchmarks (they test knowledge and reasoning this model does not have), bias (unintentional harms) and misuse (intentional harms) — all ${UNKNOWN}.` });
  let points = 0;
  const lossData = new Set(c.evaluations.filter((e) => e.name === 'validation-loss' || e.name === 'corpus-loss').map((e) => e.data));
  if (lossData.size >= 2) {
    points++;
    evidence.push(`likelihood measured on ${lossData.size} datasets`);
  } else evidence.push('likelihood on a single dataset only');
  if (c.evaluations.some((e) => e.name === 'calibration' || e.name === 'watermark')) {
    points++;
    evidence.push('other properties measured (calibration, watermark)');
  }
  evidence.push('no bias or misuse evaluation');
  return { assessment: { key: 'evaluations', title: 'Evaluations', points, evidence }, blocks };
}

function testing(c: CardInput): Section {
  const blocks: Block[] = [];
  const evidence: string[] = [];
  const cal = evalsNamed(c.evaluations, 'calibration')[0];
  const wm = evalsNamed(c.evaluations, 'watermark')[0];
  blocks.push({
    type: 'para',
    text: "Internal testing of the software that trained and runs the model: genlab's test suite checks every kernel against a plain TypeScript reference and float64 gradient checks, that training resumes bit-exactly from a checkpoint, that generated log-probabilities equal the scores of the same text, the watermark detector's z-score against hand counts, and the FLOP counter against a hand count.",
  });
  const model: string[] = [];
  if (cal) model.push(`calibration on held-out text (\`${cal.command ?? 'genlab eval --calibration'}\`)`);
  if (wm) model.push(`watermark detection and false-positive rates (\`${wm.command ?? 'genlab detect --study'}\`)`);
  blocks.push({ type: 'para', text: model.length ? `Testing of this model: ${model.join('; ')}; results under Evaluations.` : `Testing of this model beyond the validation loss: ${UNKNOWN}.` });
  blocks.push({ type: 'para', text: 'External evaluation and red-teaming: none; nobody outside has tested this model.' });
  const points = (cal ? 1 : 0) + (wm ? 1 : 0);
  evidence.push(points ? `${points} model-level test(s) with process and results disclosed` : 'no model-level testing recorded', 'no external evaluation or red-teaming');
  return { assessment: { key: 'testing', title: 'Testing', points, evidence }, blocks };
}

function machineGenerated(c: CardInput): Section {
  const wm = evalsNamed(c.evaluations, 'watermark')[0];
  const blocks: Block[] = [
    {
      type: 'para',
      text: "Within genlab: every response of `genlab serve`'s API is a model response naming the model that produced it, and the app shows generated text as suggestions the user accepts or rejects. Beyond genlab: text generated with the watermark on carries it; `genlab detect --model DIR TEXT` reports the z-score and p-value and flags z > 4.",
    },
    { type: 'para', text: wm ? `Measured on this model: ${watermarkSummary(wm)}.` : `The watermark's detection rate on this model is ${UNKNOWN} (not measured yet).` },
    { type: 'para', text: 'Anyone publishing text from this model should label it as machine-generated; the watermark is off unless requested.' },
  ];
  const evidence = ['API responses identify the generating model'];
  let points = 1;
  if (wm) {
    points++;
    evidence.push('a watermark with measured detection and false-positive rates');
  }
  return { assessment: { key: 'machineGenerated', title: 'Machine-generated content', points, evidence }, blocks };
}

function memberStates(c: CardInput): Section {
  if (c.memberStates && c.memberStates.length > 0) {
    return {
      assessment: { key: 'memberStates', title: 'Member states', points: 2, evidence: ['member states where it is made available are listed'] },
      blocks: [{ type: 'para', text: `Made available in: ${c.memberStates.join(', ')} (as declared by whoever wrote this card). No practice differs between these states.` }],
    };
  }
  return {
    assessment: { key: 'memberStates', title: 'Member states', points: 0, evidence: ['not declared'] },
    blocks: [{ type: 'para', text: `Where in the EU this model is placed on the market or made available is ${UNKNOWN}: it is a locally trained model, and whoever distributes it should declare the member states (\`genlab card --member-states ...\`).` }],
  };
}

function downstream(c: CardInput): Section {
  return {
    assessment: { key: 'downstream', title: 'Downstream documentation', points: 3, evidence: ['the card and the machine-readable run record ship inside the model folder'] },
    blocks: [
      {
        type: 'para',
        text: `This card (README.md and card.html) and the run record (run.json, schema \`${c.record?.schema ?? 'none'}\`) sit inside the model folder, so whoever receives the weights receives the documentation. The folder is a Hugging Face GPT-2 folder (\`transformers.GPT2LMHeadModel.from_pretrained\` loads it), and run.json lists every fact this card states, for downstream providers to build their own documentation on.`,
      },
    ],
  };
}

/** Sections 6–12, in the CRFM order. */
export function modelSections(c: CardInput): Section[] {
  return [capabilities(c), risks(c), evaluations(c), testing(c), machineGenerated(c), memberStates(c), downstream(c)];
}
