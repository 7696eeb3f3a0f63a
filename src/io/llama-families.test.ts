// Every Llama-family fixture folder (Llama 3.2, Mistral, Qwen2.5, Qwen3, SmolLM2: random weights
// from scripts/make-llama-fixture.py, matched against PyTorch in src/models/llama.test.ts) goes
// through the whole user path: it loads by path and as hf:ORG/NAME from the local test Hub, serves
// chat with a template in its family's style, fine-tunes with LoRA on the architecture's default
// targets and aligns with DPO. The tokenizer is the 48-id character one of testing/tiny-llama.ts,
// so every character of a rendered template is one token and the expected counts are plain sums.

import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { alignCommand } from '../align/align-command.ts';
import { noGrad } from '../autograd/tape.ts';
import { defaultDevice, init } from '../backend/registry.ts';
import { generate } from '../generate/generate.ts';
import { Llama } from '../models/llama.ts';
import { serveCommand } from '../serve/index.ts';
import { empty } from '../tensor/tensor.ts';
import { finetuneCommand } from '../train/finetune.ts';
import { loadLanguageModel, type LoadedLlama } from './model-folder.ts';
import { fakeCommit, folderFiles, startFakeHub, type FakeHub } from './testing/fake-hub.ts';
import { writeTinyLlamaFolder } from './testing/tiny-llama.ts';

const CHATML_HI = '[im-start]user\nhi[im-end]\n[im-start]assistant\n';
const CHATML = '{% for m in messages %}[im-start]{{ m.role }}\n{{ m.content }}[im-end]\n{% endfor %}{% if add_generation_prompt %}[im-start]assistant\n{% endif %}';

interface Family {
  fixture: string;
  modelType: string;
  template: string;
  /** What the template renders for one user message "hi". */
  rendered: string;
  /** Its length in tokens: one per character, one per special token, counted by hand. */
  tokens: number;
}

const families: Family[] = [
  {
    fixture: 'llama-llama32',
    modelType: 'llama',
    // Llama 3's shape: BOS, a role header, a blank line, the message, an end-of-turn token.
    template: '{{ bos_token }}{% for m in messages %}[{{ m.role }}]\n\n{{ m.content }}{{ eos_token }}{% endfor %}{% if add_generation_prompt %}[assistant]\n\n{% endif %}',
    rendered: '<s>[user]\n\nhi</s>[assistant]\n\n',
    tokens: 1 + 6 + 2 + 2 + 1 + 11 + 2,
  },
  {
    fixture: 'llama-mistral',
    modelType: 'mistral',
    // Mistral's: BOS, then [INST] … [/INST] around user turns, answers closed by EOS.
    template: "{{ bos_token }}{% for m in messages %}{% if m.role == 'user' %}[inst] {{ m.content }} [/inst]{% else %}{{ m.content }}{{ eos_token }}{% endif %}{% endfor %}",
    rendered: '<s>[inst] hi [/inst]',
    tokens: 1 + 17,
  },
  { fixture: 'llama-qwen25', modelType: 'qwen2', template: CHATML, rendered: CHATML_HI, tokens: 10 + 4 + 1 + 2 + 8 + 1 + 10 + 9 + 1 },
  { fixture: 'llama-qwen3', modelType: 'qwen3', template: CHATML, rendered: CHATML_HI, tokens: 10 + 4 + 1 + 2 + 8 + 1 + 10 + 9 + 1 },
  { fixture: 'llama-smollm2', modelType: 'llama', template: CHATML, rendered: CHATML_HI, tokens: 10 + 4 + 1 + 2 + 8 + 1 + 10 + 9 + 1 },
];

const TEXT = 'the cat sat on the mat. the dog ate the log. a bird sang in the tree, and the sun rose. '.repeat(30);
const readJson = async <T>(file: string): Promise<T> => JSON.parse(await readFile(file, 'utf8')) as T;

