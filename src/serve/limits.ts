// Server limits. Every resource a request can ask for is bounded here, so no single request (or
// a flood of them) can make the server use unbounded memory or time.

export interface ServeLimits {
  /** Cap on max_tokens / length of one completion. */
  maxTokens: number;
  /** Cap on n (completions per prompt), on prompts per request and on choices per request. */
  maxN: number;
  /** Cap on logprobs / top_logprobs / top_k of the analysis. */
  maxTopLogprobs: number;
  /** Requests that may wait for the model while one generates; more get 429. */
  maxQueue: number;
  /** Time a request may take, waiting included (ms); then it is cancelled. */
  requestTimeoutMs: number;
  /** Largest request body (bytes); larger gets 413. */
  bodyLimit: number;
  /** How long the rest of an oversized body is read and discarded after the 413 (ms); then the connection is closed. */
  bodyDrainMs: number;
  /** Longest prompt / context / text field (characters). */
  maxPromptChars: number;
  /** Longest token-id prompt accepted by the schema (the model's context is checked afterwards). */
  maxContext: number;
}

export const defaultLimits: ServeLimits = {
  maxTokens: 512,
  maxN: 8,
  maxTopLogprobs: 20,
  maxQueue: 32,
  requestTimeoutMs: 120_000,
  bodyLimit: 1 << 20,
  bodyDrainMs: 10_000,
  maxPromptChars: 200_000,
  maxContext: 16_384,
};

export function resolveLimits(overrides: Partial<ServeLimits> = {}): ServeLimits {
  const limits = { ...defaultLimits };
  for (const [key, value] of Object.entries(overrides) as [keyof ServeLimits, number | undefined][]) {
    if (value === undefined) continue;
    const min = key === 'maxQueue' ? 0 : 1;
    if (!Number.isInteger(value) || value < min) throw new Error(`serve limit ${key} must be an integer >= ${min}, got ${value}`);
    limits[key] = value;
  }
  if (limits.maxTopLogprobs > 20) throw new Error(`serve limit maxTopLogprobs must be at most 20 (the generator reports up to 20 alternatives), got ${limits.maxTopLogprobs}`);
  return limits;
}
