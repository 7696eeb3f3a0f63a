// A bounded FIFO queue that runs one job at a time. A model's forward passes are synchronous
// compute, so running two generations at once would only interleave them (each slower, neither
// sooner); a queue keeps latency predictable and lets the server refuse work it cannot take (429)
// instead of piling up requests until memory or time runs out.

import { ApiError } from './errors.ts';
import type { QueueStats } from './wire.ts';

export type { QueueStats };

interface Waiter {
  start: () => void;
  onAbort: () => void;
}

export class GenerationQueue {
  private running = 0;
  private readonly waiters: Waiter[] = [];
  private completed = 0;
  private meanRunMs = 0;

  constructor(
    /** Jobs that may wait while one runs; one more is refused with 429. */
    readonly maxWaiting: number,
    readonly concurrency = 1,
  ) {
    if (!Number.isInteger(maxWaiting) || maxWaiting < 0) throw new Error(`queue size must be an integer >= 0, got ${maxWaiting}`);
    if (!Number.isInteger(concurrency) || concurrency < 1) throw new Error(`queue concurrency must be a positive integer, got ${concurrency}`);
  }

  stats(): QueueStats {
    return { running: this.running, waiting: this.waiters.length, maxWaiting: this.maxWaiting, completed: this.completed, meanRunMs: Math.round(this.meanRunMs) };
  }

  /** Seconds a client refused now should wait before retrying. */
  retryAfterSeconds(): number {
    const perJob = this.meanRunMs > 0 ? this.meanRunMs : 1000;
    return Math.max(1, Math.ceil(((this.waiters.length + this.running) * perJob) / this.concurrency / 1000));
  }

  /**
   * Runs job when a slot is free. Throws a 429 ApiError at once when the queue is full, and the
   * signal's reason when the signal aborts while waiting (the job then never starts).
   */
  async run<T>(signal: AbortSignal, job: () => Promise<T>): Promise<T> {
    signal.throwIfAborted();
    if (this.running >= this.concurrency) {
      if (this.waiters.length >= this.maxWaiting) {
        const after = this.retryAfterSeconds();
        throw new ApiError(429, `The server is busy: ${this.running} generation(s) running and ${this.waiters.length} waiting. Retry after ${after} s.`, null, 'queue_full', 'rate_limit_error', { 'retry-after': String(after) });
      }
      await new Promise<void>((resolve, reject) => {
        const waiter: Waiter = {
          start: () => {
            signal.removeEventListener('abort', waiter.onAbort);
            resolve();
          },
          onAbort: () => {
            const i = this.waiters.indexOf(waiter);
            if (i >= 0) this.waiters.splice(i, 1);
            reject(signal.reason);
          },
        };
        signal.addEventListener('abort', waiter.onAbort, { once: true });
        this.waiters.push(waiter);
      });
    } else {
      this.running++;
    }
    // The slot was handed over by release() (running count unchanged) or taken above.
    const t0 = performance.now();
    try {
      return await job();
    } finally {
      const ms = performance.now() - t0;
      this.completed++;
      this.meanRunMs = this.completed === 1 ? ms : this.meanRunMs * 0.8 + ms * 0.2;
      this.release();
    }
  }

  private release(): void {
    const next = this.waiters.shift();
    if (next) next.start();
    else this.running--;
  }
}
