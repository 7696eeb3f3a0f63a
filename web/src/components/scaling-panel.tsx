// Scaling mode: the scaling-law sweeps the server was started with (`genlab serve --scaling DIR`).
// The chart (loss against training compute per model size, the fitted L(C) frontier, the
// compute-optimal frontier of L(N, D), each predicted target with its 95% interval and each measured
// one) and tables of the fitted law, the compute-optimal allocations and predicted against measured
// losses. Without sweeps it shows the commands that make one (docs/scaling.md).

import { useCallback, useEffect, useRef, useState, type ReactNode } from 'react';
import type { Api, ScalingDetail, ScalingSummary, ScalingSweepEntry } from '../api.ts';
import { exp, ScalingChart } from './scaling-chart.tsx';
import './scaling-panel.css';

const COMMANDS = [
  ['genlab scaling sweep --out runs/scaling-l1 --shapes L1-C24,L1-C32,L1-C48,L1-C64,L1-C80,L1-C96 --tokens 1.3e6,1.84e6,2.6e6,3.68e6,5.2e6 --max-run-flops 1.34e12', 'train 18 small models (resumable; minutes on 2 cores)'],
  ['genlab scaling fit runs/scaling-l1', 'fit L(N, D) and L(C)'],
  ['genlab scaling predict runs/scaling-l1 --model L1-C448 --tokens 8.41e6', 'predict a run with 104× the compute of the largest'],
  ['genlab scaling verify runs/scaling-l1 --model L1-C448 --tokens 8.41e6', 'train it and measure the error'],
  ['genlab serve --model models/app --scaling runs/scaling-l1', 'show the sweep here (or: genlab start --scaling runs/scaling-l1)'],
] as const;

/** `digits` decimals; whole numbers from 1000 on; scientific notation when too large or small for either. */
export function fmt(v: number | null, digits = 3): string {
  if (v === null || !Number.isFinite(v)) return '—';
  const a = Math.abs(v);
  if (a !== 0 && (a >= 1e5 || a < 10 ** -digits)) return exp(v, 2);
  if (a >= 1000) return Math.round(v).toLocaleString('en-US');
  return v.toFixed(digits);
}

const count = (v: number | null): string => (v === null ? '—' : Math.round(v).toLocaleString('en-US'));
const loss = (v: number | null): string => fmt(v, 4);
const interval = (i: [number | null, number | null], digits = 4): string => `[${fmt(i[0], digits)}, ${fmt(i[1], digits)}]`;
/** A table cell; its one child element keeps the value together when phones stack the cells. */
function Cell(props: { label: string; className?: string; children: ReactNode }) {
  return (
    <td data-label={props.label} className={props.className}>
      <span>{props.children}</span>
    </td>
  );
}

/** 101×, 10× (not 10.0× for 9.99), 2.1×. */
const times = (v: number): string => `${v >= 9.95 ? v.toFixed(0) : v.toFixed(1)}×`;

function FitTable(props: { s: ScalingSummary }) {
  const f = props.s.fit!;
  const degenerate = f.params.some((p) => (p.name === 'alpha' || p.name === 'beta') && !(p.value !== null && p.value > 0));
  return (
    <div className="sc-block">
      <h3>
        Fitted law <span className="formula">L(N, D) = E + A/N^α + B/D^β</span>
      </h3>
      <table className="sc-table" id="sc-fit">
        <thead>
          <tr>
            <th scope="col">Parameter</th>
            <th scope="col">Value</th>
            <th scope="col">95% interval</th>
          </tr>
        </thead>
        <tbody>
          {f.params.map((p) => (
            <tr key={p.name} data-param={p.name}>
              <th scope="row">{p.symbol}</th>
              <Cell label="Value">{fmt(p.value)}</Cell>
              <Cell label="95% interval">{interval(p.interval, 3)}</Cell>
            </tr>
          ))}
        </tbody>
      </table>
      <p className="hint">
        N = {f.param_kind === 'total' ? 'all parameters' : 'non-embedding parameters'}; {f.runs} runs, {f.bootstrap_samples} bootstrap refits, rms log error {fmt(f.rmse_log, 4)}; C ≈ {f.flops_per_param_token.toFixed(2)}·N·D.
        {degenerate && ' α or β is not positive: these runs are too small for the power-law regime, so the fit predicts poorly and gives no compute-optimal allocation (docs/scaling.md explains why).'}
      </p>
    </div>
  );
}

