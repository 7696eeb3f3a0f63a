// Align mode: how much feedback the app has collected, a DPO run on it in the background with live
// loss and reward-margin charts, and — when the run is done — the aligned model (served as a LoRA
// adapter next to its base) to switch to, with the old and new model side by side on one prompt.

import { useCallback, useEffect, useRef, useState } from 'react';
import type { AlignPoint, AlignRun, AlignSummary, Api, ServerConfig } from '../api.ts';
import type { Settings } from '../settings.ts';
import { visible } from './editor.tsx';
import { ThumbDownIcon, ThumbUpIcon } from './icons.tsx';
import { LineChart } from './line-chart.tsx';

const ACTIVE = new Set(['preparing', 'running', 'saving']);
const POLL_MS = 700;

interface Comparison {
  prompt: string;
  seed: number;
  before: string | null;
  after: string | null;
}

export function AlignPanel(props: { api: Api; settings: Settings; config: ServerConfig | null; doc: string; selectModel: (id: string) => void; refreshConfig: () => void; announce: (m: string) => void }) {
  const { api, settings, config, doc, selectModel, refreshConfig, announce } = props;
  const plain = (config?.models ?? []).filter((m) => !m.parent);
  const [summary, setSummary] = useState<AlignSummary | null>(null);
  const [run, setRun] = useState<AlignRun | null>(null);
  const [base, setBase] = useState('');
  const [steps, setSteps] = useState('');
  const [beta, setBeta] = useState('0.1');
  const [lr, setLr] = useState('0.0005');
  const [error, setError] = useState<string | null>(null);
  const [prompt, setPrompt] = useState(doc);
  const [cmp, setCmp] = useState<Comparison | null>(null);
  const points = useRef<AlignPoint[]>([]);
  const [, redraw] = useState(0);

  const loadSummary = useCallback(() => {
    api.alignSummary().then(
      (s) => {
        setSummary(s);
        // Pick up a run that is going on (e.g. after a reload) or show the latest one.
        setRun((current) => {
          if (current) return current;
          const latest = s.runs.find((r) => r.id === s.active) ?? s.runs[0] ?? null;
          if (latest) points.current = [];
          return latest;
        });
      },
      (err: unknown) => setError((err as Error).message),
    );
  }, [api]);

  useEffect(loadSummary, [loadSummary]);

  const runId = run?.id ?? null;
  const active = run !== null && ACTIVE.has(run.status);
  useEffect(() => {
    if (!runId || !active) return;
    let stopped = false;
    const tick = async (): Promise<void> => {
      try {
        const since = points.current.at(-1)?.step ?? 0;
        const r = await api.alignRun(runId, since);
        if (stopped) return;
        points.current = [...points.current, ...r.points];
        setRun({ ...r, points: points.current });
        redraw((n) => n + 1);
        if (!ACTIVE.has(r.status)) {
          loadSummary();
          if (r.status === 'done' && r.model) {
            refreshConfig();
            announce(`Alignment done: the model ${r.model} is ready.`);
          } else if (r.status === 'failed') announce(`Alignment failed: ${r.error ?? 'unknown error'}`);
          return;
        }
      } catch (err) {
        if (!stopped) setError((err as Error).message);
      }
      if (!stopped) timer = setTimeout(() => void tick(), POLL_MS);
    };
    let timer = setTimeout(() => void tick(), 0);
    return () => {
      stopped = true;
      clearTimeout(timer);
    };
  }, [api, runId, active, loadSummary, refreshConfig, announce]);

  // A finished run shown from the summary has only its last point: fetch the whole curve once.
  useEffect(() => {
    if (!runId || active || points.current.length > 1) return;
    api.alignRun(runId, 0).then((r) => {
      points.current = r.points;
      setRun(r);
    }, () => undefined);
  }, [api, runId, active]);

  async function start(): Promise<void> {
    setError(null);
    setCmp(null);
    const n = (v: string): number | undefined => (v.trim() === '' ? undefined : Number(v));
    try {
      const r = await api.startAlign({ ...(base || plain[0] ? { model: base || plain[0]!.id } : {}), ...(n(steps) ? { steps: n(steps)! } : {}), ...(n(beta) ? { beta: n(beta)! } : {}), ...(n(lr) ? { lr: n(lr)! } : {}) });
      points.current = [];
      setRun(r);
      announce(`Alignment started on ${r.pairs.total} feedback pairs.`);
    } catch (err) {
      setError((err as Error).message);
    }
  }

  async function cancel(): Promise<void> {
    if (run) await api.cancelAlign(run.id).catch((err: unknown) => setError((err as Error).message));
  }

  async function compare(): Promise<void> {
    if (!run?.model) return;
    const seed = Math.floor(Math.random() * 2 ** 31);
    const c: Comparison = { prompt, seed, before: null, after: null };
    setCmp(c);
    setError(null);
    const req = { context: prompt, length: settings.length, temperature: settings.temperature, top_k: settings.topK, top_p: settings.topP, seed };
    try {
      // Same seed and settings for both: the difference is the adapter.
      const before = await api.complete({ ...req, model: run.base });
      setCmp((x) => (x && x.seed === seed ? { ...x, before } : x));
      const after = await api.complete({ ...req, model: run.model });
      setCmp((x) => (x && x.seed === seed ? { ...x, after } : x));
      announce('Both completions are ready.');
    } catch (err) {
      setError((err as Error).message);
    }
  }

  const pairs = summary?.pairs;
  const pts = points.current.length > 0 ? points.current : (run?.points ?? []);
  const lossPoints = pts.map((p) => ({ x: p.step, y: p.loss }));
  const marginPoints = pts.map((p) => ({ x: p.step, y: p.margin }));
  const lastAcc = pts.at(-1)?.accuracy;
  const comparing = cmp !== null && (cmp.before === null || cmp.after === null);
  return (
    <section className="panel align" aria-labelledby="align-title">
      <div className="panel-head">
        <h2 id="align-title">Align</h2>
        <span className="muted small">DPO with a LoRA adapter on your feedback</span>
      </div>
      <p className="align-count" aria-live="polite">
        {pairs ? (
          <>
            <strong>{pairs.total}</strong> feedback pair{pairs.total === 1 ? '' : 's'}: {pairs.preferences} from Compare, {pairs.from_ratings} from <ThumbUpIcon label="good" />/<ThumbDownIcon label="bad" /> ratings of the same text
          </>
        ) : (
          'Counting feedback…'
        )}
      </p>
      <div className="align-form">
        <div className="field">
          <label htmlFor="align-base">Base model</label>
          <select id="align-base" value={base || plain[0]?.id || ''} onChange={(e) => setBase(e.target.value)}>
            {plain.map((m) => (
              <option key={m.id} value={m.id}>
                {m.id}
              </option>
            ))}
          </select>
        </div>
        <div className="field">
          <label htmlFor="align-steps">Steps</label>
          <input id="align-steps" type="number" min={1} max={5000} placeholder="auto" value={steps} onChange={(e) => setSteps(e.target.value)} />
        </div>
        <div className="field">
          <label htmlFor="align-beta">β</label>
          <input id="align-beta" type="number" min={0.001} max={10} step={0.05} value={beta} onChange={(e) => setBeta(e.target.value)} />
        </div>
        <div className="field">
          <label htmlFor="align-lr">Learning rate</label>
          <input id="align-lr" type="number" min={0.000001} max={0.1} step={0.0005} value={lr} onChange={(e) => setLr(e.target.value)} />
        </div>
      </div>
      <div className="row">
        <button type="button" className="primary" onClick={() => void start()} disabled={active || !pairs || pairs.total < 2}>
          {active ? 'Aligning…' : 'Start alignment'}
        </button>
        {active && (
          <button type="button" onClick={() => void cancel()}>
            Cancel
          </button>
        )}
      </div>
      {pairs && pairs.total < 2 && <p className="hint">Collect at least two pairs first: pick the better of two completions in Compare mode.</p>}
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
      {run && (
        <div className="run" aria-label="Alignment run">
          <p className="run-status">
            <span className={`badge ${run.status}`}>{run.status}</span> {run.id} on {run.base}: step {run.step} of {run.steps}, {run.pairs.train} training pairs
            {run.pairs.val > 0 ? `, ${run.pairs.val} held out` : ''}
            {lastAcc !== undefined ? `, accuracy ${(100 * lastAcc).toFixed(0)}%` : ''}
          </p>
          <progress max={run.steps} value={run.step} aria-label="Alignment progress" />
          <div className="charts">
            <LineChart title="DPO loss" points={lossPoints} xMax={run.steps} reference={{ y: Math.LN2, label: 'log 2' }} />
            <LineChart title="Reward margin" points={marginPoints} xMax={run.steps} reference={{ y: 0, label: '0' }} color="var(--ok)" />
          </div>
          {run.events.length > 0 && (
            <ul className="events">
              {run.events.slice(-4).map((e, i) => (
                <li key={i}>
                  step {e.step}: {e.message}
                </li>
              ))}
            </ul>
          )}
          {run.error && <p className="error">{run.error}</p>}
          {run.status === 'done' && run.model && (
            <div className="result">
              <p className="ok">Serving the aligned model as {run.model}.</p>
              <div className="row">
                <button type="button" className="primary" onClick={() => selectModel(run.model!)} disabled={settings.model === run.model}>
                  {settings.model === run.model ? `Using ${run.model}` : `Use ${run.model}`}
                </button>
                <button type="button" onClick={() => selectModel(run.base)} disabled={settings.model === run.base}>
                  Back to {run.base}
                </button>
              </div>
              <label htmlFor="align-prompt" className="field-label">
                Compare old and new on a prompt
              </label>
              <textarea id="align-prompt" className="cmp-prompt" rows={3} value={prompt} onChange={(e) => setPrompt(e.target.value)} />
              <div className="row">
                <button type="button" onClick={() => void compare()} disabled={comparing}>
                  {comparing ? 'Generating…' : 'Generate with both'}
                </button>
              </div>
              {cmp && (
                <div className="pair">
                  {(['before', 'after'] as const).map((k) => (
                    <article key={k} className="side" aria-label={k === 'before' ? `Before: ${run.base}` : `After: ${run.model}`}>
                      <h3>{k === 'before' ? `Before · ${run.base}` : `After · ${run.model}`}</h3>
                      <p className="side-text">
                        <span className="muted">…{cmp.prompt.slice(-80)}</span>
                        <span className="continuation">{cmp[k] === null ? '' : visible(cmp[k]!)}</span>
                        {cmp[k] === null && <span className="cursor" aria-hidden="true" />}
                      </p>
                    </article>
                  ))}
                </div>
              )}
            </div>
          )}
        </div>
      )}
      {summary && summary.runs.length > 1 && (
        <details className="past">
          <summary>Earlier runs ({summary.runs.length - 1})</summary>
          <ul>
            {summary.runs
              .filter((r) => r.id !== run?.id)
              .map((r) => (
                <li key={r.id}>
                  <button type="button" className="link" onClick={() => (points.current = [], setRun(r), setCmp(null))}>
                    {r.id}
                  </button>{' '}
                  {r.status}, {r.pairs.total} pairs{r.model ? ` → ${r.model}` : ''}
                </li>
              ))}
          </ul>
        </details>
      )}
    </section>
  );
}
