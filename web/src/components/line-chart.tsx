// A small SVG line chart for live training curves (no chart library: a few hundred points, one
// series, redrawn as points arrive). The first and last values are labelled; a dashed line marks
// an optional reference level (log 2 for the DPO loss, 0 for the margin).

export function LineChart(props: { title: string; points: { x: number; y: number }[]; xMax: number; reference?: { y: number; label: string }; format?: (v: number) => string; color?: string }) {
  const { title, points, xMax, reference, format = (v) => v.toFixed(3), color = 'var(--accent)' } = props;
  const W = 320;
  const H = 150;
  const pad = { l: 44, r: 12, t: 12, b: 24 };
  const ys = points.map((p) => p.y).filter(Number.isFinite);
  if (reference) ys.push(reference.y);
  let lo = ys.length > 0 ? Math.min(...ys) : 0;
  let hi = ys.length > 0 ? Math.max(...ys) : 1;
  if (hi - lo < 1e-9) {
    lo -= 0.5;
    hi += 0.5;
  }
  const margin = (hi - lo) * 0.08;
  lo -= margin;
  hi += margin;
  const x = (v: number): number => pad.l + ((W - pad.l - pad.r) * v) / Math.max(1, xMax);
  const y = (v: number): number => pad.t + ((H - pad.t - pad.b) * (hi - v)) / (hi - lo);
  const path = points
    .filter((p) => Number.isFinite(p.y))
    .map((p, i) => `${i === 0 ? 'M' : 'L'}${x(p.x).toFixed(1)},${y(p.y).toFixed(1)}`)
    .join(' ');
  const last = points.at(-1);
  const label = last ? `${title}: ${format(last.y)} at step ${last.x}` : `${title}: no steps yet`;
  return (
    <figure className="chart">
      <figcaption>
        {title} <strong>{last ? format(last.y) : '—'}</strong>
      </figcaption>
      <svg viewBox={`0 0 ${W} ${H}`} role="img" aria-label={label}>
        <line x1={pad.l} y1={H - pad.b} x2={W - pad.r} y2={H - pad.b} className="axis" />
        <line x1={pad.l} y1={pad.t} x2={pad.l} y2={H - pad.b} className="axis" />
        <text x={pad.l - 6} y={y(hi - margin) + 4} className="tick" textAnchor="end">
          {format(hi - margin)}
        </text>
        <text x={pad.l - 6} y={y(lo + margin) + 4} className="tick" textAnchor="end">
          {format(lo + margin)}
        </text>
        <text x={pad.l} y={H - 6} className="tick">
          0
        </text>
        <text x={W - pad.r} y={H - 6} className="tick" textAnchor="end">
          step {xMax}
        </text>
        {reference && (
          <>
            <line x1={pad.l} y1={y(reference.y)} x2={W - pad.r} y2={y(reference.y)} className="ref" />
            <text x={W - pad.r} y={y(reference.y) - 4} className="tick" textAnchor="end">
              {reference.label}
            </text>
          </>
        )}
        {path && <path d={path} fill="none" stroke={color} strokeWidth={2} strokeLinejoin="round" />}
        {last && Number.isFinite(last.y) && <circle cx={x(last.x)} cy={y(last.y)} r={3.5} fill={color} />}
      </svg>
    </figure>
  );
}
