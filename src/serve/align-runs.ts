// Alignment runs started from the app: DPO with a LoRA adapter on a served model, trained on the
// feedback the server collected, in the background. Every training step is a job on the base
// model's generation queue, so requests keep being answered between steps (and the step sees
// the model with its own adapter attached, whatever the previous job used). The reference is the
// base with adapters detached, computed once. When a run finishes, its adapter is written as a
// PEFT folder under the runs directory and served as a new model id next to its base.

import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { parentRef, RunRecorder } from '../record/record-writer.ts';
import type { ParentRef } from '../record/run-record.ts';
import { dpoFlopsMethod, referenceFlops, referenceLogprobs, trainDpo, type ReferencedPair } from '../align/dpo.ts';
import type { LoopEvent } from '../align/pair-loop.ts';
import { splitPairs, tokenizePairs, type SourcedPair, type TokenizedPair } from '../align/preferences.ts';
import { preferenceDataFacts } from '../align/run-facts.ts';
import { forwardFlopsPerToken } from '../models/flops.ts';
import { saveAdapter } from '../io/peft.ts';
import { freezeBase, LoraAdapter } from '../nn/lora.ts';
import { ApiError } from './errors.ts';
import type { FeedbackStore } from './feedback-store.ts';
import type { ModelRegistry } from './models.ts';
import type { GenerationQueue } from './queue.ts';
import type { AlignPoint, AlignStatus } from './wire.ts';

export interface AlignRunRequest {
  /** A plain served model (default: the first). */
  model?: string;
  steps?: number;
  beta?: number;
  lr?: number;
  loraR?: number;
  loraAlpha?: number;
  batch?: number;
  sftWeight?: number;
  /** Also pair 👍/👎 ratings of the same prompt (default true). */
  ratings?: boolean;
  seed?: number;
}

export interface AlignRun {
  id: string;
  status: AlignStatus;
  base: string;
  /** The served id of the result, once done. */
  model: string | null;
  createdAt: string;
  finishedAt: string | null;
  settings: Required<Omit<AlignRunRequest, 'model'>>;
  pairs: { total: number; train: number; val: number; skipped: number };
  steps: number;
  step: number;
  points: AlignPoint[];
  events: LoopEvent[];
  /** Held-out metrics at the end (when there were enough pairs to hold some out). */
  eval: Record<string, number> | null;
  error: string | null;
  dir: string | null;
}

export const MIN_PAIRS = 2;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms).unref());

export class AlignmentRuns {
  private readonly runs = new Map<string, AlignRun>();
  private readonly controllers = new Map<string, AbortController>();
  private readonly pending = new Set<Promise<void>>();
  private counter = 0;

  constructor(
    private readonly models: ModelRegistry,
    private readonly store: FeedbackStore,
    private readonly runsDir: string,
  ) {}

  /** Pairs the app has collected (preferences, and pairs made from ratings of the same prompt). */
  pairCounts(): { preferences: number; fromRatings: number } {
    let preferences = 0;
    for (const _ of this.store.pairs()) preferences++;
    let all = 0;
    for (const _ of this.store.pairs({ ratings: true })) all++;
    return { preferences, fromRatings: all - preferences };
  }

  list(): AlignRun[] {
    return [...this.runs.values()].reverse();
  }

  get(id: string): AlignRun {
    const r = this.runs.get(id);
    if (!r) throw new ApiError(404, `No alignment run '${id}'; GET /api/align lists the runs.`, 'id', 'run_not_found');
    return r;
  }

  active(): AlignRun | null {
    return this.list().find((r) => r.status === 'preparing' || r.status === 'running' || r.status === 'saving') ?? null;
  }

  cancel(id: string): AlignRun {
    const r = this.get(id);
    this.controllers.get(id)?.abort();
    return r;
  }

