import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '../backend/rng.ts';
import { bootstrapChinchilla, computeOptimal, UnfittableError, fitChinchilla, fitComputeLaw, paretoFrontier, predictFromCompute, predictLoss, quantile, type ChinchillaParams } from './fit.ts';
import { lbfgs } from './lbfgs.ts';

test('L-BFGS minimises the Rosenbrock function and a badly scaled quadratic', () => {
  const rosen = lbfgs((x, g) => {
    const [a, b] = [x[0]!, x[1]!];
    g[0] = -2 * (1 - a) - 400 * a * (b - a * a);
    g[1] = 200 * (b - a * a);
    return (1 - a) ** 2 + 100 * (b - a * a) ** 2;
  }, [-1.2, 1]);
  assert.ok(rosen.converged);
  assert.ok(Math.abs(rosen.x[0]! - 1) < 1e-6 && Math.abs(rosen.x[1]! - 1) < 1e-6, `${rosen.x}`);
  const scales = [1, 10, 100, 1000, 1e4];
  const q = lbfgs((x, g) => {
    let f = 0;
    for (let i = 0; i < 5; i++) {
      g[i] = scales[i]! * (x[i]! - i);
      f += 0.5 * scales[i]! * (x[i]! - i) ** 2;
    }
    return f;
  }, [5, 5, 5, 5, 5]);
  for (let i = 0; i < 5; i++) assert.ok(Math.abs(q.x[i]! - i) < 1e-6);
});

// Hoffmann et al.'s published fit, as the "true" law of a synthetic sweep.
const TRUE: ChinchillaParams = { E: 1.69, A: 406.4, B: 410.7, alpha: 0.34, beta: 0.28 };

function sweep(noise: number, seed = 1) {
  const rng = new Rng(seed);
  const pts = [];
  for (const n of [1e6, 3e6, 1e7, 3e7, 1e8, 3e8]) {
    for (const d of [3e7, 1e8, 3e8, 1e9, 3e9]) pts.push({ n, d, loss: predictLoss(TRUE, n, d) * Math.exp(noise * rng.normal()) });
  }
  return pts;
}

function assertClose(p: ChinchillaParams, tol: Record<keyof ChinchillaParams, number>): void {
  for (const k of Object.keys(tol) as (keyof ChinchillaParams)[]) {
    assert.ok(Math.abs(p[k] - TRUE[k]) / TRUE[k] <= tol[k], `${k}: fitted ${p[k]}, true ${TRUE[k]}`);
  }
}

test('the L(N, D) fit recovers known parameters from noiseless synthetic runs', () => {
  const fit = fitChinchilla(sweep(0));
  assertClose(fit.params, { E: 1e-3, A: 1e-2, B: 1e-2, alpha: 1e-3, beta: 1e-3 });
  assert.ok(fit.rmseLog < 1e-5);
  assert.ok(fit.converged > 0 && fit.starts === 4500);
});

test('with 0.5% noise the fit stays close and the bootstrap interval covers the truth', () => {
  const pts = sweep(0.005, 3);
  const fit = fitChinchilla(pts);
  assertClose(fit.params, { E: 0.05, A: 0.6, B: 0.6, alpha: 0.12, beta: 0.12 });
  const boots = bootstrapChinchilla(pts, fit, { samples: 60, seed: 2 });
  assert.ok(boots.length >= 55);
  for (const k of ['E', 'alpha', 'beta'] as const) {
    const lo = quantile(boots.map((b) => b[k]), 0.025);
    const hi = quantile(boots.map((b) => b[k]), 0.975);
    assert.ok(lo <= TRUE[k] && TRUE[k] <= hi, `${k}: 95% interval [${lo}, ${hi}] misses ${TRUE[k]}`);
  }
  // Extrapolating to 11× the compute of the largest run lands within 1.5% of the true loss.
  const target = predictLoss(fit.params, 1e9, 1e10);
  assert.ok(Math.abs(target / predictLoss(TRUE, 1e9, 1e10) - 1) < 0.015);
});

test('the compute-optimal allocation matches a brute-force search along C = kND', () => {
  const C = 1e21;
  const k = 6;
  const opt = computeOptimal(TRUE, C, k);
  let best = { n: 0, loss: Infinity };
  for (let e = 6; e <= 12; e += 0.0005) {
    const n = 10 ** e;
    const loss = predictLoss(TRUE, n, C / (k * n));
    if (loss < best.loss) best = { n, loss };
  }
  assert.ok(Math.abs(Math.log10(opt.n) - Math.log10(best.n)) < 0.002, `${opt.n} vs ${best.n}`);
  assert.ok(Math.abs(opt.loss - best.loss) < 1e-9);
  assert.equal(opt.n * opt.d * k, C);
  assert.throws(() => computeOptimal({ ...TRUE, alpha: 0 }, C, k), /alpha = 0/);
});

test('the compute law L(C) = aC^b + c is recovered from its frontier', () => {
  const truth = { a: 180, b: -0.155, c: 1.7 };
  const pts = [1e9, 3e9, 1e10, 3e10, 1e11, 3e11, 1e12].map((flops) => ({ flops, loss: predictFromCompute(truth, flops) }));
  const fit = fitComputeLaw(pts);
  assert.ok(Math.abs(fit.params.b - truth.b) < 1e-3, `b = ${fit.params.b}`);
  assert.ok(Math.abs(fit.params.c - truth.c) / truth.c < 1e-3, `c = ${fit.params.c}`);
  assert.ok(Math.abs(predictFromCompute(fit.params, 1e14) / predictFromCompute(truth, 1e14) - 1) < 1e-3);
});

