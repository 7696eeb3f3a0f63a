// The likelihood view: the text coloured token by token by how likely the model found each token
// given everything before it. Hovering (or focusing, with ←/→) a token shows the model's top
// alternatives at that position with their probabilities and the entropy there. Runs of unlikely
// tokens (the server's low-confidence spans) get a dotted underline: if the model is calibrated,
// that is where text it wrote is most likely wrong. "Detect watermark" asks the server whether the
// text carries the watermark of its generation endpoints.

import { useEffect, useMemo, useRef, useState, type KeyboardEvent } from 'react';
import type { Analysis, Api, Detection } from '../api.ts';
import type { Settings } from '../settings.ts';

/** Probabilities below this all get the strongest colour. */
const FLOOR = 1e-4;

/** Heat-map colour: red for unlikely tokens through yellow to a pale green for likely ones (log scale). */
export function probColour(p: number | null): string {
  if (p === null) return 'hsl(220 10% 92%)';
  const t = Math.min(1, Math.max(0, (Math.log10(Math.max(p, FLOOR)) - Math.log10(FLOOR)) / -Math.log10(FLOOR)));
  const hue = 4 + t * 126;
  const light = 74 + t * 16;
  return `hsl(${hue.toFixed(0)} 90% ${light.toFixed(0)}%)`;
}

export function percent(p: number): string {
  if (p >= 0.995) return `${(p * 100).toFixed(1)}%`;
  if (p >= 0.1) return `${(p * 100).toFixed(1)}%`;
  if (p >= 0.001) return `${(p * 100).toFixed(2)}%`;
  return `${(p * 100).toPrecision(2)}%`;
}

/** A token as text you can see: quotes show its spaces, ↵ its newlines. */
export function shown(token: string): string {
  return `“${token.replace(/\n/g, '↵').replace(/\t/g, '⇥')}”`;
}

const LEGEND = [1e-4, 1e-3, 1e-2, 1e-1, 1];

/** Fewer scored tokens than this cannot show a watermark reliably (see docs/accountability.md). */
const DETECT_MIN_TOKENS = 25;

function pValue(p: number): string {
  return p >= 0.001 ? p.toPrecision(2) : p.toExponential(1);
}

function detectionText(d: Detection): string {
  const counts = `${d.green} of ${d.scored} tokens green, ${(d.gamma * d.scored).toFixed(0)} expected by chance`;
  if (d.flagged) return `Watermark detected: z = ${d.z.toFixed(2)} > ${d.threshold}, p = ${pValue(d.p_value)} (${counts}).`;
  const short = d.scored < DETECT_MIN_TOKENS ? ` The text is too short to tell: ${DETECT_MIN_TOKENS}+ tokens are needed.` : '';
  return `No watermark found: z = ${d.z.toFixed(2)}, p = ${pValue(d.p_value)} (${counts}).${short}`;
}

