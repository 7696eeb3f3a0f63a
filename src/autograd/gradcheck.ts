// Gradient checking: analytic gradients from backward() against central finite differences. The
// op under test runs in float32, so the scalar objective Σ w·f(x) (random w) is accumulated in
// float64 on the host, which keeps the finite differences accurate to ~1e-3 relative.

import { Rng } from '../backend/rng.ts';
import { empty, markWritten, type Tensor } from '../tensor/tensor.ts';
import { backward, noGrad } from './tape.ts';

export interface GradcheckOptions {
  /** Finite-difference step (default 1e-2, suited to float32 forward passes). */
  eps?: number;
  atol?: number;
  rtol?: number;
  /** Check at most this many elements per input, sampled (default 64). */
  maxElements?: number;
  seed?: number;
}

export interface GradcheckResult {
  ok: boolean;
  worst: { input: number; index: number; analytic: number; numeric: number; error: number } | null;
  checked: number;
}

/** Checks d(Σ w·f(inputs))/d input for every float input with requiresGrad. */
export function gradcheck(f: (...inputs: Tensor[]) => Tensor, inputs: Tensor[], opts: GradcheckOptions = {}): GradcheckResult {
  const eps = opts.eps ?? 1e-2;
  const atol = opts.atol ?? 2e-3;
  const rtol = opts.rtol ?? 2e-2;
  const maxElements = opts.maxElements ?? 64;
  const rng = new Rng(opts.seed ?? 1234);
  const dev = inputs[0]!.device;

  const out0 = f(...inputs);
  const w = new Float32Array(out0.size);
  for (let i = 0; i < w.length; i++) w[i] = rng.normal();
  const wT = empty(dev, out0.shape).set(w);
  for (const x of inputs) x.grad = null;
  backward(out0, wT);

  const objective = (): number =>
    noGrad(() => {
      const y = f(...inputs).toArray();
      let s = 0;
      for (let i = 0; i < y.length; i++) s += y[i]! * w[i]!;
      return s;
    });

  let worst: GradcheckResult['worst'] = null;
  let ok = true;
  let checked = 0;
  let worstRatio = -1;
  inputs.forEach((x, xi) => {
    if (!x.requiresGrad || x.dtype !== 'float32') return;
    if (!x.isContiguous()) throw new Error('gradcheck: inputs must be contiguous tensors');
    const analytic = x.grad ? x.grad.toArray() : new Float32Array(x.size);
    const picks = x.size <= maxElements ? [...Array(x.size).keys()] : Array.from({ length: maxElements }, () => Math.floor(rng.uniform() * x.size));
    for (const i of picks) {
      dev.refreshViews();
      const at = x.ptr + i;
      const orig = dev.f32[at]!;
      // Marked as written so no copy derived from x (a bf16 weight pack) outlives the nudge.
      const poke = (v: number): void => {
        dev.refreshViews();
        dev.f32[at] = v;
        markWritten(x.storage);
      };
      poke(orig + eps);
      const up = objective();
      poke(orig - eps);
      const down = objective();
      poke(orig);
      // Use the float32 values actually stored as the step.
      const h = Math.fround(orig + eps) - Math.fround(orig - eps);
      const numeric = (up - down) / h;
      const a = analytic[i]!;
      const error = Math.abs(a - numeric);
      // Error in units of the tolerance: > 1 fails.
      const ratio = error / (atol + rtol * Math.abs(numeric));
      checked++;
      if (!(ratio <= 1)) ok = false;
      if (!worst || !(ratio <= worstRatio)) {
        worstRatio = ratio;
        worst = { input: xi, index: i, analytic: a, numeric, error };
      }
    }
  });
  return { ok, worst, checked };
}
