// `genlab eval`: cross-entropy of a model on a corpus, as loss (nats/token), perplexity and bits
// per byte (comparable across tokenizers). Documents are scored in context-sized windows, each
// starting after an end-of-text token, like training. With --calibration: expected calibration
// error and a reliability diagram (src/account/calibration-command.ts). With --task translate it is
// the older spelling of `genlab translate eval` (translate.ts).

import { Command } from 'commander';
import { progressBar } from '../util/progress.ts';
import { backendOption, hubModelHelp, initDevice, int, threadsOption } from './options.ts';
import { addTranslateEvalFlags, evalTranslateAlias } from './translate.ts';

export function evalCommand(): Command {
  const evalCmd = new Command('eval')
    .description('loss, perplexity and bits per byte of a model on a text corpus')
    .requiredOption('--model <dir>', `${hubModelHelp('model folder')} (then printed only, not recorded; not with --calibration)`)
    .requiredOption('--data <sources...>', "text files, folders, .jsonl, or 'sotu' / 'moby-dick'")
    .option('--max-tokens <n>', 'evaluate at most this many tokens', int('--max-tokens'))
    .option('--calibration', 'expected calibration error of next-token probabilities and a reliability diagram')
    .option('--held-out', "with --calibration: only the run's held-out documents")
    .option('--bins <n>', 'with --calibration: confidence bins', int('--bins', 2))
    .option('--json', 'print JSON')
    .addOption(backendOption())
    .addOption(threadsOption());
  addTranslateEvalFlags(evalCmd);
  return evalCmd.action(async (opts, cmd: Command) => {
    if (opts.task === 'translate') return evalTranslateAlias(cmd);
    await initDevice(opts);
    await evaluateCorpus(opts);
  });
}

interface EvalResult {
  tokens: number;
  bytes: number;
  loss: number;
  perplexity: number;
  bitsPerByte: number;
}

async function evaluateCorpus(o: { model: string; data: string[]; maxTokens?: number; json?: boolean; calibration?: boolean; heldOut?: boolean; bins?: number }): Promise<void> {
  // --data is optional on the command line because --task translate takes --pairs instead.
  if (!o.data || o.data.length === 0) throw new Error("--data is required: text files, folders, .jsonl, or 'sotu' / 'moby-dick' (to score a translation model use --task translate --pairs FILE.tsv)");
  if (o.calibration) {
    (await import('../io/hub.ts')).rejectHubSpec('--model', o.model, '--calibration writes calibration.{svg,png,html,json} into the model folder and records the result there');
    await (await import('../account/calibration-command.ts')).calibrationCommand(o);
    return;
  }
  if (o.heldOut || o.bins !== undefined) throw new Error('--held-out and --bins apply to calibration; add --calibration');
  const { noGrad } = await import('../autograd/tape.ts');
  const { defaultDevice } = await import('../backend/registry.ts');
  const { resolveSource } = await import('../data/corpus.ts');
  const { loadModel } = await import('../io/model-folder.ts');
  const { crossEntropy } = await import('../ops/layers.ts');
  const { empty } = await import('../tensor/tensor.ts');
  const { model, tokenizer, hub } = await loadModel(o.model);
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
  if (hub) {
    process.stderr.write(`genlab: printed only, not recorded: ${hub.spec} is a snapshot in the shared Hugging Face cache, which genlab never writes into (to keep results in evaluations.json, copy the snapshot to a folder and evaluate that)\n`);
    return;
  }
  // Recorded in the model's run record (run.json, or evaluations.json) for the model card.
  try {
    await (await import('../record/run-record.ts')).recordEvaluation(o.model, { name: 'corpus-loss', data: o.data.join(' + '), metrics: { ...result }, createdAt: new Date().toISOString(), command: `genlab eval --model ${o.model} --data ${o.data.join(' ')}${o.maxTokens ? ` --max-tokens ${o.maxTokens}` : ''}` });
  } catch (err) {
    process.stderr.write(`genlab: the result was not recorded in ${o.model}: ${(err as Error).message}\n`);
  }
}
