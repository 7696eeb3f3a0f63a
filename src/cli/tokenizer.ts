// `genlab tokenizer train`: a byte-level BPE vocabulary from text files (the work is in
// src/tokenizer/train-command.ts).

import { Command } from 'commander';
import { int } from './options.ts';

export function tokenizerCommand(): Command {
  const tokenizer = new Command('tokenizer').description('byte-level BPE tokenizers');
  tokenizer.addCommand(
    new Command('train')
      .description('train a BPE vocabulary on text files or folders; writes tokenizer.json and vocab.json + merges.txt')
      .argument('<files...>', 'text files or folders of .txt files')
      .requiredOption('--vocab-size <n>', 'vocabulary size including <|endoftext|>', int('--vocab-size', 257))
      .requiredOption('--out <dir>', 'output folder')
      .action(async (files: string[], opts) => {
        const { tokenizerTrainCommand } = await import('../tokenizer/train-command.ts');
        await tokenizerTrainCommand(files, { vocabSize: opts.vocabSize, out: opts.out });
      }),
  );
  return tokenizer;
}
