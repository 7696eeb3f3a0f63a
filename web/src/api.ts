// The app's client for genlab's server: JSON calls, Server-Sent Events for streamed suggestions,
// and OpenAI-style error objects turned into readable errors.

export interface ServerConfig {
  /** `parent` is the base model of a LoRA adapter served as its own id (null for a plain model). */
  models: { id: string; context_length: number; vocab_size: number; parent?: string | null }[];
  limits: { max_tokens: number; max_n: number; max_top_logprobs: number };
  autocomplete_defaults: { length: number; n: number; temperature: number; top_k: number; top_p: number };
  auth: boolean;
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
  offset: number;
  logprob: number | null;
  prob: number | null;
  /** Entropy (nats) of the model's distribution at this position; null for an unscored first token. */
  entropy: number | null;
  top: Alternative[];
}

/** A run of tokens the model found unlikely (below 10%): where a reader should check the text. */
export interface ConfidenceSpan {
  start: number;
  end: number;
  first_token: number;
  end_token: number;
  text: string;
  min_probability: number;
  max_entropy: number | null;
}

export interface Detection {
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

export interface Analysis {
  model: string;
  /** The text was longer than the model's context and was scored in overlapping windows. */
  windowed: boolean;
  tokens: AnalyzedToken[];
  total_logprob: number;
  perplexity: number | null;
  low_confidence_spans: ConfidenceSpan[];
}

export interface SuggestRequest {
  context: string;
  model?: string;
  length: number;
  temperature: number;
  top_k: number;
  top_p: number;
  n: number;
  /** Watermark the suggestions with the server's key (γ 0.25, δ 2). */
  watermark?: boolean;
}

export type SuggestEvent =
  | { type: 'start'; id: string; n: number; truncated: boolean }
  | { type: 'delta'; index: number; text: string }
  | { type: 'done'; index: number; finish_reason: string };

export type FeedbackItem =
  | { kind: 'rating'; prompt: string; completion: string; rating: 'up' | 'down'; model?: string; source?: string; settings?: Record<string, number | string> }
  | { kind: 'preference'; prompt: string; chosen: string; rejected: string; model?: string; source?: string; settings?: Record<string, number | string> };

export interface FeedbackStats {
  ratings: number;
  up: number;
  down: number;
  preferences: number;
}

export interface AlignPoint {
  step: number;
  loss: number;
  margin: number;
  accuracy: number;
  chosen: number;
  rejected: number;
}

export interface AlignRun {
  id: string;
  status: 'preparing' | 'running' | 'saving' | 'done' | 'failed' | 'cancelled';
  base: string;
  model: string | null;
  created_at: string;
  finished_at: string | null;
  settings: { steps: number; beta: number; lr: number; loraR: number; batch: number };
  pairs: { total: number; train: number; val: number; skipped: number };
  steps: number;
  step: number;
  points: AlignPoint[];
  events: { step: number; kind: string; message: string }[];
  eval: Record<string, number> | null;
  error: string | null;
}

export interface AlignSummary {
  pairs: { preferences: number; from_ratings: number; total: number };
  active: string | null;
  runs: AlignRun[];
}

export interface AlignRequest {
  model?: string;
  steps?: number;
  beta?: number;
  lr?: number;
}

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
  /** Why the folder cannot be shown (a damaged file), else null. */
  error: string | null;
}

export interface ScalingPredictionRow {
  id: string;
  shape: string;
  n: number;
  tokens: number;
  flops: number;
  ratio_to_largest_run: number;
  ratio_to_sweep: number;
  predicted: number | null;
  interval: [number | null, number | null];
  loss_from_compute: number | null;
  measured: number | null;
  error_percent: number | null;
  inside_interval: boolean | null;
}

/** Numbers a degenerate fit can leave undefined (NaN or infinite) are null. */
export interface ScalingSummary {
  sweep: { data: string[]; vocab_size: number; seq_len: number; batch: number; budget: number; planned_runs: number; finished_runs: number; total_flops: number; largest_run_flops: number | null };
  fit: null | {
    param_kind: 'total' | 'nonEmbedding';
    runs: number;
    stale: boolean;
    bootstrap_samples: number;
    rmse_log: number | null;
    flops_per_param_token: number;
    params: { name: 'E' | 'A' | 'alpha' | 'B' | 'beta'; symbol: string; value: number | null; interval: [number | null, number | null] }[];
  };
  compute_law: null | { a: number | null; b: number | null; c: number | null; frontier_runs: number; rmse_log: number | null };
  /** null where the fit's closed form overflows (NaN or infinite in the fit). */
  compute_optimal: { multiple: number; flops: number; n: number | null; d: number | null; loss: number | null }[];
  predictions: ScalingPredictionRow[];
  next_step: string | null;
}

/** The records as the sweep's files hold them (only the fields the app reads). */
export interface ScalingRun {
  id: string;
  flops: number;
  valLoss: number;
  tokens: number;
  params: { total: number; nonEmbedding: number };
}

