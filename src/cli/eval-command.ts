// `genlab eval`: cross-entropy of a model on a corpus, as loss (nats/token), perplexity and bits
// per byte (comparable across tokenizers). Documents are scored in context-sized windows, each
// starting after an end-of-text token, like training.

import { noGrad } from '../autograd/tape.ts';
import { defaultDevice } from '../backend/registry.ts';
import { resolveSource } from '../data/corpus.ts';
import { loadModel } from '../io/model-folder.ts';
import { crossEntropy } from '../ops/layers.ts';
import { empty } from '../tensor/tensor.ts';
import { progressBar } from './progress.ts';

export interface EvalResult {
  tokens: number;
  bytes: number;
  loss: number;
  perplexity: number;
  bitsPerByte: number;
}

export async function evalCommand(o: { model: string; data: string[]; maxTokens?: number; json?: boolean; calibration?: boolean; heldOut?: boolean; bins?: number }): Promise<EvalResult> {
  // --data is optional on the command line because --task translate (src/cli/translate-commands.ts) takes --pairs instead.
  if (!o.data || o.data.length === 0) throw new Error("--data is required: text files, folders, .jsonl, or 'sotu' / 'moby-dick' (to score a translation model use --task translate --pairs FILE.tsv)");
  // --calibration: expected calibration error and a reliability diagram (src/account/calibration-command.ts).
  if (o.calibration) return (await import('../account/calibration-command.ts')).calibrationCommand(o);
  if (o.heldOut || o.bins !== undefined) throw new Error('--held-out and --bins apply to calibration; add --calibration');
  const { model, tokenizer } = await loadModel(o.model);
  const dev = model.device;
  const T = model.config.nPositions;
  const eot = tokenizer.eotId;
  let nats = 0;
  let tokens = 0;
  let bytes = 0;
  const limit = o.maxTokens ?? Infinity;
  const sources = o.data.map((d) => resolveSource(d));
  let totalBytes = 0;
  for (const s of sources) totalBytes += (await s.scan()).record.bytes;
  const bar = o.json ? null : progressBar(totalBytes, 'eval', '{loss}');
  const encoder = new TextEncoder();
  try {
    outer: for (const s of sources) {
      for await (const doc of s.documents()) {
        const ids = tokenizer.encode(doc.text, { allowSpecial: false });
        bytes += encoder.encode(doc.text).length;
        const seq = eot === null ? ids : [eot, ...ids];
        // Windows of T inputs predicting the next T tokens; the first input has no target of its own.
        for (let start = 0; start + 1 < seq.length; start += T) {
          const end = Math.min(seq.length - 1, start + T);
          const n = end - start;
          const loss = dev.scope(() =>
            noGrad(() => {
              const x = empty(dev, [1, n], 'int32').set(seq.slice(start, end));
              const y = empty(dev, [1, n], 'int32').set(seq.slice(start + 1, end + 1));
              return crossEntropy(model.forward(x).logits, y).item();
            }),
          );
          nats += loss * n;
          tokens += n;
          if (tokens >= limit) break outer;
        }
        bar?.update(bytes, { loss: (nats / Math.max(1, tokens)).toFixed(4) });
      }
    }
  } finally {
    bar?.stop();
    await defaultDevice().close();
  }
  const loss = nats / tokens;
  const result: EvalResult = { tokens, bytes, loss, perplexity: Math.exp(loss), bitsPerByte: nats / Math.LN2 / bytes };
  if (o.json) console.log(JSON.stringify(result));
  else console.log(`tokens ${tokens}  loss ${loss.toFixed(4)} nats/token  perplexity ${result.perplexity.toFixed(2)}  bits/byte ${result.bitsPerByte.toFixed(4)}`);
  // Recorded in the model's run record (run.json, or evaluations.json) for the model card.
  try {
    await (await import('../account/run-record.ts')).recordEvaluation(o.model, { name: 'corpus-loss', data: o.data.join(' + '), metrics: { ...result }, createdAt: new Date().toISOString(), command: `genlab eval --model ${o.model} --data ${o.data.join(' ')}${o.maxTokens ? ` --max-tokens ${o.maxTokens}` : ''}` });
  } catch (err) {
    process.stderr.write(`genlab: the result was not recorded in ${o.model}: ${(err as Error).message}\n`);
  }
  return result;
}
