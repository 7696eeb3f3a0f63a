// The models a server answers for. A model's id is its folder name (what clients pass as
// `model`); GET /v1/models lists them. A LoRA adapter is served as a model of its own that shares
// its base's weights and generation queue: every job on that queue first points the base's linear
// layers at the job's adapter (or at none), which costs a few pointer writes, so one base model in
// memory answers for itself and any number of adapters, and a request picks one by `model`.

import path from 'node:path';
import type { CausalLm, LanguageModel } from '../generate/generate.ts';
import { promptIds } from '../generate/generate.ts';
import { Linear } from '../nn/layers.ts';
import { attachAdapter, type LoraAdapter } from '../nn/lora.ts';
import { ApiError, badRequest } from './errors.ts';
import { GenerationQueue, type QueueStats } from './queue.ts';

/** The queue of one served model: runs jobs one at a time with the model's adapter attached. */
export interface ModelQueue {
  run<T>(signal: AbortSignal, job: () => Promise<T>): Promise<T>;
  stats(): QueueStats;
  retryAfterSeconds(): number;
}

export interface ServedModel {
  id: string;
  lm: LanguageModel<CausalLm>;
  queue: ModelQueue;
  /** Unix seconds when the server loaded it. */
  created: number;
  contextLength: number;
  /** The LoRA adapter this id applies to its base model, or null for a plain model. */
  adapter: LoraAdapter | null;
  /** The id of the plain model whose weights this one uses (itself for a plain model). */
  baseId: string;
  /** Where it was loaded from, when known. */
  dir: string | null;
}

export interface ModelSource {
  lm: LanguageModel<CausalLm>;
  /** Defaults to the folder name of `dir`, else "genlab". */
  id?: string;
  dir?: string;
}

class AdapterQueue implements ModelQueue {
  constructor(
    private readonly shared: GenerationQueue,
    private readonly lm: LanguageModel<CausalLm>,
    private readonly adapter: LoraAdapter | null,
  ) {}

  run<T>(signal: AbortSignal, job: () => Promise<T>): Promise<T> {
    return this.shared.run(signal, () => {
      attachAdapter(this.lm.model, this.adapter);
      return job();
    });
  }

  stats(): QueueStats {
    return this.shared.stats();
  }

  retryAfterSeconds(): number {
    return this.shared.retryAfterSeconds();
  }
}

export class ModelRegistry {
  private readonly byId = new Map<string, ServedModel>();
  private readonly queues = new Map<string, GenerationQueue>();

  constructor(sources: readonly ModelSource[], maxQueue: number) {
    if (sources.length === 0) throw new Error('the server needs at least one model');
    for (const s of sources) {
      const base = s.id ?? (s.dir ? path.basename(path.resolve(s.dir)) : 'genlab');
      let id = base;
      for (let i = 2; this.byId.has(id); i++) id = `${base}-${i}`;
      const shared = new GenerationQueue(maxQueue);
      this.queues.set(id, shared);
      this.byId.set(id, { id, lm: s.lm, queue: new AdapterQueue(shared, s.lm, null), created: now(), contextLength: s.lm.model.contextLength, adapter: null, baseId: id, dir: s.dir ?? null });
    }
  }

  list(): ServedModel[] {
    return [...this.byId.values()];
  }

  /** The shared queue of a plain model (alignment runs put their training steps on it). */
  baseQueue(baseId: string): GenerationQueue {
    const q = this.queues.get(baseId);
    if (!q) throw new Error(`no plain model '${baseId}' is served`);
    return q;
  }

  /**
   * Serves `adapter` on the plain model `baseId` under `id`. Ids are unique: an existing id is
   * refused unless `replace` (then the id points at the new adapter from the next request on).
   */
  addAdapter(id: string, baseId: string, adapter: LoraAdapter, opts: { dir?: string; replace?: boolean } = {}): ServedModel {
    const base = this.byId.get(baseId);
    if (!base || base.adapter !== null) throw new Error(`cannot add adapter '${id}': '${baseId}' is not a plain served model (serving: ${[...this.byId.keys()].join(', ')})`);
    if (!/^[A-Za-z0-9._+:-]{1,128}$/.test(id)) throw new Error(`adapter name '${id}' must be 1–128 letters, digits or . _ + : -`);
    if (this.byId.has(id) && !opts.replace) throw new Error(`a model named '${id}' is already served; pick another adapter name`);
    // Fail now, not on the first request, when the adapter does not fit this base. (Checked without
    // attaching it: a generation on the base may be running.)
    checkAdapterFits(base.lm, adapter, id);
    const served: ServedModel = { id, lm: base.lm, queue: new AdapterQueue(this.queues.get(baseId)!, base.lm, adapter), created: now(), contextLength: base.contextLength, adapter, baseId, dir: opts.dir ?? null };
    this.byId.set(id, served);
    return served;
  }

  has(id: string): boolean {
    return this.byId.has(id);
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

const now = (): number => Math.floor(Date.now() / 1000);

function checkAdapterFits(lm: LanguageModel<CausalLm>, adapter: LoraAdapter, id: string): void {
  const linears = new Map(lm.model.namedModules().filter((e): e is [string, Linear] => e[1] instanceof Linear));
  for (const [name, m] of adapter.modules) {
    const lin = linears.get(name);
    if (!lin) throw new Error(`adapter '${id}' adapts ${name}, which this base model does not have; was it trained on another base?`);
    if (m.a.shape[1] !== lin.inFeatures || m.b.shape[0] !== lin.outFeatures) {
      throw new Error(`adapter '${id}': ${name} is ${lin.inFeatures}→${lin.outFeatures} in the base but the adapter has A ${m.a.shape.join('×')}, B ${m.b.shape.join('×')}; was it trained on another base?`);
    }
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
