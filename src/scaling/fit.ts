// Scaling-law fits, as Hoffmann et al. (2022, "Training Compute-Optimal Large Language Models",
// approach 3 and appendix D.2) do them: L(N, D) = E + A/N^α + B/D^β is fitted by minimising the
// Huber loss (δ = 1e-3) between the predicted and observed log-loss, with the parameters in log
// space (A = e^a, B = e^b, E = e^e) so that
//     log L̂ = LSE(a − α log N, b − β log D, e),
// starting L-BFGS from a grid of initialisations and keeping the best optimum. The compute law
// L(C) = a·C^b + c (Kaplan et al. 2020 with an irreducible term) is fitted the same way to the
// compute-efficient frontier. Uncertainty comes from a bootstrap over runs.

import { Rng } from '../backend/rng.ts';
import { lbfgs } from './lbfgs.ts';

export interface ScalingPoint {
  /** Parameters. */
  n: number;
  /** Training tokens. */
  d: number;
  loss: number;
}

export interface ChinchillaParams {
  E: number;
  A: number;
  B: number;
  alpha: number;
  beta: number;
}

export interface FitResult<P> {
  params: P;
  /** Summed Huber loss at the optimum. */
  objective: number;
  /** Root mean square error of log-loss over the points. */
  rmseLog: number;
  /** Initialisations tried, and how many of the polished best ones converged. */
  starts: number;
  converged: number;
  /** The best distinct optima (raw parameter vectors), best first: starting points for refits. */
  optima: Float64Array[];
}

export const HUBER_DELTA = 1e-3;

function huber(r: number, delta: number): [number, number] {
  const a = Math.abs(r);
  return a <= delta ? [0.5 * r * r, r] : [delta * (a - 0.5 * delta), delta * Math.sign(r)];
}

/** log(e^x + e^y + e^z) and the softmax weights. */
function lse3(x: number, y: number, z: number): [number, number, number, number] {
  const m = Math.max(x, y, z);
  const ex = Math.exp(x - m);
  const ey = Math.exp(y - m);
  const ez = Math.exp(z - m);
  const s = ex + ey + ez;
  return [m + Math.log(s), ex / s, ey / s, ez / s];
}

export function predictLoss(p: ChinchillaParams, n: number, d: number): number {
  return p.E + p.A / Math.pow(n, p.alpha) + p.B / Math.pow(d, p.beta);
}

function toParams(x: Float64Array): ChinchillaParams {
  return { A: Math.exp(x[0]!), B: Math.exp(x[1]!), E: Math.exp(x[2]!), alpha: x[3]!, beta: x[4]! };
}

/** Chinchilla's grid: α, β ∈ {0, 0.5, …, 2}, e ∈ {−1, −0.5, …, 1}, a, b ∈ {0, 5, …, 25}. */
export function chinchillaGrid(): Float64Array[] {
  const out: Float64Array[] = [];
  for (const alpha of [0, 0.5, 1, 1.5, 2]) for (const beta of [0, 0.5, 1, 1.5, 2]) for (const e of [-1, -0.5, 0, 0.5, 1]) for (const a of [0, 5, 10, 15, 20, 25]) for (const b of [0, 5, 10, 15, 20, 25]) out.push(Float64Array.of(a, b, e, alpha, beta));
  return out;
}

function chinchillaObjective(points: readonly ScalingPoint[], delta: number) {
  const logs = points.map((p) => ({ ln: Math.log(p.n), ld: Math.log(p.d), ll: Math.log(p.loss) }));
  return (x: Float64Array, g: Float64Array): number => {
    const [a, b, e, alpha, beta] = [x[0]!, x[1]!, x[2]!, x[3]!, x[4]!];
    g.fill(0);
    let f = 0;
    for (const p of logs) {
      const [pred, w1, w2, w3] = lse3(a - alpha * p.ln, b - beta * p.ld, e);
      const [h, dh] = huber(pred - p.ll, delta);
      f += h;
      g[0] += dh * w1;
      g[1] += dh * w2;
      g[2] += dh * w3;
      g[3] += -dh * w1 * p.ln;
      g[4] += -dh * w2 * p.ld;
    }
    return f;
  };
}

