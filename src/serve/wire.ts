// The JSON the server and the web app exchange on /api: request bodies and responses of every route
// the app calls. The server's handlers return these types and its body schemas are built from them
// (bodySchema in schemas.ts); web/src/api.ts imports them. So a shape changed on one side only fails
// `npm run typecheck` (tsconfig.bench.json and web/tsconfig.json) instead of breaking the app.
//
// Types only and no imports: the web app's compiler and bundle read this file, and nothing here may
// pull Node code into them. Field names are the API's snake_case; records returned "as the files
// hold them" (scaling) keep the files' camelCase.

/** Every failure: OpenAI's error object; `param` names the offending request field. */
export interface ErrorBody {
  error: { message: string; type: string; param: string | null; code: string | null };
}

// ---- GET /api/config ----

export interface ServedModelInfo {
  id: string;
  context_length: number;
  vocab_size: number;
  /** The base model of a LoRA adapter served as its own id; null for a plain model. */
  parent: string | null;
}

export interface ServerConfig {
  models: ServedModelInfo[];
  limits: { max_tokens: number; max_n: number; max_top_logprobs: number };
  /** The server ranks best_of candidates and answers POST /api/reward with a reward model. */
  reward_model: boolean;
  autocomplete_defaults: { length: number; n: number; temperature: number; top_k: number; top_p: number };
  /** Requests need `Authorization: Bearer <key>`. */
  auth: boolean;
}

// ---- POST /api/autocomplete ----

/** true for γ 0.25, δ 2; the key is always the server's. */
export type WatermarkRequest = boolean | { gamma?: number; delta?: number } | null;

export interface WatermarkEcho {
  gamma: number;
  delta: number;
}

export type FinishReason = 'stop' | 'length';

export interface AutocompleteRequest {
  context: string;
  /** Default: the first served model. */
  model?: string;
  length?: number | null;
  temperature?: number | null;
  top_k?: number | null;
  top_p?: number | null;
  n?: number | null;
  seed?: number | null;
  stop?: string | string[] | null;
  /** Server-Sent Events (SuggestEvent), ending with `data: [DONE]`. */
  stream?: boolean | null;
  watermark?: WatermarkRequest;
}

/** What every answer to an autocomplete request starts with. */
export interface AutocompleteHead {
  id: string;
  model: string;
  /** Tokens of the context the model read (the end of it, when it was longer than the model reads). */
  context_tokens: number;
  truncated: boolean;
  watermark?: WatermarkEcho;
}

export interface AutocompleteResponse extends AutocompleteHead {
  object: 'autocomplete';
  suggestions: { index: number; text: string; finish_reason: FinishReason; tokens: number }[];
}

/** One event of a streamed autocomplete; an error after the start arrives as an ErrorBody event. */
export type SuggestEvent = ({ type: 'start'; n: number } & AutocompleteHead) | { type: 'delta'; index: number; text: string } | { type: 'done'; index: number; finish_reason: FinishReason };

// ---- POST /api/analyze ----

export interface AnalyzeRequest {
  text: string;
  model?: string;
  /** Alternatives per token (default 5). */
  top_k?: number | null;
}

export interface Alternative {
  id: number;
  text: string;
  logprob: number;
  prob: number;
}

export interface AnalyzedToken {
  id: number;
  text: string;
  /** Where the token starts in the text (UTF-16 units). */
  offset: number;
  /** null for a first token the model has no context to score. */
  logprob: number | null;
  prob: number | null;
  /** Entropy (nats) of the model's distribution at this position; null for an unscored first token. */
  entropy: number | null;
  top: Alternative[];
}

/** A run of tokens the model found unlikely (below 10%): where a reader should check the text. */
export interface ConfidenceSpan {
  /** Offsets in UTF-16 units of the text. */
  start: number;
  end: number;
  first_token: number;
  end_token: number;
  text: string;
  min_probability: number;
  max_entropy: number | null;
}

export interface Analysis {
  object: 'analysis';
  model: string;
  /** The text was longer than the model's context and was scored in overlapping windows. */
  windowed: boolean;
  tokens: AnalyzedToken[];
  total_logprob: number;
  perplexity: number | null;
  low_confidence_spans: ConfidenceSpan[];
}

