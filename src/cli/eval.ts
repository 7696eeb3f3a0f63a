// `genlab eval`: cross-entropy of a model (GPT-2 or Llama family) on a corpus, as loss
// (nats/token), perplexity and bits per byte (comparable across tokenizers): src/account/corpus-loss.ts.
// Documents are scored in context-sized windows, each starting after an end-of-text token, like
// training. --held-out scores only the text the model's training run held out; a whole book such as
// --data moby-dick measures how far the model generalises beyond its training domain. With
// --calibration: expected calibration error and a reliability diagram
// (src/account/calibration-command.ts). With --task translate it is the older spelling of
// `genlab translate eval` (translate.ts).

import path from 'node:path';
import { Command } from 'commander';
import { progressBar } from '../util/progress.ts';
import { backendOption, hubModelHelp, initDevice, int, precisionOption, threadsOption } from './options.ts';
import { addTranslateEvalFlags, evalTranslateAlias } from './translate.ts';

export function evalCommand(): Command {
  const evalCmd = new Command('eval')
    .description('loss, perplexity and bits per byte of a model on a text corpus')
    .requiredOption('--model <dir>', `${hubModelHelp('model folder')} (then printed only, not recorded; not with --calibration)`)
    .option('--data <sources...>', "text files, folders, .jsonl, or 'sotu' / 'brown' / 'moby-dick' (a whole book); with --held-out, default: the run's training sources")
    .option('--max-tokens <n>', 'evaluate at most this many tokens', int('--max-tokens'))
    .option('--calibration', 'expected calibration error of next-token probabilities and a reliability diagram')
    .option('--held-out', "only the text the model's training run held out for validation (from its run.json)")
    .option('--bins <n>', 'with --calibration: confidence bins', int('--bins', 2))
    .option('--json', 'print JSON')
    .addOption(backendOption())
    .addOption(threadsOption())
    .addOption(precisionOption('inference'));
  addTranslateEvalFlags(evalCmd);
  return evalCmd.action(async (opts, cmd: Command) => {
    if (opts.task === 'translate') return evalTranslateAlias(cmd);
    await initDevice(opts);
    await evaluateCorpus(opts);
  });
}

async function evaluateCorpus(o: { model: string; data?: string[]; maxTokens?: number; json?: boolean; calibration?: boolean; heldOut?: boolean; bins?: number }): Promise<void> {
  // --data is optional on the command line because --task translate takes --pairs instead, and
  // --held-out defaults to the run's own sources.
  if ((!o.data || o.data.length === 0) && !(o.heldOut && !o.calibration)) {
    throw new Error("--data is required: text files, folders, .jsonl, or 'sotu' / 'brown' / 'moby-dick'; or --held-out for the text the model's run held out (to score a translation model use --task translate --pairs FILE.tsv)");
  }
  if (o.calibration) {
    (await import('../io/hub.ts')).rejectHubSpec('--model', o.model, '--calibration writes calibration.{svg,png,html,json} into the model folder and records the result there');
    await (await import('../account/calibration-command.ts')).calibrationCommand({ ...o, data: o.data! });
    return;
  }
  if (o.bins !== undefined) throw new Error('--bins applies to calibration; add --calibration');
  const { defaultDevice } = await import('../backend/registry.ts');
  const { documentsOf, heldOutSet, runSources } = await import('../account/held-out.ts');
  const { scoreDocuments } = await import('../account/corpus-loss.ts');
  const { resolveSource } = await import('../data/corpus.ts');
  const { loadLanguageModel } = await import('../io/model-folder.ts');
  const lm = await loadLanguageModel(o.model);
  const { hub } = lm;
  let result;
  let data: string;
  const bar = o.json ? null : progressBar(100, 'eval', '{loss}');
  try {
    const held = o.heldOut ? await heldOutSet(lm.runRecord, o.model) : null;
    const recorded = o.heldOut && !o.data ? runSources(lm.runRecord, o.model).map((s) => ({ source: s.source, name: s.recorded.name })) : null;
    const sources = recorded ?? o.data!.map((d) => ({ source: resolveSource(d), name: d }));
    const names = sources.map((s) => s.name);
    if (!held) {
      const trained = trainedOn(lm.runRecord, names);
      if (trained.length > 0) process.stderr.write(`genlab: the model trained on ${trained.join(', ')}; this scores that text too (add --held-out for only the part its run held out)\n`);
    }
    let totalBytes = 0;
    for (const s of sources) totalBytes += (await s.source.scan()).record.bytes;
    // Held-out text is a small part of the sources: measure progress in its characters instead.
    const goal = held ? held.chars : totalBytes;
    result = await scoreDocuments(lm, documentsOf(sources, held), {
      ...(o.maxTokens !== undefined ? { maxTokens: o.maxTokens } : {}),
      onProgress: (p) => bar?.update(Math.min(100, Math.round((100 * p.bytes) / Math.max(1, goal))), { loss: (p.nats / Math.max(1, p.tokens)).toFixed(4) }),
    });
    if (held && result.documents === 0) throw new Error(`none of the documents of --data ${names.join(' ')} are among the ${held.documents} documents the run held out; pass the --data the model was trained on, or leave --data out`);
    data = `${names.join(' + ')}${held ? ` (held-out documents: ${result.documents} of the run's ${held.documents})` : ''}`;
  } finally {
    bar?.stop();
    await defaultDevice().close();
  }
  if (o.json) console.log(JSON.stringify({ data, ...result }));
  else console.log(`tokens ${result.tokens}  loss ${result.loss.toFixed(4)} nats/token  perplexity ${result.perplexity.toFixed(2)}  bits/byte ${result.bitsPerByte.toFixed(4)}  (${data}: ${result.bytes} bytes)`);
  if (hub) {
    process.stderr.write(`genlab: printed only, not recorded: ${hub.spec} is a snapshot in the shared Hugging Face cache, which genlab never writes into (to keep results in evaluations.json, copy the snapshot to a folder and evaluate that)\n`);
    return;
  }
  // Recorded in the model's run record (run.json, or evaluations.json) for the model card.
  try {
    const { tokens, bytes, documents, loss, perplexity, bitsPerByte } = result;
    await (await import('../record/run-record.ts')).recordEvaluation(o.model, {
      name: 'corpus-loss',
      data,
      metrics: { tokens, bytes, documents, loss, perplexity, bitsPerByte },
      createdAt: new Date().toISOString(),
      command: `genlab eval --model ${o.model}${o.data ? ` --data ${o.data.join(' ')}` : ''}${o.heldOut ? ' --held-out' : ''}${o.maxTokens ? ` --max-tokens ${o.maxTokens}` : ''}`,
    });
  } catch (err) {
    process.stderr.write(`genlab: the result was not recorded in ${o.model}: ${(err as Error).message}\n`);
  }
}

/** Which of `names` (as given to --data) the model's run trained on, by its record's sources. */
function trainedOn(record: Record<string, unknown> | null, names: string[]): string[] {
  const sources = (record?.data as { sources?: { name: string; kind: string; path: string | null; package?: { name: string } }[] } | undefined)?.sources ?? [];
  return names.filter((n) => sources.some((s) => s.name === n || s.package?.name === n || (s.kind !== 'package' && s.path !== null && path.resolve(s.path) === path.resolve(n))));
}
