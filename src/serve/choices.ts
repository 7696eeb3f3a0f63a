// Building one choice of a response from generation events, the same way whether the response is
// streamed or not, so a streamed response concatenates to exactly the non-streamed one.
//
// Which tokens get a log-probability entry: every generated token whose text starts inside the
// returned text. The token that ended the completion (end-of-text, or a chat model's end of turn)
// and the tokens after a stop sequence's cut are left out, as
// their text is not part of the completion. While a stop sequence may still match, generate.ts
// holds text back; entries are held back with it and released when their text is.

import type { FinishReason, GenerateEvent, TokenAlternative } from '../generate/generate.ts';
import type { StreamDecoder, Tokenizer } from '../tokenizer/tokenizer.ts';

export interface TokenEntry {
  /** `entropy`: nats, of the model's distribution at the token's position (null when unscored). */
  token: { id: number; text: string; logprob: number | null; top: TokenAlternative[]; entropy?: number | null };
  /** Offset of the token's text within the choice's text. */
  start: number;
}

export interface ChoiceUpdate {
  /** Text released by this event. */
  text: string;
  /** Log-probability entries released by this event. */
  entries: TokenEntry[];
}

export class ChoiceAccumulator {
  text = '';
  entries: TokenEntry[] = [];
  completionTokens = 0;
  finishReason: FinishReason | null = null;
  private readonly decoder: StreamDecoder;
  private rawLength = 0;
  private held: TokenEntry[] = [];

  private readonly stopIds: ReadonlySet<number>;

  /** `stopTokenIds`: the tokens that end a completion (GenerateOptions.stopTokenIds). */
  constructor(tokenizer: Tokenizer, stopTokenIds: readonly number[]) {
    this.decoder = tokenizer.streamDecoder();
    this.stopIds = new Set(stopTokenIds);
  }

  push(ev: GenerateEvent): ChoiceUpdate {
    if (ev.type === 'token') {
      this.completionTokens++;
      if (!this.stopIds.has(ev.token.id)) {
        const piece = this.decoder.push(ev.token.id);
        this.held.push({ token: ev.token, start: this.rawLength });
        this.rawLength += piece.length;
      }
    } else {
      this.finishReason = ev.finishReason;
    }
    this.text += ev.text;
    const released: TokenEntry[] = [];
    while (this.held.length > 0 && this.held[0]!.start < this.text.length) released.push(this.held.shift()!);
    if (ev.type === 'done') this.held = [];
    this.entries.push(...released);
    return { text: ev.text, entries: released };
  }
}

export interface LegacyLogprobs {
  tokens: string[];
  token_logprobs: (number | null)[];
  top_logprobs: (Record<string, number> | null)[];
  text_offset: number[];
  /** Extension: the entropy (nats) at each position, parallel to token_logprobs; OpenAI's clients ignore it. */
  entropies: (number | null)[];
}

/** The /v1/completions `logprobs` object; offsets are shifted by `base` (the prompt's length when it is not echoed). */
export function legacyLogprobs(entries: readonly TokenEntry[], base: number): LegacyLogprobs {
  const out: LegacyLogprobs = { tokens: [], token_logprobs: [], top_logprobs: [], text_offset: [], entropies: [] };
  for (const { token, start } of entries) {
    out.tokens.push(token.text);
    out.token_logprobs.push(token.logprob);
    if (token.logprob === null) out.top_logprobs.push(null);
    else {
      const top: Record<string, number> = {};
      for (const alt of token.top) if (!(alt.text in top)) top[alt.text] = alt.logprob;
      out.top_logprobs.push(top);
    }
    out.text_offset.push(base + start);
    out.entropies.push(token.entropy ?? null);
  }
  return out;
}

export function concatLegacy(a: LegacyLogprobs, b: LegacyLogprobs): LegacyLogprobs {
  return {
    tokens: [...a.tokens, ...b.tokens],
    token_logprobs: [...a.token_logprobs, ...b.token_logprobs],
    top_logprobs: [...a.top_logprobs, ...b.top_logprobs],
    text_offset: [...a.text_offset, ...b.text_offset],
    entropies: [...a.entropies, ...b.entropies],
  };
}

export interface ChatTokenLogprob {
  token: string;
  logprob: number;
  bytes: number[];
  top_logprobs: { token: string; logprob: number; bytes: number[] }[];
  /** Extension: entropy (nats) of the model's distribution at this position. */
  entropy: number | null;
}

/** The chat format's `logprobs.content` entries. */
export function chatLogprobs(tokenizer: Tokenizer, entries: readonly TokenEntry[]): ChatTokenLogprob[] {
  return entries.map(({ token }) => ({
    token: token.text,
    logprob: token.logprob ?? 0,
    bytes: Array.from(tokenizer.tokenBytes(token.id)),
    top_logprobs: token.top.map((t) => ({ token: t.text, logprob: t.logprob, bytes: Array.from(tokenizer.tokenBytes(t.id)) })),
    entropy: token.entropy ?? null,
  }));
}
