// Public API of the data layer: corpus readers, token shards, batch loading, dataset preparation.

export {
  textFileSource,
  folderSource,
  jsonlSource,
  sotuSource,
  sotuDocuments,
  mobyDickSource,
  resolveSource,
  BUILTIN_SOURCES,
} from './corpus.ts';
export type { Document, DocumentStat, SourceRecord, CorpusSource, SourceOptions } from './corpus.ts';

export {
  ShardWriter,
  ShardReader,
  ShardSet,
  ShardError,
  readShardHeader,
  bytesPerTokenFor,
  SHARD_HEADER_BYTES,
  SHARD_HEADER_INTS,
  DEFAULT_SHARD_TOKENS,
  MAX_SHARD_TOKENS,
} from './shards.ts';
export type { ShardHeader, ShardFileInfo, ShardWriterOptions } from './shards.ts';

export { BatchLoader, uniformInt } from './loader.ts';
export type { Batch, BatchLoaderOptions, LoaderMode, LoaderState } from './loader.ts';

export {
  prepareDataset,
  readDatasetManifest,
  datasetShardPaths,
  chooseValidationDocuments,
  MANIFEST_FILE,
} from './prepare.ts';
export type {
  PrepareOptions,
  PrepareProgress,
  PrepareTokenizer,
  PreparedDataset,
  DatasetManifest,
  SourceManifest,
  SplitManifest,
} from './prepare.ts';
