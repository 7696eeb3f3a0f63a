// `genlab eval --calibration`: the calibration of a model's next-token probabilities on a corpus
// (with --held-out: only the documents its training run held out), a reliability diagram written
// next to the model, and the result recorded in the model's run record for the model card.

import path from 'node:path';
import { defaultDevice } from '../backend/registry.ts';
import { resolveSource } from '../data/corpus.ts';
import { loadLanguageModel } from '../io/model-folder.ts';
import { recordEvaluation } from '../record/run-record.ts';
import { writeJsonAtomic } from '../util/atomic.ts';
import { writeChart } from '../util/charts.ts';
import { progressBar } from '../util/progress.ts';
import { measureCalibration, reliabilityChart, type CalibrationResult } from './calibration.ts';
import { documentsOf, heldOutSet } from './held-out.ts';

export interface CalibrationCommandOptions {
  model: string;
  data: string[];
  maxTokens?: number;
  json?: boolean;
  heldOut?: boolean;
  bins?: number;
}

export interface CalibrationCommandResult extends CalibrationResult {
  data: string;
  files: { svg: string; png: string; html: string; json: string } | null;
}

export async function calibrationCommand(o: CalibrationCommandOptions): Promise<CalibrationCommandResult> {
  const lm = await loadLanguageModel(o.model);
  try {
    const held = o.heldOut ? await heldOutSet(lm.runRecord, o.model) : null;
    const sources = o.data.map((d) => ({ source: resolveSource(d), name: d }));
    let totalBytes = 0;
    for (const s of sources) totalBytes += (await s.source.scan()).record.bytes;
    const bar = o.json ? null : progressBar(o.maxTokens ?? Math.max(1, Math.round(totalBytes / 4)), 'calibrate', '{tokens} tokens');
    const r = await measureCalibration(lm, documentsOf(sources, held), {
      ...(o.bins !== undefined ? { bins: o.bins } : {}),
      ...(o.maxTokens !== undefined ? { maxTokens: o.maxTokens } : {}),
      onProgress: (tokens) => bar?.update(tokens, { tokens }),
    });
    bar?.stop();
    if (held && r.documents === 0) {
      throw new Error(`none of the documents of --data ${o.data.join(' ')} are among the ${held.documents} documents the run held out; pass the --data the model was trained on`);
    }
    const data = `${o.data.join(' + ')}${held ? ` (held-out documents: ${r.documents} of the run's ${held.documents})` : ' (all documents, including any the model trained on)'}`;
    let files: CalibrationCommandResult['files'] = null;
    {
      const base = path.join(o.model, 'calibration');
      const chart = await writeChart(base, reliabilityChart(r, `Calibration of ${path.basename(path.resolve(o.model))} on ${o.data.join(' + ')}${held ? ' (held out)' : ''}`), { title: 'Reliability diagram' });
      await writeJsonAtomic(`${base}.json`, { data, ...r });
      files = { ...chart, json: `${base}.json` };
      await recordEvaluation(o.model, {
        name: 'calibration',
        data,
        metrics: { ece: r.ece, mce: r.mce, topKEce: r.topK.ece, top1Accuracy: r.top1Accuracy, meanConfidence: r.meanConfidence, loss: r.loss, perplexity: r.perplexity, bitsPerByte: r.bitsPerByte, meanEntropy: r.meanEntropy, tokens: r.tokens },
        createdAt: new Date().toISOString(),
        command: `genlab eval --model ${o.model} --data ${o.data.join(' ')} --calibration${o.heldOut ? ' --held-out' : ''}${o.maxTokens ? ` --max-tokens ${o.maxTokens}` : ''}${o.bins ? ` --bins ${o.bins}` : ''}`,
        details: { bins: r.bins.length, k: r.topK.k, files: 'calibration.{svg,png,html,json}' },
      });
    }
    const result: CalibrationCommandResult = { ...r, data, files };
    if (o.json) console.log(JSON.stringify(result));
    else {
      console.log(`${data}: ${r.tokens} predictions`);
      console.log(`top-1 accuracy ${(100 * r.top1Accuracy).toFixed(2)}%  mean confidence ${(100 * r.meanConfidence).toFixed(2)}%  ECE ${r.ece.toFixed(4)}  MCE ${r.mce.toFixed(4)}  top-${r.topK.k} ECE ${r.topK.ece.toFixed(4)}`);
      console.log(`loss ${r.loss.toFixed(4)} nats/token  perplexity ${r.perplexity.toFixed(2)}  bits/byte ${r.bitsPerByte.toFixed(4)}  mean entropy ${r.meanEntropy.toFixed(3)} nats`);
      if (files) console.log(`reliability diagram: ${files.svg}, ${files.png}, ${files.html}`);
    }
    return result;
  } finally {
    await defaultDevice().close();
  }
}
