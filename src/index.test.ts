// The README's engine example runs as documented, and the README shows it verbatim.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { it } from 'node:test';

it('README engine example trains XOR to a small loss', () => {
  const example = readFileSync('examples/xor-mlp.ts', 'utf8');
  assert.ok(readFileSync('README.md', 'utf8').includes(example.trim()), 'README.md must contain examples/xor-mlp.ts verbatim');
  const out = execFileSync(process.execPath, ['--conditions=source', '--import', 'tsx', 'examples/xor-mlp.ts'], { encoding: 'utf8', timeout: 120_000 });
  const losses = [...out.matchAll(/loss (\d+\.\d+)/g)].map((m) => Number(m[1]));
  assert.equal(losses.length, 4);
  assert.ok(losses[0]! > 0.1 && losses[3]! < 0.01, `losses ${losses}`);
});

it('loadModel, generate and loadRewardModel work in a fresh process without init()', async () => {
  const { mkdtempSync, rmSync } = await import('node:fs');
  const os = await import('node:os');
  const path = await import('node:path');
  const { init, Gpt, defaultGptConfig, saveModel, trainBpe, RewardModel, saveRewardModel } = await import('./index.ts');
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'genlab-no-init-'));
  try {
    const device = await init({ backend: 'ref' });
    const tokenizer = await trainBpe(['The Congress of the United States shall assemble at least once in every year.'], { vocabSize: 280 });
    const config = defaultGptConfig({ vocabSize: tokenizer.vocabSize, nPositions: 32, nEmbd: 16, nLayer: 1, nHead: 2 });
    await saveModel(path.join(tmp, 'lm'), { model: new Gpt(config, { seed: 1 }), tokenizer });
    await saveRewardModel(path.join(tmp, 'rm'), new RewardModel(new Gpt(config, { seed: 2 })), tokenizer);
    await device.close();
    // The README's library example minus init(): the first call makes the default device.
    const script = `
      import { loadModel, loadRewardModel, generate, scoreCompletions } from 'genlab';
      const [lm, again] = await Promise.all([loadModel(process.argv[1] + '/lm'), loadModel(process.argv[1] + '/lm')]);
      const out = await generate(lm, 'The Congress', { maxTokens: 4, temperature: 0 });
      const rm = await loadRewardModel(process.argv[1] + '/rm');
      const rewards = scoreCompletions(rm, 'The', [' Congress']);
      console.log(JSON.stringify({ backend: lm.model.device.name, shared: lm.model.device === again.model.device && rm.rm.device === lm.model.device, tokens: out.completions[0].tokens.length, reward: rewards[0] }));
    `;
    const out = execFileSync(process.execPath, ['--conditions=source', '--import', 'tsx', '--input-type=module', '-e', script, tmp], { encoding: 'utf8', timeout: 120_000 });
    const r = JSON.parse(out.trim().split('\n').at(-1)!) as { backend: string; shared: boolean; tokens: number; reward: number };
    assert.ok(['native', 'wasm'].includes(r.backend), `the default backend, got ${r.backend}`);
    assert.equal(r.shared, true, 'concurrent first calls share one default device');
    assert.equal(r.tokens, 4);
    assert.ok(Number.isFinite(r.reward));
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});