export interface ScalingDetail {
  id: string;
  name: string;
  folder: string;
  runs: ScalingRun[];
  predictions: { id: string; flops: number; loss: number; interval: [number, number] }[];
  verifications: { prediction: { id: string }; run: ScalingRun; relativeError: number }[];
  /** ECharts options of the sweep's chart (as in scaling.png), or null before the first run finishes. */
  chart: Record<string, unknown> | null;
  summary: ScalingSummary;
}

export class ApiError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly param: string | null = null,
  ) {
    super(message);
  }
}

async function errorFrom(res: Response): Promise<ApiError> {
  try {
    const body = (await res.json()) as { error?: { message?: string; param?: string | null } };
    if (body.error?.message) return new ApiError(body.error.message, res.status, body.error.param ?? null);
  } catch {
    // Not JSON: fall through to the status line.
  }
  return new ApiError(`The server answered ${res.status} ${res.statusText}.`, res.status);
}

export class Api {
  constructor(private readonly apiKey: () => string) {}

  private headers(json: boolean): HeadersInit {
    const h: Record<string, string> = {};
    if (json) h['content-type'] = 'application/json';
    const key = this.apiKey();
    if (key) h['authorization'] = `Bearer ${key}`;
    return h;
  }

  private async call<T>(method: 'GET' | 'POST', url: string, body?: unknown, signal?: AbortSignal): Promise<T> {
    const res = await fetch(url, {
      method,
      headers: this.headers(body !== undefined),
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      ...(signal ? { signal } : {}),
    });
    if (!res.ok) throw await errorFrom(res);
    return (await res.json()) as T;
  }

  config(): Promise<ServerConfig> {
    return this.call('GET', 'api/config');
  }

  analyze(text: string, model: string | undefined, topK: number, signal?: AbortSignal): Promise<Analysis> {
    return this.call('POST', 'api/analyze', { text, top_k: topK, ...(model ? { model } : {}) }, signal);
  }

  /** Tests text for the watermark the server's generation endpoints add. */
  detect(text: string, model: string | undefined, signal?: AbortSignal): Promise<Detection> {
    return this.call('POST', 'api/detect', { text, ...(model ? { model } : {}) }, signal);
  }

  feedback(item: FeedbackItem): Promise<{ id: number }> {
    return this.call('POST', 'api/feedback', item);
  }

  stats(): Promise<FeedbackStats> {
    return this.call('GET', 'api/feedback/stats');
  }

  async exportUrl(): Promise<string> {
    const res = await fetch('api/feedback/export', { headers: this.headers(false) });
    if (!res.ok) throw await errorFrom(res);
    return URL.createObjectURL(await res.blob());
  }

  alignSummary(): Promise<AlignSummary> {
    return this.call('GET', 'api/align');
  }

  startAlign(req: AlignRequest): Promise<AlignRun> {
    return this.call('POST', 'api/align', req);
  }

  alignRun(id: string, since: number): Promise<AlignRun> {
    return this.call('GET', `api/align/${encodeURIComponent(id)}?since=${since}`);
  }

  cancelAlign(id: string): Promise<AlignRun> {
    return this.call('POST', `api/align/${encodeURIComponent(id)}/cancel`, {});
  }

  scalingSweeps(): Promise<{ sweeps: ScalingSweepEntry[] }> {
    return this.call('GET', 'api/scaling');
  }

  scalingSweep(id: string, signal?: AbortSignal): Promise<ScalingDetail> {
    return this.call('GET', `api/scaling/${encodeURIComponent(id)}`, undefined, signal);
  }

  /** One completion (not streamed); the same seed and settings give comparable outputs across models. */
  async complete(req: Omit<SuggestRequest, 'n'> & { seed: number }, signal?: AbortSignal): Promise<string> {
    const r = await this.call<{ suggestions: { text: string }[] }>('POST', 'api/autocomplete', { ...req, n: 1 }, signal);
    return r.suggestions[0]?.text ?? '';
  }

  /** Streams suggestion events as the server generates them. */
  async *suggest(req: SuggestRequest, signal: AbortSignal): AsyncGenerator<SuggestEvent> {
    const res = await fetch('api/autocomplete', { method: 'POST', headers: this.headers(true), body: JSON.stringify({ ...req, stream: true }), signal });
    if (!res.ok || !res.body) throw await errorFrom(res);
    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += value;
      let cut: number;
      while ((cut = buffer.indexOf('\n\n')) >= 0) {
        const event = buffer.slice(0, cut);
        buffer = buffer.slice(cut + 2);
        for (const line of event.split('\n')) {
          if (!line.startsWith('data: ')) continue;
          const data = line.slice(6);
          if (data === '[DONE]') return;
          const parsed = JSON.parse(data) as SuggestEvent | { error: { message: string } };
          if ('error' in parsed) throw new ApiError(parsed.error.message, 200);
          yield parsed;
        }
      }
    }
  }
}
