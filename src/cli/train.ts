// `genlab train`: pre-train a GPT-2 or Llama-recipe language model. With --task translate it is the older spelling of
// `genlab translate train`, so it also carries that command's flags (translate.ts).

import { Command, Option } from 'commander';
import { defaultPreset, presetNames } from '../train/presets.ts';
import { backendOption, initDevice, int, num, precisionOption, threadsOption } from './options.ts';
import { addTranslateTrainFlags, trainTranslateAlias } from './translate.ts';

export function trainCommand(): Command {
  const train = new Command('train')
    .description('pre-train a GPT-2 or Llama-recipe model on a corpus (default: the State of the Union speeches) into a model folder')
    .option('--data <sources...>', "text files, folders, .jsonl files, or built-ins 'sotu' / 'brown' / 'moby-dick'; several train as one corpus", ['sotu', 'brown'])
    .option('--model <preset|config.json>', `a preset (${presetNames.join(', ')}) or an HF GPT-2 or Llama config.json`, defaultPreset)
    .option('--out <dir>', 'model folder to write (default: models/<preset>, e.g. models/tiny; models/<name> for a config.json)')
    .option('--steps <n>', 'optimizer steps (default: the preset)', int('--steps'))
    .option('--batch <n>', 'sequences per micro-batch (default: the preset)', int('--batch'))
    .option('--seq-len <n>', 'tokens per sequence (default: the preset, at most the context)', int('--seq-len'))
    .option('--grad-accum <n>', 'micro-batches per optimizer step', int('--grad-accum'), 1)
    .option('--lr <lr>', 'peak learning rate (default: the preset)', num('--lr', 0))
    .option('--warmup <n>', 'learning-rate warmup steps', int('--warmup', 0))
    .option('--weight-decay <wd>', 'AdamW weight decay on matrices', num('--weight-decay', 0), 0.1)
    .option('--dropout <p>', 'dropout on embeddings and residual branches', num('--dropout', 0, 0.99), 0)
    .option('--vocab-size <n>', 'BPE vocabulary size (default: the preset)', int('--vocab-size', 260))
    .option('--eval-every <n>', 'validate every n steps', int('--eval-every', 0), 100)
    .option('--checkpoint-every <n>', 'checkpoint every n steps', int('--checkpoint-every', 0), 200)
    .option('--val-fraction <f>', 'share of the text held out for validation: whole documents, or the tail of a single one', num('--val-fraction', 0.001, 0.5), 0.05)
    .option('--seed <n>', 'random seed (init, data order, dropout)', int('--seed', 0), 1337)
    .option('--resume', 'continue from the checkpoint in --out, whichever engine wrote it (bit-exact when the same engine continues)')
    .option('--stop-at <step>', 'pause after this step with a checkpoint (the schedule still runs to --steps); continue with --resume', int('--stop-at'))
    .addOption(new Option('--engine <name>', 'who trains: genlab, or PyTorch through torchrun (same checkpoint, data order and schedule; GPT-2 models; needs python3-torch or pip torch, or $GENLAB_PYTHON)').choices(['genlab', 'torch']).default('genlab'))
    .option('--nproc <n>', 'with --engine torch: processes torchrun starts (DDP; each takes batch/n rows of every step)', int('--nproc'))
    .option('--cache <dir>', 'where tokenizers and token shards are cached', '.cache/genlab')
    .addOption(backendOption())
    .addOption(threadsOption())
    .addOption(precisionOption());
  addTranslateTrainFlags(train);
  return train.action(async (opts, cmd: Command) => {
    if (opts.task === 'translate') return trainTranslateAlias(cmd);
    const { trainCommand: trainModel } = await import('../train/run.ts');
    // --precision cannot say int8 here; $GENLAB_PRECISION can, and is refused before any work.
    if (!opts.precision && process.env['GENLAB_PRECISION'] === 'int8') throw new Error('GENLAB_PRECISION=int8 is for inference (generate, serve, eval), not training: unset it, or pass --precision fp32 or bf16');
    await initDevice(opts);
    await trainModel(opts);
  });
}
