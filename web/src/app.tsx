// Write With Transformer, genlab edition: an editor that completes your text, a view of how
// likely the model finds each token, a compare mode that collects preferences, an align mode
// that trains on them, translation, and the scaling-law charts of the server's sweeps.

import { lazy, Suspense, useCallback, useEffect, useMemo, useRef, useState, type KeyboardEvent } from 'react';
import { Api, ApiError, type FeedbackStats, type ServerConfig } from './api.ts';
import { AlignPanel } from './components/align-panel.tsx';
import { CompareView } from './components/compare-view.tsx';
import { Editor, type Inserted } from './components/editor.tsx';
import { FeedbackPanel } from './components/feedback-panel.tsx';
import { LikelihoodView } from './components/likelihood-view.tsx';
import { SettingsPanel } from './components/settings-panel.tsx';
import { TranslatePanel } from './components/translate-panel.tsx';
import { DEFAULT_SETTINGS, settingsRecord, usePersistentState, type Settings } from './settings.ts';

// ECharts is loaded with the Scaling tab only, not with the editor.
const ScalingPanel = lazy(() => import('./components/scaling-panel.tsx').then((m) => ({ default: m.ScalingPanel })));

type Mode = 'write' | 'likelihood' | 'compare' | 'align' | 'translate' | 'scaling';

const MODES: { id: Mode; label: string }[] = [
  { id: 'write', label: 'Write' },
  { id: 'likelihood', label: 'Likelihood' },
  { id: 'compare', label: 'Compare' },
  { id: 'align', label: 'Align' },
  { id: 'translate', label: 'Translate' },
  { id: 'scaling', label: 'Scaling' },
];

export function App() {
  const [settings, setSettings] = usePersistentState<Settings>('settings', DEFAULT_SETTINGS);
  const [doc, setDoc] = usePersistentState('document', '');
  const [mode, setMode] = usePersistentState<Mode>('mode', 'write');
  const [config, setConfig] = useState<ServerConfig | null>(null);
  const [configError, setConfigError] = useState<string | null>(null);
  const [askKey, setAskKey] = useState(false);
  const [history, setHistory] = useState<Inserted[]>([]);
  const [stats, setStats] = useState<FeedbackStats | null>(null);
  const [message, setMessage] = useState('');
  const [configVersion, setConfigVersion] = useState(0);
  const refreshConfig = useCallback(() => setConfigVersion((v) => v + 1), []);
  const keyRef = useRef(settings.apiKey);
  keyRef.current = settings.apiKey;
  const api = useMemo(() => new Api(() => keyRef.current), []);
  const tabRefs = useRef<(HTMLButtonElement | null)[]>([]);

  const refreshStats = useCallback(() => {
    api.stats().then(setStats, () => setStats(null));
  }, [api]);

  useEffect(() => {
    api.config().then(
      (c) => {
        setConfig(c);
        setConfigError(null);
        setAskKey(false);
        const ids = c.models.map((m) => m.id);
        setSettings((s) => (ids.includes(s.model) ? s : { ...s, model: ids[0] ?? '' }));
        refreshStats();
      },
      (err: unknown) => {
        setConfigError((err as Error).message);
        if (err instanceof ApiError && err.status === 401) setAskKey(true);
      },
    );
  }, [api, settings.apiKey, configVersion]);

  const rate = (key: string, rating: 'up' | 'down'): void => {
    const item = history.find((h) => h.key === key);
    if (!item || item.rating === rating) return;
    setHistory((hs) => hs.map((h) => (h.key === key ? { ...h, rating } : h)));
    api
      .feedback({ kind: 'rating', prompt: item.prompt, completion: item.text, rating, source: 'write', settings: settingsRecord(settings), ...(settings.model ? { model: settings.model } : {}) })
      .then(
        () => {
          setMessage(`Rating saved: ${rating === 'up' ? 'good' : 'bad'} suggestion`);
          refreshStats();
        },
        (err: unknown) => setMessage(`Rating not saved: ${(err as Error).message}`),
      );
  };

  const exportJsonl = (): void => {
    api.exportUrl().then(
      (url) => {
        const a = document.createElement('a');
        a.href = url;
        a.download = 'preferences.jsonl';
        a.click();
        setTimeout(() => URL.revokeObjectURL(url), 10_000);
      },
      (err: unknown) => setMessage(`Export failed: ${(err as Error).message}`),
    );
  };

  function onTabKey(e: KeyboardEvent<HTMLDivElement>): void {
    const i = MODES.findIndex((m) => m.id === mode);
    let next = -1;
    if (e.key === 'ArrowRight') next = (i + 1) % MODES.length;
    else if (e.key === 'ArrowLeft') next = (i + MODES.length - 1) % MODES.length;
    if (next >= 0) {
      e.preventDefault();
      setMode(MODES[next]!.id);
      tabRefs.current[next]?.focus();
    }
  }

  const model = config?.models.find((m) => m.id === settings.model) ?? config?.models[0];
  return (
    <div className="app">
      <header className="top">
        <div className="brand">
          <span className="logo" aria-hidden="true">
            g
          </span>
          <div>
            <h1>Write With Transformer</h1>
            <p className="tagline">genlab · {model ? `${model.id}, ${model.context_length}-token context` : 'connecting…'}</p>
          </div>
        </div>
        <div className="tabs" role="tablist" aria-label="Mode" onKeyDown={onTabKey}>
          {MODES.map((m, i) => (
            <button
              key={m.id}
              ref={(el) => {
                tabRefs.current[i] = el;
              }}
              type="button"
              role="tab"
              id={`tab-${m.id}`}
              aria-selected={mode === m.id}
              aria-controls="main-panel"
              tabIndex={mode === m.id ? 0 : -1}
              className={mode === m.id ? 'tab active' : 'tab'}
              onClick={() => setMode(m.id)}
            >
              {m.label}
            </button>
          ))}
        </div>
      </header>
      {configError && (
        <p className="banner" role="alert">
          {askKey ? 'This server needs an API key: enter it under Settings.' : `Cannot reach the server: ${configError}`}
        </p>
      )}
      <div className="layout">
        <main id="main-panel" role="tabpanel" aria-labelledby={`tab-${mode}`}>
          {mode === 'write' && <Editor api={api} settings={settings} doc={doc} setDoc={setDoc} onInserted={(it) => setHistory((hs) => [it, ...hs].slice(0, 30))} announce={setMessage} />}
          {mode === 'likelihood' && <LikelihoodView api={api} settings={settings} doc={doc} goWrite={() => setMode('write')} />}
          {mode === 'compare' && <CompareView api={api} settings={settings} doc={doc} announce={setMessage} onSaved={refreshStats} />}
          {mode === 'translate' && <TranslatePanel api={api} apiKey={settings.apiKey} announce={setMessage} />}
          {mode === 'scaling' && (
            <Suspense fallback={<p className="hint">Loading the Scaling tab…</p>}>
              <ScalingPanel api={api} announce={setMessage} />
            </Suspense>
          )}
          {mode === 'align' && (
            <AlignPanel api={api} settings={settings} config={config} doc={doc} selectModel={(id) => setSettings((s) => ({ ...s, model: id }))} refreshConfig={refreshConfig} announce={setMessage} />
          )}
        </main>
        <aside className="side-panel" aria-label="Settings and feedback">
          <SettingsPanel settings={settings} setSettings={setSettings} config={config} askKey={askKey} />
          <FeedbackPanel history={history} rate={rate} stats={stats} onExport={exportJsonl} />
        </aside>
      </div>
      <p className="sr-only" role="status" aria-live="polite">
        {message}
      </p>
    </div>
  );
}
