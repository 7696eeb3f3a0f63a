// Sections 1–5 of the model card (data sources, data governance, copyrighted data, compute,
// energy): what the run records of the model's lineage say, stage by stage. Missing facts are
// stated as unknown. The prose earns nothing; the points come from card-rubric.ts.

import type { Block } from './card-doc.ts';
import { stageKind, stageLabel, type Stage } from './card-lineage.ts';
import { duration, energyText, gramsText, int, pct, sci, UNKNOWN, type CardInput, type Section } from './card-format.ts';
import type { DataFacts, RunRecord } from '../record/run-record.ts';

/** Stages oldest first, so the card reads in the order the weights were made. */
const oldestFirst = (lineage: readonly Stage[]): Stage[] => [...lineage].reverse();

interface StageData {
  label: string;
  stage: Stage;
  /** The stage's data, null when it trained on none, undefined when unknown. */
  data: DataFacts | null | undefined;
}

function stageData(lineage: readonly Stage[]): StageData[] {
  return oldestFirst(lineage).map((stage) => ({ label: stageLabel(lineage, stage), stage, data: stage.record ? (stage.record.data as DataFacts | null | undefined) : undefined }));
}

const capital = (s: string): string => s.charAt(0).toUpperCase() + s.slice(1);

/** A sentence for a stage whose data cannot be tabled; null when it has data. */
function noData(d: StageData, what: string): string | null {
  if (!d.stage.record) return `${capital(d.label)}: ${what} ${UNKNOWN}; it has no run record.`;
  if (d.data === null) return `${capital(d.label)} (${stageKind(d.stage.record)}) trained on no data: ${d.stage.record.genlab?.method ?? 'no training step'}.`;
  if (!d.data?.sources) return `${capital(d.label)}: ${what} ${UNKNOWN}; its run record lists no data sources.`;
  return null;
}

