// Public API of corpus cleaning: normalisation, quality filters, PII scrubbing, exact and
// MinHash-LSH near dedup, the streaming pipeline with its report, and the raw-vs-cleaned experiment.

export { normalizeText, splitWords, normalizedWords, splitLines, splitParagraphs } from './normalize.ts';
export { compileLineFilters, compileDocumentFilters, defaultFilterConfig, mergeFilterConfig, LINE_FILTERS, DOCUMENT_FILTERS } from './filters.ts';
export type { FilterConfig, FilterInfo, DocumentVerdict, LineRemoval } from './filters.ts';
export { duplicateStats, ngramContext, topNgramCharFraction, duplicateNgramCharFraction } from './repetition.ts';
export { scrubPii, defaultPiiConfig } from './pii.ts';
export type { PiiConfig, PiiCounts } from './pii.ts';
export { MinHasher, LshIndex, shingleHashes, estimatedJaccard, jaccard, candidateProbability, lshThreshold, defaultMinHashConfig } from './minhash.ts';
export type { MinHashConfig } from './minhash.ts';
export { U64Map } from './hash-table.ts';
export { cleanCorpus, defaultCleanConfig, mergeCleanConfig, CLEAN_DOCUMENTS_FILE, CLEAN_REMOVED_FILE, CLEAN_REPORT_FILE } from './pipeline.ts';
export type { CleanConfig, CleanOptions, CleanReport, CleanProgress, StageReport, StageExample } from './pipeline.ts';
export { formatCleanSummary, cleanReportMarkdown, cleanReportChart, writeCleanReport } from './report.ts';
export { buildNoisyCorpus, spamAssassinFiles, NOISY_RAW_FILE, NOISY_HELDOUT_FILE, NOISY_MANIFEST_FILE } from './noisy.ts';
export type { NoisyOptions, NoisyManifest, NoisyKind } from './noisy.ts';
export { runCleanExperiment, experimentMarkdown } from './experiment.ts';
export type { CleanExperimentOptions, CleanExperimentResult, ArmResult } from './experiment.ts';