// ---- POST /api/detect ----

export interface DetectRequest {
  text: string;
  model?: string;
  /** The γ the text was generated with (default 0.25). */
  gamma?: number | null;
}

export interface Detection {
  object: 'watermark.detection';
  model: string;
  tokens: number;
  scored: number;
  green: number;
  gamma: number;
  z: number;
  p_value: number;
  p_exact: number;
  flagged: boolean;
  threshold: number;
}

// ---- POST /api/feedback, GET /api/feedback/stats ----

interface FeedbackCommon {
  prompt: string;
  model?: string;
  /** Where in the app the feedback was given (e.g. 'compare'). */
  source?: string;
  /** The sampling settings the completions were made with. */
  settings?: Record<string, number | string | boolean | null>;
}

export interface RatingFeedback extends FeedbackCommon {
  kind: 'rating';
  completion: string;
  rating: 'up' | 'down';
}

export interface PreferenceFeedback extends FeedbackCommon {
  kind: 'preference';
  chosen: string;
  rejected: string;
}

export type FeedbackRequest = RatingFeedback | PreferenceFeedback;

export interface FeedbackCreated {
  object: 'feedback';
  id: number;
  kind: FeedbackRequest['kind'];
}

export interface FeedbackStats {
  object: 'feedback.stats';
  ratings: number;
  up: number;
  down: number;
  preferences: number;
}

// ---- /api/align ----

export interface AlignRequest {
  /** A plain served model, not an adapter (default: the first). */
  model?: string;
  steps?: number;
  beta?: number;
  lr?: number;
  lora_r?: number;
  lora_alpha?: number;
  batch?: number;
  sft_weight?: number;
  /** Also pair 👍/👎 ratings of the same prompt (default true). */
  ratings?: boolean;
  seed?: number;
}

export interface AlignPoint {
  step: number;
  loss: number;
  margin: number;
  accuracy: number;
  /** Mean implicit rewards of the chosen and rejected completions. */
  chosen: number;
  rejected: number;
}

export type AlignStatus = 'preparing' | 'running' | 'saving' | 'done' | 'failed' | 'cancelled';

export interface AlignRun {
  object: 'align.run';
  id: string;
  status: AlignStatus;
  base: string;
  /** The served id of the aligned model, once done. */
  model: string | null;
  created_at: string;
  finished_at: string | null;
  /** The run's settings with the defaults filled in. */
  settings: Required<Omit<AlignRequest, 'model'>>;
  pairs: { total: number; train: number; val: number; skipped: number };
  steps: number;
  step: number;
  /** GET /api/align/:id?since=N: the points after step N; in GET /api/align's list: the last one. */
  points: AlignPoint[];
  /** The training guard's events: 'spike' a skipped step (non-finite loss or gradient), 'event' a warning. */
  events: { type: 'event' | 'spike'; step: number; kind: string; message: string }[];
  /** Held-out metrics at the end, when there were enough pairs to hold some out. */
  eval: Record<string, number> | null;
  error: string | null;
  /** The adapter's folder, relative to the server's working directory. */
  dir: string | null;
}

export interface AlignSummary {
  object: 'align.summary';
  pairs: { preferences: number; from_ratings: number; total: number };
  /** The id of the run still preparing, running or saving, else null. */
  active: string | null;
  runs: AlignRun[];
}

// ---- /api/translate ----

/** A generation queue's state (also in GET /health). */
export interface QueueStats {
  running: number;
  waiting: number;
  maxWaiting: number;
  completed: number;
  /** Mean run time of recent jobs (ms), the basis of Retry-After. */
  meanRunMs: number;
}

export interface TranslatorInfo {
  id: string;
  source_lang: string;
  target_lang: string;
  num_beams: number;
  length_penalty: number;
  max_positions: number;
  queue: QueueStats;
}

export interface TranslateInfo {
  models: TranslatorInfo[];
  /** The app's example text. */
  example: string;
  limits: { max_chars: number; max_sentences: number; max_beam: number };
}

