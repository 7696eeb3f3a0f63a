// Per-request plumbing: the abort signal that cancels a generation when the client disconnects or
// the request's time runs out, and Server-Sent Events in OpenAI's format (`data: {json}` chunks,
// ending with `data: [DONE]`).

import type { FastifyReply } from 'fastify';
import { ApiError } from './errors.ts';

export const securityHeaders: Record<string, string> = {
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
  'cross-origin-opener-policy': 'same-origin',
};

/** Abort reason when the client closed the connection: there is nobody to answer. */
export class ClientGone extends Error {
  constructor() {
    super('the client closed the connection');
    this.name = 'ClientGone';
  }
}

export class RequestScope {
  private readonly controller = new AbortController();
  private readonly timer: NodeJS.Timeout;
  private readonly onClose: () => void;

  constructor(
    private readonly reply: FastifyReply,
    timeoutMs: number,
  ) {
    this.onClose = () => {
      if (!reply.raw.writableEnded) this.controller.abort(new ClientGone());
    };
    reply.raw.once('close', this.onClose);
    this.timer = setTimeout(() => {
      this.controller.abort(new ApiError(503, `The request took longer than the server's limit of ${Math.round(timeoutMs / 1000)} s and was cancelled; lower max_tokens or n, or retry when the server is less busy.`, null, 'timeout', 'server_error'));
    }, timeoutMs);
    this.timer.unref();
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  /** Throws the reason the request was aborted, if it was. */
  check(): void {
    if (this.signal.aborted) throw this.signal.reason;
  }

  dispose(): void {
    clearTimeout(this.timer);
    this.reply.raw.off('close', this.onClose);
  }
}

/** Runs fn with a RequestScope; a request whose client left is dropped without an answer. */
export async function withScope<T>(reply: FastifyReply, timeoutMs: number, fn: (scope: RequestScope) => Promise<T>): Promise<T | FastifyReply> {
  const scope = new RequestScope(reply, timeoutMs);
  try {
    return await fn(scope);
  } catch (err) {
    if (err instanceof ClientGone) {
      if (!reply.sent) reply.hijack();
      if (!reply.raw.writableEnded) reply.raw.end();
      return reply;
    }
    throw err;
  } finally {
    scope.dispose();
  }
}

export class SseStream {
  private ended = false;

  constructor(private readonly reply: FastifyReply) {
    reply.hijack();
    reply.raw.writeHead(200, {
      ...securityHeaders,
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
  }

  send(data: unknown): void {
    if (this.ended || this.reply.raw.destroyed) return;
    this.reply.raw.write(`data: ${JSON.stringify(data)}\n\n`);
  }

  /** Reports an error inside the stream (the status line is already sent) and ends it. */
  fail(err: ApiError): void {
    this.send(err.toBody());
    this.end();
  }

  end(): void {
    if (this.ended) return;
    this.ended = true;
    if (!this.reply.raw.destroyed) this.reply.raw.end('data: [DONE]\n\n');
  }
}

/** Runs a streaming job: errors after the stream started are reported in-stream. */
export async function streamTo(reply: FastifyReply, job: (sse: SseStream) => Promise<void>): Promise<FastifyReply> {
  const sse = new SseStream(reply);
  try {
    await job(sse);
    sse.end();
  } catch (err) {
    if (err instanceof ClientGone) {
      if (!reply.raw.writableEnded) reply.raw.end();
    } else {
      sse.fail(err instanceof ApiError ? err : new ApiError(500, 'generation failed inside the server; see its log', null, 'internal_error'));
      if (!(err instanceof ApiError)) reply.log.error(err);
    }
  }
  return reply;
}
