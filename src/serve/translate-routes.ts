// The translation endpoints: GET /api/translate lists the translation models the server holds
// (with the app's example text), POST /api/translate translates a text with one of them, sentence
// by sentence, on that model's own queue. Translation models are model folders whose config.json
// says model_type "genlab-translator"; `genlab serve --model LM_DIR TRANSLATOR_DIR` serves both.

import type { FastifyInstance } from 'fastify';
import { loadTranslator, isTranslationFolder, type LoadedTranslationModel } from '../translate/folder.ts';
import { splitSentences, translateSentence, type SentenceTranslation } from '../translate/translate.ts';
import { ApiError, badRequest } from './errors.ts';
import { withScope } from './http.ts';
import type { ServeLimits } from './limits.ts';
import { GenerationQueue } from './queue.ts';
import { bodySchema } from './schemas.ts';
import type { SentenceResult, TranslateInfo, TranslateRequest, TranslateResult, TranslatorInfo } from './wire.ts';

/** The talk's example (EN→DE): the opening of Lincoln's Gettysburg Address (1863, public domain). */
export const TRANSLATE_EXAMPLE =
  'Four score and seven years ago our fathers brought forth on this continent, a new nation, conceived in Liberty, and dedicated to the proposition that all men are created equal. Now we are engaged in a great civil war, testing whether that nation, or any nation so conceived and so dedicated, can long endure. We are met on a great battle-field of that war.';

/** Longest text one request may translate (characters) and most sentences in it. */
export const MAX_TRANSLATE_CHARS = 5000;
export const MAX_TRANSLATE_SENTENCES = 64;

export interface TranslatorSource {
  tm: LoadedTranslationModel;
  /** Defaults to the folder name. */
  id?: string;
}

interface Served {
  id: string;
  tm: LoadedTranslationModel;
  queue: GenerationQueue;
}

const translateSchema = bodySchema<TranslateRequest>()(
  {
    text: { type: 'string', minLength: 1, maxLength: MAX_TRANSLATE_CHARS, description: `a non-empty string of at most ${MAX_TRANSLATE_CHARS} characters` },
    model: { type: 'string', minLength: 1, maxLength: 256, description: 'a translation model id from GET /api/translate' },
    beam: { type: ['integer', 'null'], minimum: 1, maximum: 16, description: 'an integer from 1 to 16' },
    length_penalty: { type: ['number', 'null'], minimum: 0, maximum: 5, description: 'a number from 0 to 5' },
    greedy: { type: ['boolean', 'null'], description: 'true or false' },
  },
  ['text'],
);

/** Loads the translation folders among `dirs` (the others are language models). */
export async function loadTranslators(dirs: readonly string[]): Promise<Array<TranslatorSource & { dir: string }>> {
  const out: Array<TranslatorSource & { dir: string }> = [];
  for (const dir of dirs) if (await isTranslationFolder(dir)) out.push({ tm: await loadTranslator(dir), dir });
  return out;
}

export function registerTranslateRoutes(app: FastifyInstance, sources: readonly TranslatorSource[], limits: ServeLimits): void {
  const served: Served[] = [];
  for (const s of sources) {
    const base = s.id ?? s.tm.dir.replace(/[/\\]+$/, '').split(/[/\\]/).pop() ?? 'translator';
    let id = base;
    for (let i = 2; served.some((x) => x.id === id); i++) id = `${base}-${i}`;
    served.push({ id, tm: s.tm, queue: new GenerationQueue(limits.maxQueue) });
  }

  const pick = (id: string | undefined): Served => {
    if (served.length === 0) {
      throw new ApiError(404, 'This server holds no translation model. Train one with `genlab train --task translate --pairs FILE.tsv --out DIR` and serve it next to a language model: `genlab serve --model LM_DIR DIR`.', 'model', 'no_translation_model');
    }
    if (id === undefined) return served[0]!;
    const s = served.find((x) => x.id === id);
    if (!s) throw new ApiError(404, `The translation model '${id}' does not exist; GET /api/translate lists them: ${served.map((x) => x.id).join(', ')}.`, 'model', 'model_not_found');
    return s;
  };

  app.get('/api/translate', async (): Promise<TranslateInfo> => ({
    models: served.map((s): TranslatorInfo => ({
      id: s.id,
      source_lang: s.tm.model.config.sourceLang,
      target_lang: s.tm.model.config.targetLang,
      num_beams: s.tm.generation.numBeams,
      length_penalty: s.tm.generation.lengthPenalty,
      max_positions: s.tm.model.config.nPositions,
      queue: s.queue.stats(),
    })),
    example: TRANSLATE_EXAMPLE,
    limits: { max_chars: MAX_TRANSLATE_CHARS, max_sentences: MAX_TRANSLATE_SENTENCES, max_beam: 16 },
  }));

  app.post('/api/translate', { schema: { body: translateSchema } }, async (req, reply) => {
    const body = req.body as TranslateRequest;
    const s = pick(body.model);
    const beam = body.greedy ? 1 : (body.beam ?? s.tm.generation.numBeams);
    const lengthPenalty = body.length_penalty ?? s.tm.generation.lengthPenalty;
    const lines = body.text.split(/\r?\n/).map((line) => splitSentences(line));
    const count = lines.reduce((a, l) => a + l.length, 0);
    if (count === 0) throw badRequest('The text has no words to translate.', 'text', 'empty_text');
    if (count > MAX_TRANSLATE_SENTENCES) throw badRequest(`The text has ${count} sentences; one request translates at most ${MAX_TRANSLATE_SENTENCES}. Send it in parts.`, 'text', 'too_many_sentences');
    const started = performance.now();
    return withScope(reply, limits.requestTimeoutMs, (scope) =>
      s.queue.run(scope.signal, async (): Promise<TranslateResult> => {
        const sentences: SentenceTranslation[] = [];
        const out: string[] = [];
        for (const line of lines) {
          const parts: string[] = [];
          for (const sentence of line) {
            scope.check();
            let t: SentenceTranslation;
            try {
              t = translateSentence(s.tm, sentence, { beamSize: beam, lengthPenalty });
            } catch (err) {
              if (/tokens long/.test((err as Error).message)) throw badRequest(`A sentence is too long for this model: ${(err as Error).message}.`, 'text', 'sentence_too_long');
              throw err;
            }
            sentences.push(t);
            parts.push(t.translation);
            // Let the event loop see a disconnect or the timeout between sentences.
            await new Promise((r) => setImmediate(r));
          }
          out.push(parts.join(' '));
        }
        return {
          model: s.id,
          source_lang: s.tm.model.config.sourceLang,
          target_lang: s.tm.model.config.targetLang,
          beam,
          length_penalty: beam === 1 ? null : lengthPenalty,
          translation: out.join('\n').trim(),
          sentences: sentences.map((t): SentenceResult => ({ source: t.source, translation: t.translation, logprob: t.logprob, score: t.score, finished: t.finished, source_tokens: t.sourceTokens, output_tokens: t.outputTokens })),
          seconds: (performance.now() - started) / 1000,
        };
      }),
    );
  });
}
