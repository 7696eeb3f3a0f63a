// Translate mode: text in one language, its translation by an encoder–decoder model the server
// holds (POST /api/translate), with beam search or greedy decoding. The example is the talk's:
// Lincoln's Gettysburg Address, English to German.

import { useEffect, useRef, useState } from 'react';
import type { Api, TranslateInfo, TranslateResult } from '../api.ts';

const LANGUAGES: Record<string, string> = { en: 'English', de: 'German', es: 'Spanish', fr: 'French' };
const language = (code: string): string => LANGUAGES[code] ?? code;

/** `apiKey` is the key the api sends: a new one loads the models again. */
export function TranslatePanel(props: { api: Api; apiKey: string; announce: (m: string) => void }) {
  const { api, apiKey, announce } = props;
  const [info, setInfo] = useState<TranslateInfo | null>(null);
  const [text, setText] = useState('');
  const [model, setModel] = useState('');
  const [beam, setBeam] = useState(0);
  const [result, setResult] = useState<TranslateResult | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const controller = useRef<AbortController | null>(null);

  useEffect(() => {
    api.translateInfo().then(
      (i) => {
        setInfo(i);
        setError(null);
        setModel((m) => (i.models.some((x) => x.id === m) ? m : (i.models[0]?.id ?? '')));
        setText((t) => t || i.example);
      },
      (err: unknown) => setError((err as Error).message),
    );
    return () => controller.current?.abort();
  }, [api, apiKey]);

  const current = info?.models.find((m) => m.id === model) ?? info?.models[0];
  const beamSize = beam || current?.num_beams || 5;

  async function translate(): Promise<void> {
    controller.current?.abort();
    const c = new AbortController();
    controller.current = c;
    setBusy(true);
    setError(null);
    announce('Translating…');
    try {
      const r = await api.translate({ text, ...(model ? { model } : {}), beam: beamSize }, c.signal);
      setResult(r);
      announce(`Translated ${r.sentences.length} sentence${r.sentences.length === 1 ? '' : 's'}.`);
    } catch (err) {
      if (!c.signal.aborted) setError((err as Error).message);
    } finally {
      if (controller.current === c) setBusy(false);
    }
  }

  if (info && info.models.length === 0) {
    return (
      <section className="panel" aria-labelledby="tr-title">
        <div className="panel-head">
          <h2 id="tr-title">Translate</h2>
        </div>
        <p className="hint">
          This server holds no translation model. Train one with <code>genlab train --task translate --pairs FILE.tsv --out DIR</code> and start the server with{' '}
          <code>genlab serve --model LM_DIR DIR</code>.
        </p>
      </section>
    );
  }

  return (
    <section className="panel translate" aria-labelledby="tr-title">
      <div className="panel-head">
        <h2 id="tr-title">Translate{current ? `: ${language(current.source_lang)} → ${language(current.target_lang)}` : ''}</h2>
      </div>
      {info && info.models.length > 1 && (
        <div className="field">
          <label htmlFor="tr-model">Translation model</label>
          <select id="tr-model" value={model} onChange={(e) => setModel(e.target.value)}>
            {info.models.map((m) => (
              <option key={m.id} value={m.id}>
                {m.id} ({m.source_lang} → {m.target_lang})
              </option>
            ))}
          </select>
        </div>
      )}
      <label htmlFor="tr-source" className="field-label">
        {current ? `${language(current.source_lang)} text` : 'Text'}
      </label>
      <textarea id="tr-source" className="cmp-prompt" value={text} onChange={(e) => setText(e.target.value)} rows={5} maxLength={info?.limits.max_chars} />
      <div className="field">
        <label htmlFor="tr-beam">Decoding</label>
        <select id="tr-beam" value={beam} onChange={(e) => setBeam(Number(e.target.value))}>
          <option value={0}>beam search, {current?.num_beams ?? 5} beams (the model's default)</option>
          <option value={1}>greedy</option>
          <option value={2}>beam search, 2 beams</option>
          <option value={8}>beam search, 8 beams</option>
        </select>
      </div>
      <div className="row">
        <button type="button" className="primary" onClick={() => void translate()} disabled={busy || !text.trim() || !current}>
          {busy ? 'Translating…' : 'Translate'}
        </button>
        {info && text !== info.example && (
          <button type="button" onClick={() => setText(info.example)}>
            Use the example (Lincoln)
          </button>
        )}
      </div>
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
      {result && (
        <article className="side" aria-label="Translation">
          <h3>
            {current ? language(current.target_lang) : 'Translation'} · {result.beam === 1 ? 'greedy' : `beam ${result.beam}`} · {result.seconds.toFixed(2)} s
          </h3>
          <p id="tr-output" className="side-text">
            {result.translation}
          </p>
          <details>
            <summary>Sentence by sentence</summary>
            <ol className="small">
              {result.sentences.map((s, i) => (
                <li key={i}>
                  <span className="muted">{s.source}</span> → {s.translation} <span className="muted">(score {s.score.toFixed(2)}{s.finished ? '' : ', cut at the length limit'})</span>
                </li>
              ))}
            </ol>
          </details>
        </article>
      )}
      <p className="hint">
        An encoder–decoder Transformer (Vaswani et al. 2017) trained with genlab on sentence pairs; beam search ranks hypotheses by log-probability / ((5 + length) / 6)^{current?.length_penalty ?? 1}.
      </p>
    </section>
  );
}