  /** Starts a run in the background and returns its record (updated as it trains). */
  start(req: AlignRunRequest): AlignRun {
    const busy = this.active();
    if (busy) throw new ApiError(409, `Alignment run ${busy.id} is still ${busy.status}; wait for it or cancel it (POST /api/align/${busy.id}/cancel).`, null, 'run_in_progress');
    const served = this.models.get(req.model ?? null);
    if (served.adapter) throw new ApiError(400, `'${served.id}' is an adapter on '${served.baseId}'; start the run on the base model '${served.baseId}'.`, 'model', 'invalid_value');
    const ratings = req.ratings ?? true;
    const raw: SourcedPair[] = [...this.store.pairs({ ratings })].map((p, i) => ({ ...p, source: `feedback pair ${i + 1}` }));
    if (raw.length < MIN_PAIRS) {
      throw new ApiError(400, `There are ${raw.length} feedback pair(s); an alignment run needs at least ${MIN_PAIRS}. Pick the better of two completions in Compare mode, or rate suggestions 👍/👎 for the same text.`, null, 'not_enough_feedback');
    }
    const id = `run-${++this.counter}-${Date.now().toString(36)}`;
    const settings: AlignRun['settings'] = {
      beta: req.beta ?? 0.1,
      lr: req.lr ?? 5e-4,
      loraR: req.loraR ?? 8,
      loraAlpha: req.loraAlpha ?? 16,
      batch: req.batch ?? 8,
      sftWeight: req.sftWeight ?? 0,
      ratings,
      seed: req.seed ?? 1337,
      // A few passes over small feedback sets; bounded for large ones.
      steps: req.steps ?? Math.min(300, Math.max(30, Math.ceil((3 * raw.length) / (req.batch ?? 8)))),
    };
    const run: AlignRun = {
      id,
      status: 'preparing',
      base: served.id,
      model: null,
      createdAt: new Date().toISOString(),
      finishedAt: null,
      settings,
      pairs: { total: raw.length, train: 0, val: 0, skipped: 0 },
      steps: settings.steps,
      step: 0,
      points: [],
      events: [],
      eval: null,
      error: null,
      dir: null,
    };
    this.runs.set(id, run);
    const controller = new AbortController();
    this.controllers.set(id, controller);
    const done = this.execute(run, raw, controller.signal).finally(() => {
      this.controllers.delete(id);
      this.pending.delete(done);
    });
    this.pending.add(done);
    return run;
  }

  /** Cancels every run and waits until each has stopped (after its current step): the server is closing. */
  async close(): Promise<void> {
    for (const c of this.controllers.values()) c.abort();
    await Promise.all([...this.pending]);
  }

