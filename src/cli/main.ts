// The `genlab` command line. Each command (or command group) is defined in its own file; this one
// only puts them in order and runs the program.

import { Command } from 'commander';
import { alignCommand } from './align.ts';
import { benchCommand } from './bench.ts';
import { cardCommand } from './card.ts';
import { dataCommand } from './data.ts';
import { detectCommand } from './detect.ts';
import { evalCommand } from './eval.ts';
import { exportCommand } from './export.ts';
import { finetuneCommand } from './finetune.ts';
import { generateCommand } from './generate.ts';
import { importCommand } from './import.ts';
import { infoCommand } from './info.ts';
import { mergeCommand } from './merge.ts';
import { rewardCommand } from './reward.ts';
import { scalingCommand } from './scaling.ts';
import { serveCommand } from './serve.ts';
import { startCommand } from './start.ts';
import { tokenizerCommand } from './tokenizer.ts';
import { trainCommand } from './train.ts';
import { bleuCommand, translateCommand } from './translate.ts';

export function buildCli(): Command {
  const program = new Command('genlab')
    .description('Train, fine-tune, align and serve GPT language models in TypeScript')
    .showHelpAfterError()
    .configureHelp({ sortSubcommands: false })
    // Options after a subcommand belong to it (`genlab reward train --model` vs `genlab reward --model`).
    .enablePositionalOptions();
  const commands = [
    infoCommand(), trainCommand(), finetuneCommand(), mergeCommand(), exportCommand(), importCommand(), alignCommand(), rewardCommand(), generateCommand(), evalCommand(),
    serveCommand(), startCommand(), tokenizerCommand(), benchCommand(), cardCommand(), detectCommand(), dataCommand(), scalingCommand(),
    translateCommand(),
    // The older spelling of `genlab translate bleu`.
    bleuCommand(),
  ];
  for (const c of commands) program.addCommand(c);
  inheritSettings(program);
  return program;
}

/** What `program.command()` would have copied into each subcommand: help after errors, help layout, positional options. */
function inheritSettings(parent: Command): void {
  for (const c of parent.commands) {
    c.copyInheritedSettings(parent);
    inheritSettings(c);
  }
}

export async function main(argv: string[]): Promise<void> {
  try {
    await buildCli().parseAsync(argv);
  } catch (err) {
    process.stderr.write(`genlab: ${(err as Error).message}\n`);
    process.exitCode = 1;
  }
}