function ComputeTable(props: { s: ScalingSummary }) {
  const { compute_law: law, compute_optimal: opt } = props.s;
  return (
    <div className="sc-block">
      <h3>Compute</h3>
      <p className="sc-law" id="sc-law">
        {law ? (
          <>
            <span className="formula">
              L(C) = {fmt(law.a, 2)}·C<sup>{fmt(law.b, 4)}</sup> + {fmt(law.c, 3)}
            </span>{' '}
            <span className="muted">
              on the {law.frontier_runs}-run compute frontier, rms log error {fmt(law.rmse_log, 4)}
            </span>
          </>
        ) : (
          <span className="muted">No L(C) law: the compute frontier has fewer than 3 runs or the fit diverged.</span>
        )}
      </p>
      {opt.length > 0 ? (
        <table className="sc-table" id="sc-optimal">
          <caption>Compute-optimal model size N and training tokens D for budgets of 10×, 100× and 1000× the largest sweep run</caption>
          <thead>
            <tr>
              <th scope="col">Budget</th>
              <th scope="col">FLOPs</th>
              <th scope="col">N</th>
              <th scope="col">D (tokens)</th>
              <th scope="col">Loss</th>
            </tr>
          </thead>
          <tbody>
            {opt.map((o) => (
              <tr key={o.multiple}>
                <th scope="row">{o.multiple}×</th>
                <Cell label="FLOPs">{exp(o.flops)}</Cell>
                <Cell label="N">{count(o.n)}</Cell>
                <Cell label="D (tokens)">{count(o.d)}</Cell>
                <Cell label="Loss">{loss(o.loss)}</Cell>
              </tr>
            ))}
          </tbody>
        </table>
      ) : (
        <p className="hint">No compute-optimal N and D: they need a fit with positive α and β.</p>
      )}
      {opt.some((o) => o.n === null || o.d === null || o.loss === null) && <p className="hint">—: the closed form overflows for this fit (its α or β is extreme), so it gives no finite allocation.</p>}
    </div>
  );
}

