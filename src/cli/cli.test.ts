// The command line's first steps: every command is there (the older translation spellings too, and
// they run the same actions as `genlab translate …`), the device flags every command shares, where
// `train` writes by default, and `start` reachable from other machines only with a key (or a warning).

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it, mock } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import { init } from '../backend/registry.ts';
import { makeTinyModel } from '../serve/testing/fixtures.ts';
import { exposureWarning, isLoopbackHost } from '../serve/index.ts';
import { defaultTrainOut } from '../train/run.ts';
import { buildCli } from './main.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

function allCommands(c: Command, prefix = ''): [string, Command][] {
  return c.commands.flatMap((s) => [[`${prefix}${s.name()}`, s] as [string, Command], ...allCommands(s, `${prefix}${s.name()} `)]);
}

/** Every command path in the order `--help` lists them. */
const COMMANDS = [
  'info', 'train', 'finetune', 'merge', 'export', 'import', 'align', 'reward', 'reward train', 'generate', 'eval', 'serve', 'start', 'tokenizer', 'tokenizer train',
  'bench', 'bench kernels', 'bench train', 'bench generate', 'bench finetune', 'bench quality', 'bench tokenizer', 'card', 'detect',
  'data', 'data clean', 'data noisy', 'data experiment', 'data translation-pairs',
  'scaling', 'scaling sweep', 'scaling status', 'scaling fit', 'scaling predict', 'scaling verify',
  'translate', 'translate train', 'translate eval', 'translate bleu', 'translate pairs', 'bleu',
];

describe('genlab command line', () => {
  it('has every command, each defined once', () => {
    assert.deepEqual(allCommands(buildCli()).map(([name]) => name), COMMANDS);
  });

  it('every command that takes --backend offers the same backends, native where it builds by default', () => {
    const withBackend = allCommands(buildCli())
      .map(([name, c]) => [name, c.options.find((o) => o.long === '--backend')] as const)
      .filter(([, o]) => o !== undefined);
    const names = withBackend.map(([n]) => n);
    for (const required of ['card', 'detect', 'data experiment', 'train', 'generate', 'serve', 'start', 'translate']) assert.ok(names.includes(required), `${required} takes --backend`);
    for (const [name, o] of withBackend) {
      assert.deepEqual(o!.argChoices, ['native', 'wasm', 'ref'], `${name} --backend choices`);
      assert.match(o!.description, /default: native where it was built, else wasm/, `${name} --backend help`);
    }
  });

  it('train writes models/<preset> unless --out says otherwise', () => {
    const train = buildCli().commands.find((c) => c.name() === 'train')!;
    assert.equal(train.options.find((o) => o.long === '--out')!.defaultValue, undefined);
    assert.equal(defaultTrainOut('tiny'), path.join('models', 'tiny'));
    assert.equal(defaultTrainOut('base'), path.join('models', 'base'));
    assert.equal(defaultTrainOut('configs/gpt2-small.json'), path.join('models', 'gpt2-small'));
  });

  it('serve and start share --host and --api-key', () => {
    const cmds = buildCli().commands;
    for (const name of ['serve', 'start']) {
      const c = cmds.find((x) => x.name() === name)!;
      assert.equal(c.options.find((o) => o.long === '--host')!.defaultValue, '127.0.0.1', `${name} binds loopback by default`);
      assert.ok(c.options.some((o) => o.long === '--api-key'), `${name} takes --api-key`);
    }
  });

  it('warns when a server without a key listens beyond this machine', () => {
    for (const h of ['127.0.0.1', '127.1.2.3', 'localhost', '::1', '[::1]', '::ffff:127.0.0.1']) assert.equal(isLoopbackHost(h), true, h);
    for (const h of ['0.0.0.0', '::', '192.168.1.10', 'example.com', '128.0.0.1']) assert.equal(isLoopbackHost(h), false, h);
    assert.equal(exposureWarning('127.0.0.1', undefined), null);
    assert.equal(exposureWarning('0.0.0.0', 'sk-key'), null);
    assert.match(exposureWarning('0.0.0.0', undefined)!, /listening on 0\.0\.0\.0 without --api-key: anyone who can reach this address can generate text, write feedback and start training runs/);
  });
});

