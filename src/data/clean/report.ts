// The human side of a cleaning report: a terminal summary, a Markdown page with examples of what
// every stage removed (so a person can audit each filter), and a chart of the share of the input
// each stage removed.

import * as path from 'node:path';
import { writeFileAtomic } from '../../util/atomic.ts';
import { writeChart, type ChartOptions } from '../../util/charts.ts';
import type { CleanReport, StageReport } from './pipeline.ts';

const pct = (x: number, total: number): string => (total === 0 ? '0%' : `${((100 * x) / total).toFixed(x / total < 0.001 && x > 0 ? 3 : 1)}%`);
const mb = (bytes: number): string => `${(bytes / 1e6).toFixed(2)} MB`;

function active(s: StageReport): boolean {
  return s.documentsRemoved > 0 || s.linesRemoved > 0 || s.documentsChanged > 0;
}

/** A few lines for the terminal. */
export function formatCleanSummary(r: CleanReport): string {
  const lines = [
    `read ${r.input.documents.toLocaleString()} documents (${mb(r.input.bytes)}) in ${r.seconds.toFixed(1)} s: ${r.mbPerSecond.toFixed(2)} MB/s`,
    `kept ${r.output.documents.toLocaleString()} documents (${pct(r.output.documents, r.input.documents)}), ${pct(r.output.chars, r.input.chars)} of the characters`,
  ];
  for (const s of r.stages) {
    if (!active(s)) continue;
    const what = s.kind === 'line' ? `${s.linesRemoved.toLocaleString()} lines in ${s.documentsChanged.toLocaleString()} documents` : s.kind === 'pii' || s.kind === 'normalize' ? `${s.documentsChanged.toLocaleString()} documents changed` : `${s.documentsRemoved.toLocaleString()} documents`;
    lines.push(`  ${s.name.padEnd(20)} ${what}, ${pct(s.charsRemoved, r.input.chars)} of the characters`);
  }
  lines.push(`  PII replaced: ${r.pii.email} e-mail addresses, ${r.pii.phone} phone numbers, ${r.pii.ip} IP addresses`);
  return lines.join('\n');
}

function escapeCell(s: string): string {
  return s.replace(/\|/g, '\\|').replace(/\n/g, '⏎ ');
}

export function cleanReportMarkdown(r: CleanReport): string {
  const out: string[] = [];
  out.push('# Cleaning report', '');
  out.push(`Created ${r.createdAt}. Input: ${r.input.documents.toLocaleString()} documents, ${mb(r.input.bytes)}; output: ${r.output.documents.toLocaleString()} documents (${pct(r.output.documents, r.input.documents)}), ${pct(r.output.chars, r.input.chars)} of the characters, in \`${r.output.file}\`.`);
  out.push(`Time ${r.seconds.toFixed(1)} s, ${r.mbPerSecond.toFixed(2)} MB/s. Removed documents: ${r.removedFile ? `\`${r.removedFile}\`` : 'not written (pass --write-removed)'}. The inputs were not modified.`, '');
  out.push('## Sources', '', '| name | kind | documents | bytes | sha256 | licence |', '|---|---|---:|---:|---|---|');
  for (const s of r.sources) out.push(`| ${escapeCell(s.name)} | ${s.kind} | ${s.documents} | ${s.bytes} | \`${s.sha256.slice(0, 16)}…\` | ${escapeCell(s.licence ?? 'unknown')} |`);
  out.push('', '## What each stage removed', '', 'Stages run in this order; a document removed by one stage is not seen by later ones.', '');
  out.push('| stage | kind | documents removed | lines removed | characters removed | documents changed | source |', '|---|---|---:|---:|---:|---:|---|');
  for (const s of r.stages) {
    const enabled = typeof s.settings === 'object' && s.settings !== null && 'enabled' in s.settings ? (s.settings as { enabled: boolean }).enabled : true;
    const name = enabled ? s.name : `${s.name} (off)`;
    out.push(`| ${name} | ${s.kind} | ${s.documentsRemoved} | ${s.linesRemoved} | ${pct(s.charsRemoved, r.input.chars)} | ${s.documentsChanged} | ${escapeCell(s.source)} |`);
  }
  out.push('', `PII replaced: ${r.pii.email} e-mail addresses, ${r.pii.phone} phone numbers, ${r.pii.ip} IP addresses.`);
  out.push(`Dedup indexes: exact ${mb(r.dedup.exactIndexBytes)}, near ${mb(r.dedup.nearIndexBytes)} (LSH threshold ≈ ${r.dedup.nearThreshold.toFixed(2)}).`, '');
  out.push('## Examples', '');
  for (const s of r.stages) {
    if (s.examples.length === 0) continue;
    out.push(`### ${s.name}`, '', s.description, '');
    for (const e of s.examples) out.push(`- \`${e.id}\` — ${escapeCell(e.detail)}:`, '', '  ```text', ...e.excerpt.split('\n').map((l) => `  ${l}`), '  ```', '');
  }
  out.push('## Settings', '', '```json', JSON.stringify(r.config, null, 2), '```', '');
  return out.join('\n');
}

export function cleanReportChart(r: CleanReport): ChartOptions {
  const stages = r.stages.filter((s) => s.kind !== 'normalize' && s.kind !== 'pii' && (s.documentsRemoved > 0 || s.linesRemoved > 0)).reverse();
  const share = (x: number, t: number): number => (t === 0 ? 0 : Math.round((10000 * x) / t) / 100);
  return {
    title: { text: 'What each cleaning stage removed', subtext: `${r.input.documents} documents in, ${r.output.documents} out`, left: 'center' },
    legend: { top: 62 },
    grid: { left: 150, right: 60, top: 100, bottom: 40 },
    xAxis: { type: 'value', name: '% of input', nameLocation: 'middle', nameGap: 25 },
    yAxis: { type: 'category', data: stages.map((s) => s.name) },
    series: [
      { name: 'characters', type: 'bar', data: stages.map((s) => share(s.charsRemoved, r.input.chars)), label: { show: true, position: 'right', formatter: '{c}%' } },
      { name: 'documents', type: 'bar', data: stages.map((s) => share(s.documentsRemoved, r.input.documents)) },
    ],
  };
}

/** Writes OUT/clean-report.md and OUT/clean-report.{svg,png,html}. */
export async function writeCleanReport(outDir: string, r: CleanReport): Promise<{ markdown: string; chart: { svg: string; png: string; html: string } }> {
  const markdown = path.join(outDir, 'clean-report.md');
  await writeFileAtomic(markdown, cleanReportMarkdown(r));
  const n = r.stages.filter((s) => s.documentsRemoved > 0 || s.linesRemoved > 0).length;
  const chart = await writeChart(path.join(outDir, 'clean-report'), cleanReportChart(r), { width: 900, height: Math.max(360, 140 + 44 * n), title: 'genlab data clean: what each stage removed' });
  return { markdown, chart };
}
