// `genlab reward`: score completions with a reward model; `genlab reward train` makes one (the work
// is in src/align/reward-command.ts).

import { Command } from 'commander';
import { backendOption, hubModelHelp, initDevice, int, num, threadsOption } from './options.ts';

export function rewardCommand(): Command {
  const reward = new Command('reward')
    .description('score completions with a reward model (genlab reward train makes one)')
    // Options after a subcommand belong to it (`genlab reward train --model` vs `genlab reward --model`).
    .enablePositionalOptions()
    .option('--model <dir>', hubModelHelp('reward model folder'))
    .option('--prompt <text>', 'the prompt', '')
    .option('--completion <texts...>', 'completion(s) to score')
    .option('--json', 'print JSON')
    .addOption(backendOption())
    .addOption(threadsOption())
    .action(async (opts) => {
      if (!opts.model || !opts.completion) throw new Error('give --model RM and --completion TEXT (and usually --prompt); to train a reward model use `genlab reward train`');
      const { rewardScoreCommand } = await import('../align/reward-command.ts');
      await initDevice(opts);
      await rewardScoreCommand({ model: opts.model, prompt: opts.prompt, completion: opts.completion, json: !!opts.json });
    });
  reward.addCommand(
    new Command('train')
      .description('train a reward model (base model backbone + scalar head, Bradley–Terry loss) on preference pairs')
      .requiredOption('--model <dir>', hubModelHelp('base model folder (the backbone starts from it)'))
      .requiredOption('--data <file>', "preference pairs: JSONL or the app's feedback.sqlite")
      .requiredOption('--out <dir>', 'reward model folder to write (GPT2ForSequenceClassification layout)')
      .option('--steps <n>', 'optimizer steps (default: --epochs over the pairs)', int('--steps'))
      .option('--epochs <n>', 'passes over the pairs when --steps is not given', num('--epochs', 0), 2)
      .option('--batch <n>', 'pairs per step', int('--batch'), 8)
      .option('--lr <lr>', 'peak learning rate', num('--lr', 0), 3e-4)
      .option('--center <c>', 'weight of the (r_chosen + r_rejected)² penalty that centres rewards on 0', num('--center', 0), 0.01)
      .option('--max-length <n>', 'longest prompt + completion in tokens', int('--max-length', 2))
      .option('--no-ratings', 'with the SQLite database: ignore pairs made from 👍/👎 ratings')
      .option('--val-fraction <f>', 'share of pairs held out', num('--val-fraction', 0, 0.5), 0.1)
      .option('--seed <n>', 'random seed', int('--seed', 0), 1337)
      .addOption(backendOption())
      .addOption(threadsOption())
      .action(async (opts) => {
        const { rewardTrainCommand } = await import('../align/reward-command.ts');
        await initDevice(opts);
        await rewardTrainCommand({
          model: opts.model, data: opts.data, out: opts.out, ratings: opts.ratings !== false, ...(opts.steps ? { steps: opts.steps } : {}), epochs: opts.epochs,
          batch: opts.batch, lr: opts.lr, center: opts.center, ...(opts.maxLength ? { maxLength: opts.maxLength } : {}), valFraction: opts.valFraction, seed: opts.seed,
        });
      }),
  );
  return reward;
}