describe('genlab translate and its older spellings', () => {
  let tmp: string;
  before(async () => {
    tmp = await mkdtemp(path.join(os.tmpdir(), 'genlab-cli-'));
  });
  after(() => rm(tmp, { recursive: true, force: true }));

  /** Parses and runs `args` in this process: the error the action threw (null if none) and what it printed. */
  async function run(args: string[]): Promise<{ error: string | null; printed: string[] }> {
    const program = buildCli();
    const noExit = (c: Command): void => {
      c.exitOverride();
      c.commands.forEach(noExit);
    };
    noExit(program);
    const printed: string[] = [];
    const log = mock.method(console, 'log', (...a: unknown[]) => void printed.push(a.join(' ')));
    try {
      await program.parseAsync(args, { from: 'user' });
      return { error: null, printed };
    } catch (err) {
      return { error: (err as Error).message, printed };
    } finally {
      log.mock.restore();
    }
  }

  /** Runs both spellings; they must end the same way, and that way must match `expected`. */
  async function same(older: string[], newer: string[], expected: RegExp): Promise<{ error: string | null; printed: string[] }> {
    const a = await run(older);
    const b = await run(newer);
    assert.deepEqual(a, b, `genlab ${older.join(' ')} and genlab ${newer.join(' ')} differ`);
    assert.match(a.error ?? a.printed.join('\n'), expected);
    return a;
  }

  it('train --task translate hands its flags to translate train', async () => {
    const out = path.join(tmp, 'model');
    // --model reaches the translation trainer (a language-model preset is not a translation preset) …
    await same(
      ['train', '--task', 'translate', '--pairs', path.join(tmp, 'missing.tsv'), '--model', 'tiny', '--out', out, '--backend', 'ref'],
      ['translate', 'train', '--pairs', path.join(tmp, 'missing.tsv'), '--model', 'tiny', '--out', out, '--backend', 'ref'],
      /--model 'tiny' is neither a translation preset \(translate-tiny, translate-small, translate-base\)/,
    );
    // … and so does --pairs.
    await same(
      ['train', '--task', 'translate', '--pairs', path.join(tmp, 'missing.tsv'), '--out', out, '--backend', 'ref'],
      ['translate', 'train', '--pairs', path.join(tmp, 'missing.tsv'), '--out', out, '--backend', 'ref'],
      /cannot read pairs file .*missing\.tsv/,
    );
    // Language-model flags are refused on the older spelling, and unknown on the new one.
    assert.match((await run(['train', '--task', 'translate', '--pairs', 'x.tsv', '--batch', '4'])).error!, /--batch applies to language models; with --task translate use --pairs/);
    assert.match((await run(['translate', 'train', '--pairs', 'x.tsv', '--batch', '4'])).error!, /unknown option '--batch'/);
  });

  it('eval --task translate, bleu and data translation-pairs run translate eval, bleu and pairs', async () => {
    await same(
      ['eval', '--task', 'translate', '--model', path.join(tmp, 'none'), '--pairs', 'x.tsv', '--backend', 'ref'],
      ['translate', 'eval', '--model', path.join(tmp, 'none'), '--pairs', 'x.tsv', '--backend', 'ref'],
      /translation model folder .*none does not exist/,
    );
    const hyp = path.join(tmp, 'hyp.txt');
    const ref = path.join(tmp, 'ref.txt');
    await writeFile(hyp, 'the cat sat on the mat\nit was a bright cold day in april\n');
    await writeFile(ref, 'the cat sat on the mat\nit was a bright cold day in may\n');
    const scored = await same(['bleu', hyp, ref, '--json'], ['translate', 'bleu', hyp, ref, '--json'], /"bleu"/);
    const { bleu, chrf } = JSON.parse(scored.printed[0]!) as { bleu: number; chrf: number };
    assert.ok(bleu > 50 && bleu < 100 && chrf > 50 && chrf < 100, `one word of 15 differs: BLEU ${bleu}, chrF ${chrf}`);
    await same(
      ['data', 'translation-pairs', '--pair', 'en-fr', '--out', tmp],
      ['translate', 'pairs', '--pair', 'en-fr', '--out', tmp],
      /--pair must be one of en-de, de-en, en-es, es-en, got 'en-fr'/,
    );
  });
});

describe('genlab start on another interface', () => {
  let tmp: string;
  let cleanup: () => Promise<void>;
  before(async () => {
    // Random weights are enough to serve; the ref backend keeps this independent of the kernels.
    await init({ backend: 'ref' });
    const tiny = await makeTinyModel({ name: 'tiny' });
    tmp = path.dirname(tiny.dir);
    cleanup = tiny.cleanup;
  });
  after(() => cleanup());

  /** Runs `genlab start` until it is ready; returns what it printed and the status of GET /v1/models without and with the key. */
  async function start(args: string[], key?: string): Promise<{ stderr: string; status: number; withKey: number }> {
    const child = spawn(process.execPath, ['--import', import.meta.resolve('tsx'), path.join(ROOT, 'src/cli/entry.ts'), 'start', '--model', path.join(tmp, 'tiny'), '--port', '0', '--backend', 'ref', ...args], { cwd: tmp, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    try {
      const url = await new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`start did not get ready: ${stdout} ${stderr}`)), 60_000);
        child.stdout.on('data', () => {
          const m = /open (http:\/\/\S+)/.exec(stdout);
          if (m) {
            clearTimeout(timer);
            resolve(m[1]!);
          }
        });
        child.on('exit', (code) => reject(new Error(`start exited with ${code}: ${stderr}`)));
      });
      const status = (await fetch(`${url}/v1/models`)).status;
      const withKey = (await fetch(`${url}/v1/models`, { headers: { authorization: `Bearer ${key ?? ''}` } })).status;
      return { stderr, status, withKey };
    } finally {
      child.kill();
    }
  }

  it('without --api-key it warns; with one, the API needs the key and nothing is printed', async () => {
    const open = await start(['--host', '0.0.0.0']);
    assert.match(open.stderr, /warning: listening on 0\.0\.0\.0 without --api-key/);
    assert.equal(open.status, 200);
    const locked = await start(['--host', '0.0.0.0', '--api-key', 'sk-test'], 'sk-test');
    assert.doesNotMatch(locked.stderr, /warning/);
    assert.deepEqual([locked.status, locked.withKey], [401, 200]);
    const local = await start([]);
    assert.doesNotMatch(local.stderr, /warning/);
  });
});