function dataSources(c: CardInput, lineage: readonly Stage[]): Section {
  const blocks: Block[] = [];
  for (const d of stageData(lineage)) {
    const none = noData(d, 'the training data is');
    if (none) {
      blocks.push({ type: 'para', text: none });
      continue;
    }
    const data = d.data!;
    const r = d.stage.record!;
    blocks.push({ type: 'para', text: `${capital(d.label)} (${stageKind(r)}${r.genlab?.method ? `, ${r.genlab.method}` : ''}) trained on ${data.sources.length} source${data.sources.length > 1 ? 's' : ''} (recorded in ${d.stage.at}); sha256 is of the bytes read (\`sha256sum\`; for folders, of the sorted \`sha256sum\` listing) unless the table says otherwise:` });
    blocks.push({
      type: 'table',
      header: ['source', 'origin', 'documents (train / held out)', 'bytes', 'sha256'],
      rows: data.sources.map((s) => [
        s.name ?? UNKNOWN,
        s.package ? `npm package \`${s.package.name}@${s.package.version}\`` : `${s.kind ?? UNKNOWN}${s.path ? ` \`${s.path}\`` : ''}`,
        `${int(s.documents)}${s.trainDocuments !== undefined ? ` (${int(s.trainDocuments)} / ${int(s.valDocuments)})` : ''}`,
        s.bytes !== undefined ? int(s.bytes) : UNKNOWN,
        s.sha256 ? `\`${s.sha256.slice(0, 16)}…\`${s.hashed ? ` (of ${s.hashed})` : ''}` : UNKNOWN,
      ]),
      align: ['left', 'left', 'right', 'right', 'left'],
    });
    blocks.push({ type: 'para', text: `Tokens: ${int(data.trainTokens)} for training and ${int(data.valTokens)} held out.${r.tokenizer ? ` Tokenizer: ${r.tokenizer.type}, ${r.tokenizer.vocabSize} tokens, sha256 \`${r.tokenizer.sha256.slice(0, 16)}…\`, trained on ${r.tokenizer.trainedOn}.` : ''}` });
  }
  return { key: 'dataSources', blocks };
}

function dataGovernance(lineage: readonly Stage[]): Section {
  const blocks: Block[] = [];
  for (const d of stageData(lineage)) {
    const none = noData(d, 'data governance is');
    if (none) {
      if (d.data !== null) blocks.push({ type: 'para', text: none });
      continue;
    }
    const data = d.data!;
    const split = data.split;
    const ids = split?.valDocumentIds;
    const tail = split?.heldOutTail;
    const listed = ids?.length
      ? ` (listed in the record: ${ids.slice(0, 5).map((x) => `\`${x}\``).join(', ')}${ids.length > 5 ? `, … ${ids.length} in all` : ''})`
      : tail
        ? ` (the last ${int(tail.chars)} characters of \`${tail.document}\`, from character ${int(tail.fromChar)}: a one-document corpus)`
        : ' (not listed)';
    const items = [
      split
        ? `Held out: ${split.method}${split.valFraction !== undefined ? `, ${pct(split.valFraction)}` : ''}${split.seed !== null && split.seed !== undefined ? `, seed ${split.seed}` : ''}; ${tail ? 'a tail' : `${int(data.valDocuments)} held out`}${listed}.`
        : `Held-out data: ${UNKNOWN}.`,
      data.cleaningReport ? `Cleaning: see the report \`${data.cleaningReport}\`.` : 'Cleaning: none recorded; the text was used as read, without filtering, deduplication or removal of personal data.',
      ...data.sources.map((s) => `Suitability and bias of \`${s.name}\`: ${s.review ?? `${UNKNOWN}; no review is recorded with the source`}`),
    ];
    blocks.push({ type: 'para', text: `${capital(d.label)}:` }, { type: 'list', items });
  }
  return { key: 'dataGovernance', blocks };
}

function copyrightedData(lineage: readonly Stage[]): Section {
  const blocks: Block[] = [];
  for (const d of stageData(lineage)) {
    const none = noData(d, 'whether copyrighted data was used is');
    if (none) {
      if (d.data !== null) blocks.push({ type: 'para', text: none });
      continue;
    }
    const sources = d.data!.sources;
    blocks.push({ type: 'para', text: `${capital(d.label)}:` });
    blocks.push({
      type: 'table',
      header: ['source', 'status', 'licence as recorded', 'authors / packager'],
      rows: sources.map((s) => [s.name ?? UNKNOWN, !s.licence ? 'unknown' : /public domain|CC0/i.test(s.licence) ? 'public domain' : 'under licence', s.licence ?? UNKNOWN, s.attribution ?? UNKNOWN]),
    });
    const unknown = sources.filter((s) => !s.licence);
    if (unknown.length > 0) blocks.push({ type: 'para', text: `The copyright status of ${unknown.map((s) => `\`${s.name}\``).join(', ')} is ${UNKNOWN}: genlab records licences only for its built-in corpora. Whoever distributes this model must establish it.` });
  }
  return { key: 'copyrightedData', blocks };
}

const flopsOf = (r: Partial<RunRecord> | null): number | undefined => r?.training?.trainingFlops ?? r?.compute?.trainingFlops;

function compute(c: CardInput, lineage: readonly Stage[]): Section {
  const m = c.model;
  const r = c.record;
  const blocks: Block[] = [{ type: 'para', text: `In this folder: ${m.architecture}; ${int(m.parameters)} parameters counted in the weights${r?.parameters ? ` (run.json records ${int(r.parameters.total)}${r.parameters.trainable !== undefined && r.parameters.trainable !== r.parameters.total ? `, ${int(r.parameters.trainable)} of them trained in its last stage` : ''})` : ' (no run record states a size)'}.` }];
  const items: string[] = [];
  for (const s of oldestFirst(lineage)) {
    const label = capital(stageLabel(lineage, s));
    const rec = s.record;
    if (!rec) {
      items.push(`${label}: training time, hardware and FLOPs ${UNKNOWN} (no run record).`);
      continue;
    }
    const t = rec.training;
    const h = rec.hardware;
    const flops = flopsOf(rec);
    items.push(
      `${label} (${stageKind(rec)}): ${t ? `${int(t.steps)} steps, ${int(t.tokensSeen)} tokens, ${duration(t.trainSeconds ?? 0)} of training${t.wallSeconds !== undefined ? ` (${duration(t.wallSeconds)} for the whole command)` : ''}` : `training time ${UNKNOWN}`}` +
        `${h ? ` on ${h.cores} cores of a \`${h.cpu}\`, genlab's ${h.backend} backend with ${h.threads} threads, no GPU` : `; hardware ${UNKNOWN}`}` +
        `; ${flops !== undefined ? `**${sci(flops)} FLOP**` : `FLOPs ${UNKNOWN}`}${rec.compute?.method ? `, ${rec.compute.method}` : ''}; compute location: ${h?.location ?? UNKNOWN}.`,
    );
  }
  blocks.push({ type: 'list', items });
  const all = lineage.map((s) => flopsOf(s.record));
  if (lineage.length > 1) blocks.push({ type: 'para', text: all.every((f) => f !== undefined) ? `All stages together: ${sci(all.reduce<number>((a, f) => a + f!, 0))} FLOP.` : `The total over all stages is ${UNKNOWN}: a stage's FLOPs are not recorded.` });
  blocks.push({ type: 'image', src: c.chartFile, alt: 'training compute of this model and milestone models, log scale' });
  return { key: 'compute', blocks };
}

function energy(c: CardInput, lineage: readonly Stage[]): Section {
  const items: string[] = [];
  for (const s of oldestFirst(lineage)) {
    const label = capital(stageLabel(lineage, s));
    const e = s.record?.energy;
    if (!e || typeof e.kWh !== 'number') {
      items.push(`${label}: energy and emissions ${UNKNOWN}${s.record ? '; its run record has no energy measurement' : ' (no run record)'}.`);
      continue;
    }
    const em = s.record!.emissions;
    const pue = em?.pue ?? 1;
    const given = s.role === 'model' ? c.intensity : undefined;
    items.push(
      `${label}: **${energyText(e.kWh)}** (${typeof e.cpuJoules === 'number' ? `CPU ${energyText(e.cpuJoules / 3.6e6)}, memory ${energyText((e.ramJoules ?? 0) / 3.6e6)}; ` : ''}${e.note ?? 'one process'}), ${e.method === 'rapl' ? 'measured' : e.method ? 'estimated' : `measured by a method ${UNKNOWN}`}${e.description ? `: ${e.description}` : ''}.` +
        (em?.intensity && typeof em.gCO2e === 'number' ? ` Emissions: **${gramsText(em.gCO2e)}** = ${e.kWh.toPrecision(3)} kWh × PUE ${pue} × ${em.intensity.gPerKWh} gCO2e/kWh (${em.intensity.source}).` : ` Emissions: ${UNKNOWN}.`) +
        (given ? ` Recomputed with ${given.gPerKWh} gCO2e/kWh given when this card was written (${given.source}): ${gramsText(e.kWh * pue * given.gPerKWh)}; a claim of the card's author, not part of the run record.` : '') +
        ` Measures recorded in the run: ${e.mitigations?.length ? e.mitigations.join('; ') : 'none'}.`,
    );
  }
  return { key: 'energy', blocks: [{ type: 'list', items }, { type: 'para', text: 'The grid\'s actual carbon intensity can differ from the figure used by a factor of ten or more; GENLAB_CARBON_INTENSITY and GENLAB_LOCATION record the real ones.' }] };
}

/** Sections 1–5, in the CRFM order. */
export function dataAndComputeSections(c: CardInput, lineage: readonly Stage[]): Section[] {
  return [dataSources(c, lineage), dataGovernance(lineage), copyrightedData(lineage), compute(c, lineage), energy(c, lineage)];
}