export function LikelihoodView(props: { api: Api; settings: Settings; doc: string; goWrite: () => void }) {
  const { api, settings, doc, goWrite } = props;
  const [analysis, setAnalysis] = useState<Analysis | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [loading, setLoading] = useState(false);
  const [active, setActive] = useState<number | null>(null);
  const [analyzed, setAnalyzed] = useState('');
  const [detection, setDetection] = useState<{ text: string; result: Detection } | null>(null);
  const [detecting, setDetecting] = useState(false);
  const tokenRefs = useRef<(HTMLSpanElement | null)[]>([]);
  const boxRef = useRef<HTMLDivElement>(null);

  async function run(): Promise<void> {
    if (doc.trim() === '') return;
    setLoading(true);
    setError(null);
    try {
      setAnalysis(await api.analyze(doc, settings.model || undefined, 10));
      setAnalyzed(doc);
      setActive(null);
    } catch (err) {
      setError((err as Error).message);
    } finally {
      setLoading(false);
    }
  }

  async function detect(): Promise<void> {
    if (doc.trim() === '') return;
    setDetecting(true);
    setError(null);
    try {
      setDetection({ text: doc, result: await api.detect(doc, settings.model || undefined) });
    } catch (err) {
      setError((err as Error).message);
    } finally {
      setDetecting(false);
    }
  }

  // Analyze when the view opens and whenever another model is chosen.
  useEffect(() => {
    void run();
  }, [settings.model]);

  const tokens = analysis?.tokens ?? [];
  const known = tokens.filter((t) => t.prob !== null);
  const weakest = known.length > 0 ? known.reduce((a, b) => (b.prob! < a.prob! ? b : a)) : null;
  const lowShare = known.length > 0 ? known.filter((t) => t.prob! < 0.01).length / known.length : 0;
  const spans = analysis?.low_confidence_spans ?? [];
  /** Index of the low-confidence span each token is in, or -1. */
  const spanOf = useMemo(() => {
    const out = new Array<number>(tokens.length).fill(-1);
    spans.forEach((s, k) => {
      for (let i = s.first_token; i < s.end_token && i < out.length; i++) out[i] = k;
    });
    return out;
  }, [analysis]);

  function onKeyDown(e: KeyboardEvent<HTMLDivElement>): void {
    if (tokens.length === 0) return;
    let next: number | null = null;
    const at = active ?? -1;
    if (e.key === 'ArrowRight') next = Math.min(tokens.length - 1, at + 1);
    else if (e.key === 'ArrowLeft') next = Math.max(0, at - 1);
    else if (e.key === 'Home') next = 0;
    else if (e.key === 'End') next = tokens.length - 1;
    else if (e.key === 'Escape') setActive(null);
    if (next !== null) {
      e.preventDefault();
      setActive(next);
      tokenRefs.current[next]?.focus();
    }
  }

  const tip = (() => {
    if (active === null) return null;
    const t = tokens[active];
    const el = tokenRefs.current[active];
    const box = boxRef.current;
    if (!t || !el || !box) return null;
    const r = el.getBoundingClientRect();
    const b = box.getBoundingClientRect();
    const width = Math.min(300, b.width - 16);
    const left = Math.max(8, Math.min(r.left - b.left, b.width - width - 8));
    return { t, i: active, top: r.bottom - b.top + box.scrollTop + 6, left, width };
  })();

  return (
    <section className="panel likelihood" aria-labelledby="lk-title">
      <div className="panel-head">
        <h2 id="lk-title">Likelihood</h2>
        <div className="head-actions">
          <button type="button" onClick={() => void detect()} disabled={detecting || doc.trim() === ''} title="Does this text carry the watermark of this server's suggestions?">
            {detecting ? 'Detecting…' : 'Detect watermark'}
          </button>
          <button type="button" onClick={() => void run()} disabled={loading || doc.trim() === ''}>
            {loading ? 'Analyzing…' : doc !== analyzed && analysis ? 'Re-analyze changed text' : 'Analyze'}
          </button>
        </div>
      </div>
      <div className="legend" aria-label="Colour legend: probability of each token">
        <span className="legend-label">Token probability</span>
        <div className="legend-bar" style={{ background: `linear-gradient(to right, ${LEGEND.map((p) => probColour(p)).join(', ')})` }} />
        <div className="legend-ticks">
          {LEGEND.map((p) => (
            <span key={p}>{p >= 1 ? '100%' : `${p * 100}%`}</span>
          ))}
        </div>
        <p className="legend-low">
          <span className="low-sample" aria-hidden="true">
            text
          </span>{' '}
          low confidence: a run of tokens the model gave under 10%, worth checking
        </p>
      </div>
      {detection && (
        <p className={`detection${detection.result.flagged ? ' flagged' : ''}`} role="status">
          {detectionText(detection.result)}
          {detection.text !== doc && <span className="muted"> (for an earlier version of the text)</span>}
        </p>
      )}
      {doc.trim() === '' && (
        <p className="muted">
          Nothing to analyze yet.{' '}
          <button type="button" className="link" onClick={goWrite}>
            Write some text
          </button>{' '}
          first.
        </p>
      )}
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
      {analysis && (
        <>
          <p className="summary">
            <span>
              <strong>{tokens.length}</strong> tokens
            </span>
            {analysis.perplexity !== null && (
              <span>
                perplexity <strong>{analysis.perplexity.toFixed(1)}</strong>
              </span>
            )}
            <span>
              <strong>{(lowShare * 100).toFixed(0)}%</strong> below 1%
            </span>
            <span>
              <strong>{spans.length}</strong> low-confidence {spans.length === 1 ? 'span' : 'spans'}
            </span>
            {analysis.windowed && <span title="Each token is predicted from at least half a context of the text before it">longer than the context: read in windows</span>}
            {weakest && (
              <span>
                least likely {shown(weakest.text)} <strong>{percent(weakest.prob!)}</strong>
              </span>
            )}
          </p>
          <div className="lk-box" ref={boxRef}>
            <div className="lk-text" role="group" aria-label="Text coloured by token likelihood; use the arrow keys to inspect tokens" tabIndex={active === null ? 0 : -1} onKeyDown={onKeyDown} onMouseLeave={() => setActive(null)}>
              {tokens.map((t, i) => (
                <span
                  key={i}
                  ref={(el) => {
                    tokenRefs.current[i] = el;
                  }}
                  className={`tok${spanOf[i]! >= 0 ? ' low' : ''}${i === active ? ' active' : ''}`}
                  style={{ background: probColour(t.prob) }}
                  tabIndex={i === active ? 0 : -1}
                  data-prob={t.prob ?? ''}
                  data-span={spanOf[i]! >= 0 ? spanOf[i] : undefined}
                  aria-label={`${shown(t.text)} ${t.prob === null ? 'first token, not scored' : percent(t.prob)}${spanOf[i]! >= 0 ? ', low confidence' : ''}`}
                  onMouseEnter={() => setActive(i)}
                  onFocus={() => setActive(i)}
                >
                  {t.text}
                </span>
              ))}
            </div>
            {tip && (
              <div className="tooltip" role="tooltip" style={{ top: tip.top, left: tip.left, width: tip.width }}>
                <p className="tip-title">
                  {tip.t.prob === null ? (
                    <>The first token {shown(tip.t.text)} has nothing before it to be predicted from.</>
                  ) : (
                    <>
                      Likelihood of {shown(tip.t.text)}: <strong>{percent(tip.t.prob)}</strong>
                    </>
                  )}
                </p>
                {tip.t.entropy !== null && (
                  <p className="tip-meta">
                    Entropy here <strong>{tip.t.entropy.toFixed(2)} nats</strong> (as unsure as a pick among {Math.exp(tip.t.entropy).toFixed(0)} tokens)
                    {spanOf[tip.i]! >= 0 && <> · in a low-confidence span</>}
                  </p>
                )}
                {tip.t.top.length > 0 && (
                  <ol className="alts">
                    {tip.t.top.map((a) => (
                      <li key={a.id} className={a.id === tip.t.id ? 'chosen' : ''}>
                        <span className="alt-bar" style={{ width: `${Math.max(2, a.prob * 100)}%`, background: probColour(a.prob) }} />
                        <span className="alt-text">{shown(a.text)}</span>
                        <span className="alt-p">{percent(a.prob)}</span>
                      </li>
                    ))}
                  </ol>
                )}
              </div>
            )}
          </div>
        </>
      )}
    </section>
  );
}