function PredictionTable(props: { s: ScalingSummary }) {
  const rows = props.s.predictions;
  return (
    <div className="sc-block">
      <h3>Predicted vs measured</h3>
      {rows.length === 0 ? (
        <p className="hint">
          No predictions yet: <code>genlab scaling predict DIR --model SHAPE --tokens N</code> records one, <code>genlab scaling verify</code> also trains the target.
        </p>
      ) : (
        <table className="sc-table" id="sc-predictions">
          <thead>
            <tr>
              <th scope="col">Target</th>
              <th scope="col">N · D</th>
              <th scope="col">Compute</th>
              <th scope="col">Predicted (95%)</th>
              <th scope="col">Measured</th>
              <th scope="col">Error</th>
            </tr>
          </thead>
          <tbody>
            {rows.map((r) => (
              <tr key={r.id} data-id={r.id}>
                <th scope="row">{r.id}</th>
                <Cell label="N · D">
                  {count(r.n)} · {count(r.tokens)}
                </Cell>
                <Cell label="Compute">
                  {exp(r.flops)} <span className="muted">= {times(r.ratio_to_largest_run)} largest run, {times(r.ratio_to_sweep)} sweep</span>
                </Cell>
                <Cell label="Predicted (95%)">
                  <strong>{loss(r.predicted)}</strong> <span className="muted">{interval(r.interval)}</span>
                </Cell>
                <Cell label="Measured">{r.measured === null ? <span className="muted">not trained</span> : loss(r.measured)}</Cell>
                <Cell label="Error" className={r.error_percent === null ? '' : r.inside_interval ? 'ok' : 'error'}>
                  {r.error_percent === null ? '—' : `${r.error_percent >= 0 ? '+' : ''}${r.error_percent.toFixed(2)}%`}
                  {r.inside_interval !== null && <span className="muted small"> {r.inside_interval ? 'inside' : 'outside'} the interval</span>}
                </Cell>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </div>
  );
}

function chartLabel(d: ScalingDetail): string {
  const measured = d.verifications.length;
  return `Validation loss against training compute: ${d.runs.length} sweep runs, ${d.summary.compute_law ? 'the fitted L(C) frontier, ' : ''}${d.predictions.length} predicted target${d.predictions.length === 1 ? '' : 's'} and ${measured} measured.`;
}

export function ScalingPanel(props: { api: Api; announce: (m: string) => void }) {
  const { api, announce } = props;
  const [sweeps, setSweeps] = useState<ScalingSweepEntry[] | null>(null);
  const [selected, setSelected] = useState('');
  const [detail, setDetail] = useState<ScalingDetail | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const controller = useRef<AbortController | null>(null);

  const load = useCallback(
    async (id: string | null) => {
      controller.current?.abort();
      const c = new AbortController();
      controller.current = c;
      setBusy(true);
      setError(null);
      try {
        const list = (await api.scalingSweeps()).sweeps;
        if (c.signal.aborted) return;
        setSweeps(list);
        const pick = list.find((s) => s.id === id) ?? list[0];
        if (!pick) return;
        setSelected(pick.id);
        const d = await api.scalingSweep(pick.id, c.signal);
        setDetail(d);
        announce(`Scaling sweep ${d.folder}: ${d.runs.length} runs.`);
      } catch (err) {
        if (c.signal.aborted) return;
        setDetail(null);
        setError((err as Error).message);
      } finally {
        if (controller.current === c) setBusy(false);
      }
    },
    [api, announce],
  );

  useEffect(() => {
    void load(null);
    return () => controller.current?.abort();
  }, [load]);

  if (sweeps !== null && sweeps.length === 0) {
    return (
      <section className="panel scaling" aria-labelledby="sc-title">
        <div className="panel-head">
          <h2 id="sc-title">Scaling laws</h2>
        </div>
        <p className="hint">
          This server shows no scaling sweep. A sweep trains a grid of small models, fits L(N, D) = E + A/N^α + B/D^β and L(C) = a·C^b + c, and predicts the loss of a larger run before training it. Make one and start the server with it:
        </p>
        <ol className="sc-commands">
          {COMMANDS.map(([cmd, what]) => (
            <li key={cmd}>
              <code>{cmd}</code> <span className="muted small">{what}</span>
            </li>
          ))}
        </ol>
      </section>
    );
  }

  const s = detail?.summary;
  const title = detail?.chart ? (detail.chart['title'] as { text?: string; subtext?: string } | undefined) : undefined;
  return (
    <section className="panel scaling" aria-labelledby="sc-title">
      <div className="panel-head">
        <h2 id="sc-title">Scaling laws{detail ? `: ${detail.folder}` : ''}</h2>
        <div className="head-actions">
          {sweeps && sweeps.length > 1 && (
            <select aria-label="Sweep" value={selected} onChange={(e) => void load(e.target.value)}>
              {sweeps.map((x) => (
                <option key={x.id} value={x.id}>
                  {x.folder}
                  {x.error ? ' (cannot be read)' : ` (${x.runs} runs)`}
                </option>
              ))}
            </select>
          )}
          <button type="button" onClick={() => void load(selected || null)} disabled={busy}>
            {busy ? 'Loading…' : 'Reload'}
          </button>
        </div>
      </div>
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
      {detail && s && (
        <>
          <p className="summary">
            <span>
              <strong>{s.sweep.finished_runs}</strong> of {s.sweep.planned_runs} runs
            </span>
            <span>data {s.sweep.data.join(', ')}</span>
            <span>
              vocabulary {s.sweep.vocab_size}, context {s.sweep.seq_len}, batch {s.sweep.batch}
            </span>
            <span>
              <strong>{exp(s.sweep.total_flops)}</strong> FLOPs trained{s.sweep.largest_run_flops !== null ? `, largest run ${exp(s.sweep.largest_run_flops)}` : ''}
            </span>
          </p>
          {s.next_step && (
            <p className="detection">
              Next step: <code>{s.next_step}</code>
            </p>
          )}
          {s.fit?.stale && (
            <p className="detection">
              The fit uses {s.fit.runs} of the {s.sweep.finished_runs} finished runs: refit with <code>genlab scaling fit {detail.folder}</code>.
            </p>
          )}
          {detail.chart && (
            <figure className="chart sc-figure">
              <figcaption>
                {title?.text ?? 'Validation loss vs training compute'}
                {title?.subtext && <span className="muted"> · {title.subtext}</span>}
              </figcaption>
              <ScalingChart detail={detail} label={chartLabel(detail)} />
            </figure>
          )}
          <div className="sc-tables">
            {s.fit && <FitTable s={s} />}
            {s.fit && <ComputeTable s={s} />}
          </div>
          <PredictionTable s={s} />
        </>
      )}
    </section>
  );
}
