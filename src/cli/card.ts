// `genlab card`: the model card of a model folder, from its run record and evaluations (the work is
// in src/account/card.ts).

import { Command } from 'commander';
import { backendOption, num, threadsOption, withDevice } from './options.ts';

export function cardCommand(): Command {
  return new Command('card')
    .description('write the model card (README.md + card.html + compute chart) into a model folder, from its run record and evaluations')
    .requiredOption('--model <dir>', 'model folder')
    .option('--carbon-intensity <g>', 'recompute emissions with this grid intensity (gCO2e/kWh) instead of the one recorded at training', num('--carbon-intensity', 0, 2000))
    .option('--carbon-source <text>', 'where --carbon-intensity comes from (shown in the card)')
    .option('--member-states <states...>', 'EU member states where the model is made available')
    .option('--license <id>', 'licence of the weights (SPDX id or Hugging Face licence name)')
    .option('--declared-by <name>', 'who declares --license and --member-states: records them in the folder, where they count in the self-assessment (without it they are shown as unscored claims)')
    .option('--no-samples', 'do not generate example continuations')
    .addOption(backendOption())
    .addOption(threadsOption())
    .action(async (opts) => {
      const { writeModelCard } = await import('../account/card.ts');
      const { carbonIntensity } = await import('../record/emissions.ts');
      if (opts.carbonSource && opts.carbonIntensity === undefined) throw new Error('--carbon-source needs --carbon-intensity');
      (await import('../io/hub.ts')).rejectHubSpec('--model', opts.model, 'card writes README.md, card.html and the compute chart into the model folder');
      const card = await withDevice(opts, () =>
        writeModelCard({
          model: opts.model,
          ...(opts.carbonIntensity !== undefined ? { intensity: carbonIntensity(opts.carbonIntensity, opts.carbonSource ?? 'given with genlab card --carbon-intensity (no source stated)') } : {}),
          ...(opts.memberStates ? { memberStates: opts.memberStates } : {}),
          ...(opts.license ? { license: opts.license } : {}),
          ...(opts.declaredBy !== undefined ? { declaredBy: opts.declaredBy } : {}),
          samples: opts.samples !== false,
        }),
      );
      for (const a of card.assessments) {
        console.log(`${a.title.padEnd(30)} ${a.points}/4`);
        for (const p of a.items) console.log(`  ${p.earned ? `+${p.earned}` : '+0'} ${p.id.padEnd(26)} ${p.evidence}`);
      }
      console.log(`CRFM self-assessment: ${card.total}/48`);
      console.log(`wrote ${card.files.readme}, ${card.files.html}, ${card.files.chart.svg} (+ .png, .html)`);
    });
}
