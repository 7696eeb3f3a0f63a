// Public API of scaling laws: L-BFGS, the Chinchilla L(N, D) and L(C) fits with bootstrap
// intervals, sweep planning and execution, prediction and verification, and the chart.

export { lbfgs } from './lbfgs.ts';
export type { Objective, LbfgsOptions, LbfgsResult } from './lbfgs.ts';
export { fitChinchilla, fitComputeLaw, bootstrapChinchilla, predictLoss, predictFromCompute, computeOptimal, paretoFrontier, quantile, chinchillaGrid, HUBER_DELTA } from './fit.ts';
export type { ScalingPoint, ChinchillaParams, ComputeLawParams, FitResult } from './fit.ts';
export { LADDER, shapeName, parseShape, configFor, parameterCounts, flopsPerToken } from './shapes.ts';
export type { Shape } from './shapes.ts';
export { planSweep } from './plan.ts';
export type { PlanOptions, PlannedRun } from './plan.ts';
export { runSweep, trainRun, readSweep, readRuns, sweepData, lrFor, describeRun, DEFAULT_SWEEP, SWEEP_FILE, RUNS_FILE } from './sweep.ts';
export type { SweepSpec, SweepState, RunRecord, SweepResult, RunTarget } from './sweep.ts';
export { fitRuns, fitSweep, readFit, predictTarget, verifyTarget, readVerifications, formatFit, formatPrediction, FIT_FILE, VERIFY_FILE } from './analysis.ts';
export type { FitReport, ParamKind, TargetSpec, Prediction, Verification } from './analysis.ts';
export { scalingChartOptions, writeScalingChart, readPredictions, recordPrediction, PREDICTIONS_FILE } from './plots.ts';
