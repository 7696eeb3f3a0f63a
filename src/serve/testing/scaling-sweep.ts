// A real, test-sized scaling sweep for the Scaling tab's tests, made the way the CLI makes one:
// `scaling sweep` (11 tiny runs on Moby-Dick: src/scaling/sweep.test.ts's spec with 5× its budget),
// `scaling fit`, `scaling predict` of a target at 30× the largest run (recorded, not trained) and
// `scaling verify` of one at 3× (trained, so it has a measured loss). Every number in the folder is
// measured or fitted by the library; about 10 s on one thread. Fits at this scale are far from
// Chinchilla's (docs/scaling.md); with smaller budgets the fitted α came out negative or so large
// that the compute-optimal N and D overflow, which would leave that table empty.

import { defaultDevice, init } from '../../backend/registry.ts';
import { fitSweep, predictTarget, verifyTarget } from '../../scaling/analysis.ts';
import { writeScalingChart } from '../../scaling/plots.ts';
import { readFit, readVerifications, recordPrediction, type Verification } from '../../scaling/results.ts';
import { configFor, flopsPerToken, parseShape } from '../../scaling/shapes.ts';
import { readRuns, readSweep, runSweep, type SweepSpec } from '../../scaling/sweep.ts';

export const TEST_SCALING_SPEC: Partial<SweepSpec> = {
  data: ['moby-dick'], vocabSize: 320, seqLen: 32, batch: 16, budget: 6e10, levels: 3, levelFactor: 2.5,
  minTokensPerParam: 2, maxTokensPerParam: 200, minSteps: 30, evalBatches: 32,
};

/** Tokens that give `shape` `ratio` times the compute of the sweep's largest run (whole batches). */
function tokensFor(dir: string, shape: string, ratio: number): number {
  const state = readSweep(dir);
  const fit = readFit(dir);
  const { seqLen, batch } = state.spec;
  const fpt = flopsPerToken(configFor(parseShape(shape), state.dataset.vocabSize, seqLen), seqLen);
  return Math.ceil((ratio * fit.sweep.largestRunFlops) / fpt / (batch * seqLen)) * batch * seqLen;
}

export interface TestSweep {
  dir: string;
  verification: Verification;
}

export async function makeTestSweep(dir: string): Promise<TestSweep> {
  try {
    defaultDevice();
  } catch {
    // The wasm backend: these tests are about the server and the app, not the kernels, and should
    // not depend on whether the native addon is built. One thread: the models are far too small
    // for a second one to pay off.
    await init({ backend: 'wasm', threads: 1 });
  }
  const sweep = await runSweep(dir, TEST_SCALING_SPEC, { quiet: true });
  if (sweep.interrupted) throw new Error(`the test sweep in ${dir} was interrupted`);
  await fitSweep(dir, { bootstrap: 30 });
  // What `genlab scaling predict` does: record the prediction and redraw the chart, train nothing.
  const state = readSweep(dir);
  const predicted = predictTarget(state, readFit(dir), { shape: 'L2-C32', tokens: tokensFor(dir, 'L2-C32', 30) });
  await recordPrediction(dir, predicted);
  await writeScalingChart(dir, state, readRuns(dir), readFit(dir), readVerifications(dir));
  const verification = await verifyTarget(dir, { shape: 'L1-C24', tokens: tokensFor(dir, 'L1-C24', 3) }, { quiet: true });
  if (verification === null) throw new Error(`the test target in ${dir} was interrupted`);
  return { dir, verification };
}
