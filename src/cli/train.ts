// `genlab train`: pre-train a GPT language model. With --task translate it is the older spelling of
// `genlab translate train`, so it also carries that command's flags (translate.ts).

import { Command } from 'commander';
import { backendOption, initDevice, int, num, precisionOption, threadsOption } from './options.ts';
import { addTranslateTrainFlags, trainTranslateAlias } from './translate.ts';

export function trainCommand(): Command {
  const train = new Command('train')
    .description('pre-train a GPT on a corpus (default: the State of the Union speeches) into a model folder')
    .option('--data <sources...>', "text files, folders, .jsonl files, or built-ins 'sotu' / 'moby-dick'", ['sotu'])
    .option('--model <preset|config.json>', 'a preset (tiny, small, app, base) or an HF GPT-2 config.json', 'base')
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
    .option('--resume', 'continue from the checkpoint in --out (bit-exact)')
    .option('--cache <dir>', 'where tokenizers and token shards are cached', '.cache/genlab')
    .addOption(backendOption())
    .addOption(threadsOption())
    .addOption(precisionOption());
  addTranslateTrainFlags(train);
  return train.action(async (opts, cmd: Command) => {
    if (opts.task === 'translate') return trainTranslateAlias(cmd);
    const { trainCommand: trainModel } = await import('../train/run.ts');
    await initDevice(opts);
    await trainModel(opts);
  });
}