function checkPoints(points: readonly { loss: number }[], need: number, what: string): void {
  if (points.length < need) throw new Error(`${what} needs at least ${need} runs, got ${points.length}; run a larger sweep (raise --budget or --levels)`);
  for (const p of points) {
    for (const [k, v] of Object.entries(p)) {
      if (!(Number.isFinite(v) && v > 0)) throw new Error(`${what}: run with ${k} = ${v} cannot be fitted (every N, D, C and loss must be positive and finite)`);
    }
  }
}

/** No optimum with finite parameters: the points cannot determine every term of the law. */
export class UnfittableError extends Error {}

/**
 * L-BFGS from every start for a short budget, then the 20 best runs polished to convergence: the
 * same optimum as running every start to the end (the grid's starts fall into few basins), at a
 * fraction of the cost.
 */
function fitFromStarts<P>(
  objective: (x: Float64Array, g: Float64Array) => number,
  starts: readonly Float64Array[],
  toP: (x: Float64Array) => P,
  rmse: (p: P) => number,
): FitResult<P> {
  const rough: { x: Float64Array; f: number }[] = [];
  for (const s of starts) {
    const r = lbfgs(objective, s, { maxIterations: 60, gradTol: 1e-12, fTol: 1e-15 });
    if (Number.isFinite(r.f)) rough.push({ x: r.x, f: r.f });
  }
  if (rough.length === 0) throw new Error('the fit diverged from every initialisation; check that the losses fall with N and D');
  rough.sort((p, q) => p.f - q.f);
  // The objective lives in log space, so an optimum can sit where e^a or e^b overflows (β → ∞
  // drives b past 709 when the points cannot pin the data term down): its objective is finite but
  // its parameters are not, and every prediction from it would be NaN. Such optima are skipped,
  // and further starts polished in their place (up to 100 in all).
  const finite = (x: Float64Array): boolean => {
    const p = toP(x);
    return Object.values(p as object).every((v) => Number.isFinite(v)) && Number.isFinite(rmse(p));
  };
  let converged = 0;
  const usable: { x: Float64Array; f: number }[] = [];
  for (const r of rough.slice(0, 100)) {
    if (usable.length >= 20) break;
    const fine = lbfgs(objective, r.x, { maxIterations: 3000, gradTol: 1e-12, fTol: 1e-15 });
    if (!finite(fine.x)) continue;
    if (fine.converged) converged++;
    usable.push({ x: fine.x, f: fine.f });
  }
  if (usable.length === 0) throw new UnfittableError('every optimum of the fit has an infinite parameter: the losses barely change with N or with D, so that term cannot be fitted; add sizes or token counts that move the loss');
  usable.sort((p, q) => p.f - q.f);
  const optima: Float64Array[] = [];
  for (const r of usable) {
    if (optima.length >= 8) break;
    if (optima.every((o) => o.some((v, i) => Math.abs(v - r.x[i]!) > 1e-3))) optima.push(r.x);
  }
  const params = toP(usable[0]!.x);
  return { params, objective: usable[0]!.f, rmseLog: rmse(params), starts: starts.length, converged, optima };
}

/** Fits L(N, D) = E + A/N^α + B/D^β (Hoffmann et al. 2022, approach 3). */
export function fitChinchilla(points: readonly ScalingPoint[], o: { delta?: number; starts?: readonly Float64Array[] } = {}): FitResult<ChinchillaParams> {
  checkPoints(points, 5, 'the L(N, D) fit');
  const rmse = (p: ChinchillaParams): number => Math.sqrt(points.reduce((s, q) => s + (Math.log(predictLoss(p, q.n, q.d)) - Math.log(q.loss)) ** 2, 0) / points.length);
  return fitFromStarts(chinchillaObjective(points, o.delta ?? HUBER_DELTA), o.starts ?? chinchillaGrid(), toParams, rmse);
}

export interface ComputeLawParams {
  /** L(C) = a·C^b + c; b < 0 when loss falls with compute. */
  a: number;
  b: number;
  c: number;
}

export function predictFromCompute(p: ComputeLawParams, flops: number): number {
  return p.a * Math.pow(flops, p.b) + p.c;
}