export interface TranslateRequest {
  text: string;
  model?: string;
  beam?: number | null;
  length_penalty?: number | null;
  greedy?: boolean | null;
}

export interface SentenceResult {
  source: string;
  translation: string;
  logprob: number;
  /** The length-normalised score beam search ranked by. */
  score: number;
  /** False when the output was cut at the model's length limit. */
  finished: boolean;
  source_tokens: number;
  output_tokens: number;
}

export interface TranslateResult {
  model: string;
  source_lang: string;
  target_lang: string;
  beam: number;
  /** null for greedy decoding (beam 1). */
  length_penalty: number | null;
  translation: string;
  sentences: SentenceResult[];
  seconds: number;
}

// ---- /api/scaling ----

/** One sweep folder the server shows (`genlab serve --scaling DIR`). */
export interface ScalingSweepEntry {
  id: string;
  name: string;
  folder: string;
  runs: number;
  planned_runs: number;
  fit: boolean;
  predictions: number;
  verifications: number;
  /** Why the folder cannot be shown right now (a damaged file), else null. */
  error: string | null;
}

export interface ScalingList {
  sweeps: ScalingSweepEntry[];
}

/** Null where JSON cannot hold the number: the NaN or ±Infinity of a degenerate fit or a diverged run. */
export type Computed = number | null;

export interface ScalingPredictionRow {
  id: string;
  shape: string;
  n: number;
  tokens: number;
  flops: number;
  ratio_to_largest_run: number;
  ratio_to_sweep: number;
  predicted: Computed;
  interval: [Computed, Computed];
  /** The L(C) frontier's loss at the same compute, when the fit has an L(C) law. */
  loss_from_compute: Computed;
  /** Measured validation loss of the trained target (`genlab scaling verify`), else null. */
  measured: number | null;
  /** 100 · (predicted − measured) / measured, else null. */
  error_percent: number | null;
  inside_interval: boolean | null;
}

export interface ScalingSummary {
  sweep: { data: string[]; vocab_size: number; seq_len: number; batch: number; budget: number; planned_runs: number; finished_runs: number; total_flops: number; largest_run_flops: number | null };
  fit: null | {
    param_kind: 'total' | 'nonEmbedding';
    runs: number;
    /** The sweep has runs the fit has not seen: `genlab scaling fit` again. */
    stale: boolean;
    bootstrap_samples: number;
    rmse_log: Computed;
    flops_per_param_token: number;
    params: { name: 'E' | 'A' | 'alpha' | 'B' | 'beta'; symbol: string; value: Computed; interval: [Computed, Computed] }[];
  };
  compute_law: null | { a: Computed; b: Computed; c: Computed; frontier_runs: number; rmse_log: Computed };
  /** At 10×, 100× and 1000× the largest run; null where the closed form overflows (α or β near 0, or huge). */
  compute_optimal: { multiple: number; flops: number; n: Computed; d: Computed; loss: Computed }[];
  predictions: ScalingPredictionRow[];
  /** The command that takes the sweep further, when one is missing (no runs, no fit, no target). */
  next_step: string | null;
}

/** A runs.jsonl record as the file holds it (the fields the app reads). */
export interface ScalingRun {
  id: string;
  flops: number;
  valLoss: Computed;
  tokens: number;
  params: { total: number; nonEmbedding: number };
}

/** A predictions.json record as the file holds it (the fields the app reads). */
export interface ScalingPrediction {
  id: string;
  flops: number;
  loss: Computed;
  interval: [Computed, Computed];
}

export interface ScalingDetail {
  id: string;
  name: string;
  folder: string;
  runs: ScalingRun[];
  /** fit.json as the file holds it, or null before `genlab scaling fit`; the app shows summary.fit. */
  fit: object | null;
  predictions: ScalingPrediction[];
  verifications: { prediction: ScalingPrediction; run: ScalingRun; relativeError: Computed }[];
  /** ECharts options of the sweep's chart (as in scaling.png), or null before the first run finishes. */
  chart: Record<string, unknown> | null;
  summary: ScalingSummary;
}