test('pareto frontier keeps only runs that beat every cheaper run', () => {
  const runs = [{ flops: 1, loss: 5 }, { flops: 2, loss: 6 }, { flops: 3, loss: 4 }, { flops: 3, loss: 4.5 }, { flops: 4, loss: 4 }, { flops: 5, loss: 3 }];
  assert.deepEqual(paretoFrontier(runs).map((r) => r.flops), [1, 3, 5]);
});

test('fits reject too few runs and non-positive values with a clear message', () => {
  assert.throws(() => fitChinchilla(sweep(0).slice(0, 4)), /needs at least 5 runs, got 4/);
  assert.throws(() => fitChinchilla([...sweep(0).slice(0, 5), { n: 0, d: 1, loss: 1 }]), /n = 0 cannot be fitted/);
});

// Ten real sweep runs (non-embedding N, tokens, validation loss; SOTU, vocabulary 512, context 64)
// whose best log-space optimum has β ≈ 88 and B = e^b beyond float range: the fit must return the
// best optimum that can still predict.
const OVERFLOWING_RUNS = [
  { n: 100_096, d: 2_048_000, loss: 2.8035 }, { n: 56_640, d: 2_048_000, loss: 2.9941 },
  { n: 56_640, d: 4_096_000, loss: 2.7892 }, { n: 112_032, d: 2_048_000, loss: 2.6287 },
  { n: 150_080, d: 2_048_000, loss: 2.7831 }, { n: 25_472, d: 2_048_000, loss: 3.3714 },
  { n: 25_472, d: 4_096_000, loss: 3.0563 }, { n: 25_472, d: 8_192_000, loss: 2.9542 },
  { n: 12_768, d: 2_048_000, loss: 3.2121 }, { n: 12_768, d: 4_096_000, loss: 3.0687 },
];

test('an optimum whose parameters overflow is skipped, so predictions stay finite', () => {
  const fit = fitChinchilla(OVERFLOWING_RUNS);
  for (const [k, v] of Object.entries(fit.params)) assert.ok(Number.isFinite(v), `${k} = ${v}`);
  assert.ok(Number.isFinite(fit.rmseLog) && fit.rmseLog < 0.1, `rms ${fit.rmseLog}`);
  assert.ok(Number.isFinite(predictLoss(fit.params, 2_669_568, 7e6)));
  for (const b of bootstrapChinchilla(OVERFLOWING_RUNS, fit, { samples: 20, seed: 1 })) {
    assert.ok(Object.values(b).every(Number.isFinite), JSON.stringify(b));
  }
});

// Fourteen real runs of widths 8–24 (SOTU, vocabulary 512, context 64, 1.3M–3.7M tokens): the
// narrow models' losses hardly move with D. The full fit has a finite optimum, but many bootstrap
// resamples have none (β and B run to infinity); those draws are replaced, not fatal.
const FLAT_IN_D_RUNS = [
  [5_496, 1_299_968, 4.1514], [5_496, 1_839_616, 4.1328], [5_496, 2_599_936, 4.1329], [5_496, 3_679_744, 4.1295],
  [8_820, 1_299_968, 3.9458], [8_820, 1_839_616, 3.9201], [8_820, 2_599_936, 3.9086], [8_820, 3_679_744, 3.8983],
  [12_528, 1_299_968, 3.8098], [12_528, 1_839_616, 3.7897], [12_528, 2_599_936, 3.7799],
  [16_620, 1_299_968, 3.717], [16_620, 1_839_616, 3.6809], [21_096, 1_299_968, 3.6474],
].map(([n, d, loss]) => ({ n: n!, d: d!, loss: loss! }));

test('bootstrap resamples that cannot be fitted are drawn again; a fit with no finite optimum says why', () => {
  const fit = fitChinchilla(FLAT_IN_D_RUNS);
  assert.ok(Object.values(fit.params).every(Number.isFinite), JSON.stringify(fit.params));
  const boots = bootstrapChinchilla(FLAT_IN_D_RUNS, fit, { samples: 40, seed: 1 });
  assert.equal(boots.length, 40);
  for (const b of boots) assert.ok(Object.values(b).every(Number.isFinite), JSON.stringify(b));
  // Started only where the objective runs off to β → ∞, no finite optimum is reachable.
  assert.throws(() => fitChinchilla(FLAT_IN_D_RUNS, { starts: [Float64Array.of(0, 800, 1.3, 0.5, 60)] }), UnfittableError);
});

test('five runs give no bootstrap: every resample that can be fitted is the sweep itself', () => {
  const five = sweep(0.005, 4).filter((_, i) => i % 6 === 0).slice(0, 5);
  const fit = fitChinchilla(five);
  assert.deepEqual(bootstrapChinchilla(five, fit, { samples: 20 }), []);
  assert.equal(bootstrapChinchilla(sweep(0.005, 4).slice(0, 7), fitChinchilla(sweep(0.005, 4).slice(0, 7)), { samples: 20 }).length, 20);
});

test('fitting a sweep folder that does not exist names the folder, not "no finished runs"', async () => {
  const fs = await import('node:fs');
  const os = await import('node:os');
  const path = await import('node:path');
  const { fitSweep } = await import('./analysis.ts');
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'genlab-fit-'));
  try {
    const missing = path.join(tmp, 'no-such-sweep');
    await assert.rejects(fitSweep(missing), (err: Error) => err.message.startsWith(`the sweep folder ${missing} does not exist;`) && !/no finished runs/.test(err.message));
    await assert.rejects(fitSweep(tmp), /is not a sweep folder \(no sweep\.json\)/);
    fs.writeFileSync(path.join(tmp, 'sweep.json'), JSON.stringify({ format: 'genlab-scaling-sweep', version: 1 }));
    await assert.rejects(fitSweep(tmp), /has no finished runs yet; run: genlab scaling sweep --out/);
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
});