/** Fits L(C) = a·C^b + c with the same Huber-on-log-loss objective: log L̂ = LSE(a' + b log C, c'). */
export function fitComputeLaw(points: readonly { flops: number; loss: number }[], o: { delta?: number } = {}): FitResult<ComputeLawParams> {
  checkPoints(points, 3, 'the L(C) fit');
  const delta = o.delta ?? HUBER_DELTA;
  const logs = points.map((p) => ({ lc: Math.log(p.flops), ll: Math.log(p.loss) }));
  const objective = (x: Float64Array, g: Float64Array): number => {
    g.fill(0);
    let f = 0;
    for (const p of logs) {
      const [pred, w1, w2] = lse3(x[0]! + x[1]! * p.lc, x[2]!, -Infinity);
      const [h, dh] = huber(pred - p.ll, delta);
      f += h;
      g[0] += dh * w1;
      g[1] += dh * w1 * p.lc;
      g[2] += dh * w2;
    }
    return f;
  };
  const starts: Float64Array[] = [];
  for (const b of [-0.02, -0.05, -0.1, -0.2, -0.3, -0.5]) for (const c of [-1, -0.5, 0, 0.5, 1, 1.5]) for (const a of [0, 2.5, 5, 7.5, 10, 15]) starts.push(Float64Array.of(a, b, c));
  const toP = (x: Float64Array): ComputeLawParams => ({ a: Math.exp(x[0]!), b: x[1]!, c: Math.exp(x[2]!) });
  const rmse = (p: ComputeLawParams): number => Math.sqrt(points.reduce((s, q) => s + (Math.log(predictFromCompute(p, q.flops)) - Math.log(q.loss)) ** 2, 0) / points.length);
  return fitFromStarts(objective, starts, toP, rmse);
}

/** Runs no cheaper run beats: sorted by compute, each with a lower loss than all cheaper ones. */
export function paretoFrontier<T extends { flops: number; loss: number }>(runs: readonly T[]): T[] {
  const sorted = [...runs].sort((a, b) => a.flops - b.flops || a.loss - b.loss);
  const out: T[] = [];
  let best = Infinity;
  for (const r of sorted) {
    if (r.loss < best) {
      out.push(r);
      best = r.loss;
    }
  }
  return out;
}

/**
 * Bootstrap over runs: refit on `samples` resamples (with replacement), each started from the
 * full fit's best optima, and return every resample's parameters.
 */
export function bootstrapChinchilla(points: readonly ScalingPoint[], fit: FitResult<ChinchillaParams>, o: { samples?: number; seed?: number; delta?: number } = {}): ChinchillaParams[] {
  const rng = new Rng(o.seed ?? 0);
  const n = points.length;
  const out: ChinchillaParams[] = [];
  // With five runs, the only resample that can be fitted is the sweep itself: no spread to
  // measure, so no intervals (rather than zero-width ones).
  if (new Set(points).size <= 5) return out;
  const want = o.samples ?? 200;
  for (let attempt = 0; out.length < want && attempt < want * 20; attempt++) {
    const sample = Array.from({ length: n }, () => points[Math.floor(rng.uniform() * n)]!);
    // A resample with fewer than five distinct runs cannot determine five parameters: draw again.
    if (new Set(sample).size < 5) continue;
    // So can a resample whose every optimum has an infinite parameter (fitFromStarts throws): the
    // full fit stands, and such a draw is replaced like the one above.
    try {
      out.push(fitFromStarts(chinchillaObjective(sample, o.delta ?? HUBER_DELTA), fit.optima, toParams, () => 0).params);
    } catch (e) {
      if (!(e instanceof UnfittableError)) throw e;
    }
  }
  return out;
}

/** The q-quantile (0..1) of xs, linearly interpolated. */
export function quantile(xs: readonly number[], q: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const pos = q * (s.length - 1);
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return s[lo]! + (s[hi]! - s[lo]!) * (pos - lo);
}

/**
 * The compute-optimal allocation under C = k·N·D (k ≈ 6 plus attention, measured from the runs):
 * minimising E + A/N^α + B/D^β along that curve gives N* = G·(C/k)^(β/(α+β)) with
 * G = (αA/(βB))^(1/(α+β)), and D* = C/(k·N*) (Hoffmann et al. 2022, eq. 4).
 */
export function computeOptimal(p: ChinchillaParams, flops: number, k: number): { n: number; d: number; loss: number } {
  if (!(p.alpha > 0 && p.beta > 0)) throw new Error(`no compute-optimal allocation: the fit has alpha = ${p.alpha}, beta = ${p.beta} (both must be positive); the sweep may be too small`);
  const G = Math.pow((p.alpha * p.A) / (p.beta * p.B), 1 / (p.alpha + p.beta));
  const n = G * Math.pow(flops / k, p.beta / (p.alpha + p.beta));
  const d = flops / (k * n);
  return { n, d, loss: predictLoss(p, n, d) };
}
