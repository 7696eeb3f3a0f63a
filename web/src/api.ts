// The app's client for genlab's server: JSON calls, Server-Sent Events for streamed suggestions,
// and OpenAI-style error objects turned into readable errors. The request and response types are
// the server's own (src/serve/wire.ts), imported as types only: nothing of the server is bundled.

import type {
  AlignRequest,
  AlignRun,
  AlignSummary,
  Analysis,
  AnalyzeRequest,
  AutocompleteRequest,
  AutocompleteResponse,
  DetectRequest,
  Detection,
  ErrorBody,
  FeedbackCreated,
  FeedbackRequest,
  FeedbackStats,
  ScalingDetail,
  ScalingList,
  ServerConfig,
  SuggestEvent,
  TranslateInfo,
  TranslateRequest,
  TranslateResult,
} from '../../src/serve/wire.ts';

/** The types the panels use, re-exported so they import the client and its types from one place. */
export type {
  AlignPoint,
  AlignRun,
  AlignSummary,
  Analysis,
  Detection,
  FeedbackStats,
  ScalingDetail,
  ScalingSummary,
  ScalingSweepEntry,
  ServerConfig,
  TranslateInfo,
  TranslateResult,
} from '../../src/serve/wire.ts';

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
    const body = (await res.json()) as Partial<ErrorBody>;
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
    const req: AnalyzeRequest = { text, top_k: topK, ...(model ? { model } : {}) };
    return this.call('POST', 'api/analyze', req, signal);
  }

  /** Tests text for the watermark the server's generation endpoints add. */
  detect(text: string, model: string | undefined, signal?: AbortSignal): Promise<Detection> {
    const req: DetectRequest = { text, ...(model ? { model } : {}) };
    return this.call('POST', 'api/detect', req, signal);
  }

  feedback(item: FeedbackRequest): Promise<FeedbackCreated> {
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

  scalingSweeps(): Promise<ScalingList> {
    return this.call('GET', 'api/scaling');
  }

  scalingSweep(id: string, signal?: AbortSignal): Promise<ScalingDetail> {
    return this.call('GET', `api/scaling/${encodeURIComponent(id)}`, undefined, signal);
  }

  translateInfo(signal?: AbortSignal): Promise<TranslateInfo> {
    return this.call('GET', 'api/translate', undefined, signal);
  }

  translate(req: TranslateRequest, signal?: AbortSignal): Promise<TranslateResult> {
    return this.call('POST', 'api/translate', req, signal);
  }

  /** One completion (not streamed); the same seed and settings give comparable outputs across models. */
  async complete(req: Omit<AutocompleteRequest, 'n' | 'stream'> & { seed: number }, signal?: AbortSignal): Promise<string> {
    const body: AutocompleteRequest = { ...req, n: 1 };
    const r = await this.call<AutocompleteResponse>('POST', 'api/autocomplete', body, signal);
    return r.suggestions[0]?.text ?? '';
  }

  /** Streams suggestion events as the server generates them. */
  async *suggest(req: Omit<AutocompleteRequest, 'stream'>, signal: AbortSignal): AsyncGenerator<SuggestEvent> {
    const body: AutocompleteRequest = { ...req, stream: true };
    const res = await fetch('api/autocomplete', { method: 'POST', headers: this.headers(true), body: JSON.stringify(body), signal });
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
          const parsed = JSON.parse(data) as SuggestEvent | ErrorBody;
          if ('error' in parsed) throw new ApiError(parsed.error.message, 200);
          yield parsed;
        }
      }
    }
  }
}
