// Compare mode: two completions of the same text side by side; the person picks the better one,
// which is stored as a preference (prompt, chosen, rejected), the alignment step's training data.

import { useRef, useState } from 'react';
import type { Api } from '../api.ts';
import { settingsRecord, type Settings } from '../settings.ts';
import { visible } from './editor.tsx';

interface Side {
  text: string;
  done: boolean;
}

export function CompareView(props: { api: Api; settings: Settings; doc: string; announce: (m: string) => void; onSaved: () => void }) {
  const { api, settings, doc, announce, onSaved } = props;
  const [prompt, setPrompt] = useState(doc);
  const [sides, setSides] = useState<[Side, Side] | null>(null);
  const [usedPrompt, setUsedPrompt] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [saved, setSaved] = useState<string | null>(null);
  const controller = useRef<AbortController | null>(null);

  const streaming = sides !== null && !(sides[0].done && sides[1].done);

  async function generate(): Promise<void> {
    controller.current?.abort();
    const c = new AbortController();
    controller.current = c;
    setSides([
      { text: '', done: false },
      { text: '', done: false },
    ]);
    setUsedPrompt(prompt);
    setError(null);
    setSaved(null);
    announce('Generating two completions…');
    try {
      for await (const ev of api.suggest(
        { context: prompt, ...(settings.model ? { model: settings.model } : {}), length: settings.length, temperature: settings.temperature, top_k: settings.topK, top_p: settings.topP, n: 2, ...(settings.watermark ? { watermark: true } : {}) },
        c.signal,
      )) {
        if (ev.type === 'start') continue;
        setSides((s) => {
          if (!s) return s;
          const next: [Side, Side] = [{ ...s[0] }, { ...s[1] }];
          const side = next[ev.index === 0 ? 0 : 1];
          if (ev.type === 'delta') side.text += ev.text;
          else side.done = true;
          return next;
        });
      }
      setSides((s) => (s ? [{ ...s[0], done: true }, { ...s[1], done: true }] : s));
      announce('Two completions ready: pick the better one.');
    } catch (err) {
      if (!c.signal.aborted) setError((err as Error).message);
    }
  }

  async function choose(which: 0 | 1): Promise<void> {
    if (!sides) return;
    const chosen = sides[which].text;
    const rejected = sides[1 - which]!.text;
    if (chosen === rejected) {
      setError('Both completions are the same text; generate a new pair.');
      return;
    }
    try {
      const { id } = await api.feedback({ kind: 'preference', prompt: usedPrompt, chosen, rejected, source: 'compare', settings: settingsRecord(settings), ...(settings.model ? { model: settings.model } : {}) });
      setSaved(`Saved: you preferred ${which === 0 ? 'A' : 'B'} (preference #${id}).`);
      announce(`Preference #${id} saved.`);
      onSaved();
    } catch (err) {
      setError((err as Error).message);
    }
  }

  return (
    <section className="panel compare" aria-labelledby="cmp-title">
      <div className="panel-head">
        <h2 id="cmp-title">Compare</h2>
      </div>
      <label htmlFor="cmp-prompt" className="field-label">
        Prompt
      </label>
      <textarea id="cmp-prompt" className="cmp-prompt" value={prompt} onChange={(e) => setPrompt(e.target.value)} rows={4} />
      <div className="row">
        <button type="button" className="primary" onClick={() => void generate()} disabled={streaming}>
          {streaming ? 'Generating…' : sides ? 'Generate a new pair' : 'Generate two completions'}
        </button>
        {prompt !== doc && (
          <button type="button" onClick={() => setPrompt(doc)}>
            Use the editor's text
          </button>
        )}
      </div>
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
      {sides && (
        <div className="pair">
          {sides.map((s, i) => (
            <article key={i} className="side" aria-label={`Completion ${i === 0 ? 'A' : 'B'}`}>
              <h3>{i === 0 ? 'A' : 'B'}</h3>
              <p className="side-text">
                <span className="muted">…{usedPrompt.slice(-80)}</span>
                <span className="continuation">{visible(s.text)}</span>
                {!s.done && <span className="cursor" aria-hidden="true" />}
              </p>
              <button type="button" className="choose" disabled={streaming || saved !== null} onClick={() => void choose(i as 0 | 1)}>
                {i === 0 ? 'A' : 'B'} is better
              </button>
            </article>
          ))}
        </div>
      )}
      {saved && (
        <p className="ok" role="status">
          {saved}
        </p>
      )}
    </section>
  );
}
