// The models a server answers for, each with its own generation queue. A model's id is its folder
// name (what clients pass as `model`); GET /v1/models lists them.

import path from 'node:path';
import type { LanguageModel } from '../generate/generate.ts';
import { promptIds } from '../generate/generate.ts';
import { ApiError, badRequest } from './errors.ts';
import { GenerationQueue } from './queue.ts';

export interface ServedModel {
  id: string;
  lm: LanguageModel;
  queue: GenerationQueue;
  /** Unix seconds when the server loaded it. */
  created: number;
  contextLength: number;
}

export interface ModelSource {
  lm: LanguageModel;
  /** Defaults to the folder name of `dir`, else "genlab". */
  id?: string;
  dir?: string;
}

export class ModelRegistry {
  private readonly byId = new Map<string, ServedModel>();

  constructor(sources: readonly ModelSource[], maxQueue: number) {
    if (sources.length === 0) throw new Error('the server needs at least one model');
    const created = Math.floor(Date.now() / 1000);
    for (const s of sources) {
      const base = s.id ?? (s.dir ? path.basename(path.resolve(s.dir)) : 'genlab');
      let id = base;
      for (let i = 2; this.byId.has(id); i++) id = `${base}-${i}`;
      this.byId.set(id, { id, lm: s.lm, queue: new GenerationQueue(maxQueue), created, contextLength: s.lm.model.config.nPositions });
    }
  }

  list(): ServedModel[] {
    return [...this.byId.values()];
  }

  /** The model a request names; app routes may omit it and get the first model. */
  get(id: string | undefined | null): ServedModel {
    if (id === undefined || id === null) return this.list()[0]!;
    const m = this.byId.get(id);
    if (!m) {
      throw new ApiError(404, `The model '${id}' does not exist on this server; it serves: ${[...this.byId.keys()].join(', ')}.`, 'model', 'model_not_found');
    }
    return m;
  }
}

/** Token ids of a prompt, with errors that name the request field. */
export function encodePrompt(served: ServedModel, prompt: string | readonly number[], param: string): number[] {
  try {
    return promptIds(served.lm.tokenizer, prompt);
  } catch (err) {
    throw badRequest(`Invalid '${param}': ${(err as Error).message}.`, param, 'invalid_value');
  }
}

/** Refuses a prompt that, with maxTokens more tokens, does not fit the model's context. */
export function checkContext(served: ServedModel, promptTokens: number, maxTokens: number, promptParam: string, maxParam: string): void {
  const ctx = served.contextLength;
  if (promptTokens > ctx) {
    throw badRequest(`This model's maximum context length is ${ctx} tokens, but '${promptParam}' has ${promptTokens} tokens. Shorten it.`, promptParam, 'context_length_exceeded');
  }
  if (promptTokens + maxTokens > ctx) {
    throw badRequest(
      `This model's maximum context length is ${ctx} tokens. However, you requested ${promptTokens + maxTokens} tokens (${promptTokens} in '${promptParam}', ${maxTokens} in '${maxParam}'). Lower '${maxParam}' to at most ${ctx - promptTokens} or shorten '${promptParam}'.`,
      promptTokens === ctx ? promptParam : maxParam,
      'context_length_exceeded',
    );
  }
}