  private async execute(run: AlignRun, raw: SourcedPair[], signal: AbortSignal): Promise<void> {
    const base = this.models.get(run.base);
    const { model, tokenizer } = base.lm;
    const queue = this.models.baseQueue(base.id);
    const onQueue = <T>(fn: () => T): Promise<T> => runWhenFree(queue, signal, fn);
    const s = run.settings;
    const recorder = RunRecorder.start();
    try {
      // Bad pairs (empty or identical completions) are skipped, not fatal: app feedback is messy.
      const tokenized: TokenizedPair[] = [];
      for (const p of raw) {
        try {
          tokenized.push(...tokenizePairs([p], tokenizer, { maxLength: model.contextLength }));
        } catch (err) {
          run.pairs.skipped++;
          if (run.pairs.skipped <= 3) run.events.push({ type: 'event', step: 0, kind: 'skipped-pair', message: (err as Error).message });
        }
      }
      if (tokenized.length < MIN_PAIRS) throw new Error(`only ${tokenized.length} usable pair(s) after skipping ${run.pairs.skipped} (empty or identical completions)`);
      const valFraction = 0.1;
      const { train, val } = splitPairs(tokenized, valFraction, s.seed);
      run.pairs.train = train.length;
      run.pairs.val = val.length;
      const pad = tokenizer.eotId ?? 0;
      const adapter = LoraAdapter.create(model, { r: s.loraR, alpha: s.loraAlpha, dropout: 0, targetModules: [...model.loraTargets], rsLora: false }, { seed: s.seed });
      // Serving needs no gradients of the base weights: freezing them keeps the optimizer to the adapter.
      freezeBase(model);
      const refs = async (pairs: TokenizedPair[]): Promise<ReferencedPair[]> => {
        const out: ReferencedPair[] = [];
        for (let i = 0; i < pairs.length; i += 8) out.push(...(await onQueue(() => referenceLogprobs(model, pairs.slice(i, i + 8), { adapter, pad }))));
        return out;
      };
      const trainRefs = await refs(train);
      const valRefs = await refs(val);
      run.status = 'running';
      const dir = path.join(this.runsDir, run.id);
      await mkdir(dir, { recursive: true });
      const result = await trainDpo({
        model,
        adapter,
        train: trainRefs,
        val: valRefs,
        steps: s.steps,
        batchSize: s.batch,
        lr: s.lr,
        beta: s.beta,
        sftWeight: s.sftWeight,
        seed: s.seed,
        pad,
        logFile: path.join(dir, 'align-log.jsonl'),
        runStep: onQueue,
        signal,
        onStep: (m) => {
          run.step = m.step;
          run.points.push({ step: m.step, loss: m.loss, margin: Number(m['rewards/margins']), accuracy: Number(m['rewards/accuracies']), chosen: Number(m['rewards/chosen']), rejected: Number(m['rewards/rejected']) });
        },
        onEvent: (e) => run.events.push(e),
      });
      if (signal.aborted) {
        run.status = 'cancelled';
        return;
      }
      run.status = 'saving';
      run.eval = result.eval;
      await saveAdapter(dir, adapter, model, { ...(base.dir ? { baseModel: path.resolve(base.dir) } : {}) });
      const refFlops = referenceFlops(model.config, train, pad) + referenceFlops(model.config, val, pad);
      const parent: ParentRef = base.dir ? await parentRef(base.dir, base.id) : { path: null, name: base.id, runRecordSha256: null, record: (base.lm as { runRecord?: Record<string, unknown> | null }).runRecord ?? null };
      await recorder.write(dir, {
        kind: 'alignment',
        method: `DPO with LoRA (r ${s.loraR}, α ${s.loraAlpha}, on ${model.loraTargets.join(', ')}), started from the app's Align tab`,
        command: `POST /api/align ${JSON.stringify({ model: base.id, ...s })} on genlab serve (the app's Align tab)`,
        parent: { model: parent },
        data: preferenceDataFacts({ name: 'app feedback', path: this.store.file === ':memory:' ? null : path.resolve(this.store.file), raw, train, val, valFraction, seed: s.seed }),
        config: model.config,
        hyperparameters: { ...s, valFraction, lora: adapter.config },
        seeds: { init: s.seed, dataOrder: s.seed, validationSplit: s.seed },
        parameters: { trainable: adapter.numParameters(), total: model.numParameters() + adapter.numParameters() },
        training: { steps: result.steps, tokensSeen: result.tokens, trainingFlops: result.flops + refFlops, trainSeconds: result.seconds, referenceFlops: refFlops, skippedSteps: result.skipped, last: result.last, events: run.events },
        compute: {
          method: dpoFlopsMethod(true),
          forwardFlopsPerToken: forwardFlopsPerToken(model.config, model.contextLength),
        },
        device: { name: model.device.name, threads: model.device.threads },
        evaluations: result.eval ? [{ name: 'preference-pairs', data: `${val.length} held-out pairs of the app feedback`, metrics: result.eval, createdAt: new Date().toISOString(), command: 'measured by the Align tab at the end of the run: DPO loss, reward accuracy and margin of the held-out pairs' }] : [],
        energyNote: 'the whole server process while the run lasted, so requests it answered meanwhile are included (an upper bound for the run)',
        mitigations: ['the reference log-probabilities were computed once before training', `LoRA: ${adapter.numParameters().toLocaleString('en-US')} trainable parameters; the reference is the served base with the adapter detached, not a second copy`],
        files: { log: 'align-log.jsonl', adapter: 'adapter_model.safetensors' },
      });
      let name = `${base.id}+dpo-${this.counter}`;
      for (let i = 2; this.models.has(name); i++) name = `${base.id}+dpo-${this.counter}-${i}`;
      this.models.addAdapter(name, base.id, adapter, { dir });
      run.dir = dir;
      run.model = name;
      run.status = 'done';
    } catch (err) {
      if (signal.aborted) run.status = 'cancelled';
      else {
        run.status = 'failed';
        run.error = (err as Error).message;
      }
    } finally {
      recorder.stop();
      run.finishedAt = new Date().toISOString();
    }
  }
}

/** Runs fn as a job on the queue, waiting (instead of failing) while the queue is full. */
async function runWhenFree<T>(queue: GenerationQueue, signal: AbortSignal, fn: () => T): Promise<T> {
  for (;;) {
    try {
      return await queue.run(signal, async () => fn());
    } catch (err) {
      if (err instanceof ApiError && err.status === 429 && !signal.aborted) {
        await sleep(Math.min(5000, 1000 * queue.retryAfterSeconds()));
        continue;
      }
      throw err;
    }
  }
}
