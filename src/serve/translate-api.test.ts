// POST /api/translate and GET /api/translate: translations match the library's, request
// validation names the field, limits hold, and a server without a translation model says how to
// get one. The translator has random weights (meaningless output, every property still holds).

import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { saveTranslator } from '../translate/folder.ts';
import { defaultTranslatorConfig, Translator } from '../models/translator.ts';
import { translateText } from '../translate/translate.ts';
import { trainBpe } from '../tokenizer/train.ts';
import { makeTinyModel, sotuTexts, startTestServer, type TestServer, type TinyModel } from './testing/fixtures.ts';
import { loadTranslators, TRANSLATE_EXAMPLE, type TranslatorSource } from './translate-routes.ts';
import type { ErrorBody, TranslateResult } from './wire.ts';

const post = (url: string, body: unknown): Promise<Response> => fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

describe('translation API', () => {
  let tiny: TinyModel;
  let srv: TestServer;
  let bare: TestServer;
  let tmp: string;
  let translator: TranslatorSource & { dir: string };

  before(async () => {
    tiny = await makeTinyModel();
    tmp = await mkdtemp(path.join(os.tmpdir(), 'genlab-translate-api-'));
    const tokenizer = await trainBpe(sotuTexts(2), { vocabSize: 300 });
    const model = new Translator(defaultTranslatorConfig({ vocabSize: tokenizer.vocabSize, eosTokenId: tokenizer.eotId!, nPositions: 128, nEmbd: 32, nHead: 2, nEncoderLayer: 1, nDecoderLayer: 1, dropout: 0, sourceLang: 'en', targetLang: 'de' }), { seed: 5 });
    const dir = path.join(tmp, 'en-de-tiny');
    await saveTranslator(dir, { model, tokenizer }, { generation: { numBeams: 3, lengthPenalty: 0.6 } });
    const found = await loadTranslators([tiny.dir, dir]);
    assert.equal(found.length, 1, 'only the translation folder is a translator');
    translator = found[0]!;
    srv = await startTestServer(tiny.lm, tiny.dir, { translators: [translator] });
    bare = await startTestServer(tiny.lm, tiny.dir);
  });

  after(async () => {
    await srv?.close();
    await bare?.close();
    await tiny?.cleanup();
    if (tmp) await rm(tmp, { recursive: true, force: true });
  });

  it('lists the translation models and the example', async () => {
    const body = (await (await fetch(`${srv.url}/api/translate`)).json()) as { models: Array<{ id: string; source_lang: string; target_lang: string; num_beams: number }>; example: string };
    assert.deepEqual(body.models.map((m) => [m.id, m.source_lang, m.target_lang, m.num_beams]), [['en-de-tiny', 'en', 'de', 3]]);
    assert.equal(body.example, TRANSLATE_EXAMPLE);
    assert.match(body.example, /^Four score and seven years ago/);
  });

  it('translates sentence by sentence, as the library does, with beam search or greedy', async () => {
    const res = await post(`${srv.url}/api/translate`, { text: TRANSLATE_EXAMPLE });
    assert.equal(res.status, 200);
    const body = (await res.json()) as TranslateResult;
    assert.equal(body.beam, 3, "the model's default beam");
    assert.equal(body.sentences.length, 3);
    const direct = translateText(translator.tm, TRANSLATE_EXAMPLE, { beamSize: 3, lengthPenalty: 0.6 });
    assert.equal(body.translation, direct.translation);
    const greedy = (await (await post(`${srv.url}/api/translate`, { text: 'Now we are engaged in a great civil war.', greedy: true, model: 'en-de-tiny' })).json()) as TranslateResult;
    assert.equal(greedy.beam, 1);
    assert.equal(greedy.length_penalty, null);
    assert.equal(greedy.translation, translateText(translator.tm, 'Now we are engaged in a great civil war.', { beamSize: 1 }).translation);
  });

  it('validates the request and names the field', async () => {
    const cases: Array<[unknown, number, string | null, RegExp]> = [
      [{}, 400, 'text', /text/],
      [{ text: '' }, 400, 'text', /non-empty/],
      [{ text: 'Hi there.', beam: 0 }, 400, 'beam', /from 1 to 16/],
      [{ text: 'Hi there.', beam: 2.5 }, 400, 'beam', /integer/],
      [{ text: 'Hi there.', temperature: 1 }, 400, null, /temperature/],
      [{ text: 'Hi there.', model: 'nope' }, 404, 'model', /'nope' does not exist; GET \/api\/translate lists them: en-de-tiny/],
      [{ text: Array.from({ length: 70 }, (_, i) => `Sentence ${i} ends here.`).join(' ') }, 400, 'text', /70 sentences; one request translates at most 64/],
      [{ text: 'word '.repeat(200) + 'end.' }, 400, 'text', /too long for this model: .*reads at most 128/],
      [{ text: '   \n  ' }, 400, 'text', /no words to translate/],
    ];
    for (const [body, status, param, message] of cases) {
      const res = await post(`${srv.url}/api/translate`, body);
      const err = (await res.json()) as ErrorBody;
      assert.equal(res.status, status, `${JSON.stringify(body).slice(0, 60)}: ${err.error.message}`);
      if (param !== null) assert.equal(err.error.param, param, JSON.stringify(body).slice(0, 60));
      assert.match(err.error.message, message);
    }
  });

  it('a server without a translation model says how to serve one', async () => {
    const list = (await (await fetch(`${bare.url}/api/translate`)).json()) as { models: unknown[] };
    assert.deepEqual(list.models, []);
    const res = await post(`${bare.url}/api/translate`, { text: 'Hello there.' });
    assert.equal(res.status, 404);
    const err = (await res.json()) as ErrorBody;
    assert.equal(err.error.code, 'no_translation_model');
    assert.match(err.error.message, /genlab serve --model LM_DIR DIR/);
  });
});