describe('each Llama family, from folder to chat, LoRA and DPO', () => {
  let tmp: string;
  let hub: FakeHub;
  const dirs = new Map<string, string>();
  const repoOf = (f: Family) => `test/${f.fixture}`;

  before(async () => {
    await init({ backend: 'ref' });
    tmp = await mkdtemp(path.join(os.tmpdir(), 'genlab-llama-families-'));
    for (const f of families) dirs.set(f.fixture, await writeTinyLlamaFolder(path.join(tmp, f.fixture), { fixture: f.fixture, chatTemplate: f.template }));
    const repos = [];
    for (const f of families) {
      const commit = fakeCommit(f.fixture);
      repos.push({ id: repoOf(f), commits: { [commit]: await folderFiles(dirs.get(f.fixture)!) }, refs: { main: commit } });
    }
    hub = await startFakeHub(repos);
    await writeFile(path.join(tmp, 'text.txt'), TEXT);
    await writeFile(
      path.join(tmp, 'prefs.jsonl'),
      Array.from({ length: 6 }, (_, i) => JSON.stringify({ prompt: `the cat ${'ab'[i % 2]}`, chosen: ' sat on the mat', rejected: ' zq xx' })).join('\n') + '\n',
    );
  });
  after(async () => {
    await hub?.close();
    await rm(tmp, { recursive: true, force: true });
    await defaultDevice().close();
  });

  for (const f of families) {
    describe(f.fixture, () => {
      it(`loads by path and as hf:${repoOf(f)} with the same logits`, async () => {
        const byPath = (await loadLanguageModel(dirs.get(f.fixture)!)) as LoadedLlama;
        assert.ok(byPath.model instanceof Llama);
        assert.equal(byPath.config.modelType, f.modelType);
        const fromHub = (await loadLanguageModel(`hf:${repoOf(f)}`, { hub: { endpoint: hub.endpoint, cacheDir: path.join(tmp, 'hf-cache'), token: null, progress: false } })) as LoadedLlama;
        assert.equal(fromHub.hub?.repoId, repoOf(f));
        const ids = byPath.tokenizer.encode('the cat sat', { addSpecialTokens: true });
        const logits = (lm: LoadedLlama) => noGrad(() => lm.model.forward(empty(lm.model.device, [1, ids.length], 'int32').set(ids)).logits.toArray());
        assert.deepEqual(logits(fromHub), logits(byPath));
      });

      it("serves /v1/chat/completions with the folder's template", async () => {
        const dir = dirs.get(f.fixture)!;
        const lm = (await loadLanguageModel(dir)) as LoadedLlama;
        const running = await serveCommand({ model: dir, port: 0, webRoot: null, db: ':memory:' });
        try {
          const res = await fetch(`${running.url}/v1/chat/completions`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ model: f.fixture, messages: [{ role: 'user', content: 'hi' }], max_tokens: 6, temperature: 0 }),
          });
          assert.equal(res.status, 200);
          const r = (await res.json()) as { choices: Array<{ message: { content: string } }>; usage: { prompt_tokens: number } };
          const prompt = lm.tokenizer.encode(f.rendered, { allowSpecial: true });
          assert.equal(prompt.length, f.tokens, `${JSON.stringify(f.rendered)} is ${f.tokens} tokens`);
          assert.equal(r.usage.prompt_tokens, f.tokens, "the prompt is the template's rendering");
          const want = (await generate(lm, prompt, { maxTokens: 6, temperature: 0 })).completions[0]!.text;
          assert.equal(r.choices[0]!.message.content, want);
        } finally {
          await running.close();
        }
      });

      it('fine-tunes with LoRA on the default targets and aligns with DPO', async () => {
        const dir = dirs.get(f.fixture)!;
        const lm = (await loadLanguageModel(dir)) as LoadedLlama;
        const targets = [...lm.model.loraTargets];
        const lora = path.join(tmp, `${f.fixture}-lora`);
        const ft = await finetuneCommand({ model: dir, data: [path.join(tmp, 'text.txt')], out: lora, loraR: 2, loraAlpha: 4, loraDropout: 0, steps: 2, batch: 2, seqLen: 16, lr: 1e-2, seed: 1, cache: path.join(tmp, 'cache'), quiet: true, valFraction: 0.2 });
        assert.equal(ft.train.steps, 2);
        assert.ok(Number.isFinite(ft.train.finalLoss), `finite loss, got ${ft.train.finalLoss}`);
        assert.deepEqual((await readJson<{ target_modules: string[] }>(path.join(lora, 'adapter_config.json'))).target_modules, targets);
        const dpo = path.join(tmp, `${f.fixture}-dpo`);
        const al = await alignCommand({ model: dir, data: path.join(tmp, 'prefs.jsonl'), out: dpo, loraR: 2, loraAlpha: 4, loraDropout: 0, beta: 0.1, steps: 2, batch: 2, lr: 1e-2, seed: 1, quiet: true });
        assert.equal(al.train.steps, 2);
        assert.deepEqual((await readJson<{ target_modules: string[] }>(path.join(dpo, 'adapter_config.json'))).target_modules, targets);
      });
    });
  }
});
