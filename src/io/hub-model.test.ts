// A tiny GPT-2 folder served by the fake Hub runs as `hf:test/tiny-gpt2` everywhere a model folder
// does: loadModel in the library, `genlab generate --model` (a child process with HF_ENDPOINT and
// HF_HOME pointing at the fake Hub and a fresh cache) and `genlab serve`, which names it tiny-gpt2.

import assert from 'node:assert/strict';
import { lstat, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { defaultDevice, init } from '../backend/registry.ts';
import { generate } from '../generate/generate.ts';
import { serveCommand } from '../serve/index.ts';
import { alignCommand } from '../align/align-command.ts';
import type { RunRecord } from '../record/run-record.ts';
import { makeTinyModel, sotuTexts, type TinyModel } from '../serve/testing/fixtures.ts';
import { finetuneCommand, mergeCommand } from '../train/finetune.ts';
import { repoFolderName } from './hub-cache.ts';
import { loadRewardModel } from '../align/reward-model.ts';
import { loadModel } from './model-folder.ts';
import { runCli } from '../testing/run-cli.ts';
import { fakeCommit, folderFiles, startFakeHub, type FakeHub } from './testing/fake-hub.ts';

const COMMIT = fakeCommit('tiny-gpt2');
const PROMPT = 'The Congress';

describe('models from the Hub', () => {
  let tiny: TinyModel;
  let hub: FakeHub;
  let tmp: string;
  let expected: string;

  before(async () => {
    await init({ backend: 'ref' });
    tiny = await makeTinyModel({ name: 'tiny-gpt2' });
    hub = await startFakeHub([{ id: 'test/tiny-gpt2', commits: { [COMMIT]: await folderFiles(tiny.dir) }, refs: { main: COMMIT } }]);
    tmp = await mkdtemp(path.join(os.tmpdir(), 'genlab-hub-model-'));
    expected = (await generate(tiny.lm, PROMPT, { maxTokens: 8, temperature: 0 })).completions[0]!.text;
  });
  after(async () => {
    for (const k of ['HF_ENDPOINT', 'HF_HOME', 'HF_HUB_DISABLE_PROGRESS_BARS']) delete process.env[k];
    await hub.close();
    await tiny.cleanup();
    await rm(tmp, { recursive: true, force: true });
    await defaultDevice().close();
  });

  it("loadModel('hf:test/tiny-gpt2') downloads the folder and loads the same model", async () => {
    Object.assign(process.env, { HF_ENDPOINT: hub.endpoint, HF_HOME: path.join(tmp, 'lib-home'), HF_HUB_DISABLE_PROGRESS_BARS: '1' });
    const lm = await loadModel('hf:test/tiny-gpt2');
    assert.equal(lm.dir, path.join(tmp, 'lib-home', 'hub', repoFolderName('test/tiny-gpt2'), 'snapshots', COMMIT));
    assert.equal((await generate(lm, PROMPT, { maxTokens: 8, temperature: 0 })).completions[0]!.text, expected);
  });

  it('genlab generate --model hf:test/tiny-gpt2 downloads with progress and generates', async () => {
    const home = path.join(tmp, 'cli-home');
    const r = await runCli(['generate', '--model', 'hf:test/tiny-gpt2', '--prompt', PROMPT, '--max-tokens', '8', '--temperature', '0', '--backend', 'ref'], { HF_ENDPOINT: hub.endpoint, HF_HOME: home });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, `${PROMPT}${expected}\n`);
    assert.match(r.stderr, /hf:test\/tiny-gpt2 weights \d+\/1000 \(100%\).* done=[\d.]+ kB size=[\d.]+ kB rate=/);
    assert.ok((await lstat(path.join(home, 'hub', repoFolderName('test/tiny-gpt2'), 'snapshots', COMMIT, 'model.safetensors'))).isSymbolicLink());

    // Offline from the filled cache; then a clear error for a model it does not hold.
    const offline = await runCli(['generate', '--model', 'hf:test/tiny-gpt2', '--prompt', PROMPT, '--max-tokens', '8', '--temperature', '0', '--backend', 'ref'], { HF_ENDPOINT: 'http://127.0.0.1:9', HF_HOME: home, HF_HUB_OFFLINE: '1' });
    assert.equal(offline.code, 0, offline.stderr);
    assert.equal(offline.stdout, `${PROMPT}${expected}\n`);
    const missing = await runCli(['generate', '--model', 'hf:test/other', '--prompt', PROMPT, '--backend', 'ref'], { HF_HOME: home, HF_HUB_OFFLINE: '1' });
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /^genlab: hf:test\/other is not in the Hub cache .*models--test--other and HF_HUB_OFFLINE is set/);
  });

  it('genlab serve serves hf:test/tiny-gpt2 as tiny-gpt2', async () => {
    Object.assign(process.env, { HF_ENDPOINT: hub.endpoint, HF_HOME: path.join(tmp, 'serve-home'), HF_HUB_DISABLE_PROGRESS_BARS: '1' });
    const running = await serveCommand({ model: 'hf:test/tiny-gpt2', port: 0, webRoot: null, db: ':memory:' });
    try {
      const models = (await (await fetch(`${running.url}/v1/models`)).json()) as { data: Array<{ id: string }> };
      assert.deepEqual(models.data.map((m) => m.id), ['tiny-gpt2']);
    } finally {
      await running.close();
    }
  });

  it('an adapter trained on hf:test/tiny-gpt2 names its base test/tiny-gpt2 and the commit, and merges onto --model hf:test/tiny-gpt2', async () => {
    Object.assign(process.env, { HF_ENDPOINT: hub.endpoint, HF_HOME: path.join(tmp, 'ft-home'), HF_HUB_DISABLE_PROGRESS_BARS: '1' });
    const corpus = path.join(tmp, 'speeches.txt');
    await writeFile(corpus, sotuTexts(2).join('\n\n'));
    const prefs = path.join(tmp, 'prefs.jsonl');
    await writeFile(prefs, Array.from({ length: 8 }, (_, i) => JSON.stringify({ prompt: `The Congress ${i}`, chosen: ' shall act', rejected: ' xq zz' })).join('\n') + '\n');
    const ft = { data: [corpus], loraR: 2, loraAlpha: 4, loraDropout: 0, target: ['c_attn'], steps: 1, batch: 2, seqLen: 32, lr: 1e-3, seed: 1, cache: path.join(tmp, 'cache'), quiet: true, valFraction: 0.25 };
    const snapshot = path.join(tmp, 'ft-home', 'hub', repoFolderName('test/tiny-gpt2'), 'snapshots', COMMIT);
    const readJson = async <T>(file: string): Promise<T> => JSON.parse(await readFile(file, 'utf8')) as T;

    const lora = path.join(tmp, 'hub-lora');
    await finetuneCommand({ ...ft, model: 'hf:test/tiny-gpt2', out: lora });
    assert.equal((await readJson<{ base_model_name_or_path: string }>(path.join(lora, 'adapter_config.json'))).base_model_name_or_path, 'test/tiny-gpt2');
    const parent = (await readJson<RunRecord>(path.join(lora, 'run.json'))).parent.model!;
    assert.deepEqual({ path: parent.path, name: parent.name, hub: parent.hub }, { path: snapshot, name: 'hf:test/tiny-gpt2', hub: { spec: 'hf:test/tiny-gpt2', repoId: 'test/tiny-gpt2', revision: 'main', commit: COMMIT } });

    const dpo = path.join(tmp, 'hub-dpo');
    await alignCommand({ model: 'hf:test/tiny-gpt2@main', data: prefs, out: dpo, loraR: 2, loraAlpha: 4, loraDropout: 0, target: ['c_attn'], beta: 0.1, steps: 1, batch: 2, lr: 1e-4, seed: 1, quiet: true });
    assert.equal((await readJson<{ base_model_name_or_path: string }>(path.join(dpo, 'adapter_config.json'))).base_model_name_or_path, 'test/tiny-gpt2');
    assert.deepEqual((await readJson<RunRecord>(path.join(dpo, 'run.json'))).parent.model!.hub, { spec: 'hf:test/tiny-gpt2@main', repoId: 'test/tiny-gpt2', revision: 'main', commit: COMMIT });

    // The adapter is checked against the base by its tensors, so the Hub spec serves as its base.
    const merged = path.join(tmp, 'hub-merged');
    await mergeCommand({ model: 'hf:test/tiny-gpt2', adapter: lora, out: merged });
    assert.equal((await readJson<RunRecord>(path.join(merged, 'run.json'))).parent.model!.hub?.commit, COMMIT);
    // Nothing was written into the shared cache snapshot.
    assert.deepEqual((await readdir(snapshot)).sort(), (await readdir(tiny.dir)).sort());

    // A local base keeps its absolute path and no hub field.
    const local = path.join(tmp, 'local-lora');
    await finetuneCommand({ ...ft, model: path.relative(process.cwd(), tiny.dir), out: local });
    assert.equal((await readJson<{ base_model_name_or_path: string }>(path.join(local, 'adapter_config.json'))).base_model_name_or_path, tiny.dir);
    const localParent = (await readJson<RunRecord>(path.join(local, 'run.json'))).parent.model!;
    assert.equal(localParent.path, tiny.dir);
    assert.equal(localParent.hub, undefined);
  });

  it('eval prints a Hub model\'s result without writing into the cache; commands that write into the model folder refuse hf: and say how to copy it', async () => {
    const home = path.join(tmp, 'cmd-home');
    const env = { HF_ENDPOINT: hub.endpoint, HF_HOME: home, HF_HUB_DISABLE_PROGRESS_BARS: '1' };
    const work = await mkdtemp(path.join(tmp, 'cwd-'));
    const corpus = path.join(work, 'speech.txt');
    await writeFile(corpus, sotuTexts(1)[0]!.slice(0, 2000));
    const snapshot = path.join(home, 'hub', repoFolderName('test/tiny-gpt2'), 'snapshots', COMMIT);

    const ev = await runCli(['eval', '--model', 'hf:test/tiny-gpt2', '--data', corpus, '--backend', 'ref'], env, work);
    assert.equal(ev.code, 0, ev.stderr);
    assert.match(ev.stdout, /^tokens \d+ {2}loss [\d.]+ nats\/token/);
    assert.match(ev.stderr, /genlab: printed only, not recorded: hf:test\/tiny-gpt2 is a snapshot in the shared Hugging Face cache, which genlab never writes into/);
    assert.doesNotMatch(ev.stderr, /not recorded in hf:/);
    assert.deepEqual((await readdir(snapshot)).sort(), (await readdir(tiny.dir)).sort(), 'no evaluations.json in the snapshot');
    assert.deepEqual(await readdir(work), ['speech.txt'], 'no hf:… folder made in the working directory');

    // Reading only: detect scores text with the cached model's tokenizer.
    const det = await runCli(['detect', '--model', 'hf:test/tiny-gpt2', 'The Congress shall make no law'], { ...env, HF_HUB_OFFLINE: '1' }, work);
    assert.equal(det.code, 0, det.stderr);
    assert.match(det.stdout, /^\d+ tokens, \d+ scored/);

    const refusals: Array<[string[], RegExp]> = [
      [['card', '--model', 'hf:test/tiny-gpt2'], /^genlab: --model hf:test\/tiny-gpt2: card writes README\.md, card\.html and the compute chart into the model folder, and a Hugging Face cache snapshot must stay unchanged .*cp -rL \S+models--test--tiny-gpt2\/snapshots\/\$\(cat \S+models--test--tiny-gpt2\/refs\/main\) models\/tiny-gpt2 — and pass --model models\/tiny-gpt2/],
      [['detect', '--model', `hf:test/tiny-gpt2@${COMMIT}`, '--study'], new RegExp(`^genlab: --model hf:test/tiny-gpt2@${COMMIT}: --study records its result in the model folder .*cp -rL \\S+/snapshots/${COMMIT} models/tiny-gpt2 `)],
      [['eval', '--model', 'hf:test/tiny-gpt2', '--data', corpus, '--calibration'], /^genlab: --model hf:test\/tiny-gpt2: --calibration writes calibration\.\{svg,png,html,json\} into the model folder/],
      [['merge', '--model', 'hf:test/tiny-gpt2', '--adapter', 'hf:test/tiny-lora', '--out', 'merged', '--backend', 'ref'], /^genlab: --adapter hf:test\/tiny-lora: hf:test\/tiny-lora: adapters are read from a local folder, hf: loads base models only; download it first \(huggingface-cli download test\/tiny-lora --local-dir adapters\/tiny-lora\)/],
      [['translate', '--model', 'hf:test/tiny-gpt2', '--text', 'hello'], /^genlab: --model hf:test\/tiny-gpt2: hf: loads GPT-2 language models; a translation model is a genlab encoder–decoder folder/],
    ];
    for (const [args, message] of refusals) {
      const r = await runCli(args, { ...env, HF_HUB_OFFLINE: '1' }, work);
      assert.equal(r.code, 1, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, message);
    }
    assert.deepEqual((await readdir(snapshot)).sort(), (await readdir(tiny.dir)).sort());
    assert.deepEqual((await readdir(work)).sort(), ['speech.txt']);
  });

  it('a reward model is read from hf: like any model (a language model is then refused as no reward model)', async () => {
    Object.assign(process.env, { HF_ENDPOINT: hub.endpoint, HF_HOME: path.join(tmp, 'rm-home'), HF_HUB_DISABLE_PROGRESS_BARS: '1' });
    const snapshot = path.join(tmp, 'rm-home', 'hub', repoFolderName('test/tiny-gpt2'), 'snapshots', COMMIT);
    await assert.rejects(loadRewardModel('hf:test/tiny-gpt2'), (err: Error) => err.message.startsWith(`${path.join(snapshot, 'config.json')}: architectures`) && /is not a reward model/.test(err.message));
  });
});
