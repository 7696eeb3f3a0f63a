// Per-call cost of a change: `genlab bench kernels`, `bench train` and `bench generate` on a base
// commit and on HEAD (or the working tree) in one run, alternating which goes first each round,
// then the median of each metric per side, head/base ratios and the median ratio per bench.
//
//   node --import tsx bench/compare-commits.ts [--base REV] [--head REV|.] [--rounds N]
//        [--benches kernels,train,generate] [--kernels-args="..."] [--train-args="..."]
//        [--generate-args="..."] [--threshold 0.03] [--no-build-head] [--keep]
//
// The base (default HEAD~1) is checked out as a detached git worktree in a temporary folder that
// shares this checkout's node_modules; its wasm kernels and native addon are built there with its
// own scripts. --head . (the default) measures this checkout as it is (built first unless
// --no-build-head); --head REV measures another worktree. The PyTorch peers are switched off: their
// numbers are not compared here and would only add minutes. Exits 1 when a bench's median ratio is
// below 1 − threshold.

import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '..');

const DEFAULT_ARGS: Record<Bench, string> = {
  kernels: '--quick --backends native,wasm --threads 1,2',
  train: '--configs a,b --threads 2 --no-peer',
  generate: '--configs b --threads 1 --no-peer',
};

type Bench = 'kernels' | 'train' | 'generate';
const BENCHES: readonly Bench[] = ['kernels', 'train', 'generate'];

// Makes /usr/bin/python3 look torch-less to the benches (torchAvailable() in src/bench/peer.ts runs
// it through execFileSync), in the base as well, whose CLI may have no --no-peer for every bench.
const PEER_OFF = `data:text/javascript,${encodeURIComponent(`
import cp from 'node:child_process';
import { syncBuiltinESMExports } from 'node:module';
const run = cp.execFileSync;
cp.execFileSync = (file, ...rest) => {
  if (file === '/usr/bin/python3') throw new Error('the PyTorch peer is off in compare-commits');
  return run(file, ...rest);
};
syncBuiltinESMExports();`)}`;

interface Side {
  label: string;
  dir: string;
  rev: string;
  worktree: boolean;
}

/** One measured quantity of one bench row; higher is better for all of them. */
interface Sample {
  bench: Bench;
  key: string;
  value: number;
  path: string;
}

class Failure extends Error {}

/** Bad arguments: nothing was created yet, so exit right away. */
function usage(message: string): never {
  console.error(`compare-commits: ${message}`);
  process.exit(2);
}

function fail(message: string): never {
  throw new Failure(`compare-commits: ${message}`);
}

function git(args: string[], cwd = root): string {
  const r = spawnSync('git', args, { cwd, encoding: 'utf8' });
  if (r.status !== 0) fail(`git ${args.join(' ')} failed: ${r.stderr.trim()}`);
  return r.stdout.trim();
}

function run(cmd: string, args: string[], cwd: string, what: string): string {
  const env = { ...process.env };
  delete env['GENLAB_NATIVE_ADDON'];
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', env, maxBuffer: 64 << 20 });
  if (r.status !== 0) fail(`${what} failed in ${cwd} (exit ${r.status ?? r.signal}):\n${r.stdout}${r.stderr}`);
  return r.stdout;
}

function build(side: Side): void {
  console.log(`building ${side.label} (${side.rev}) in ${side.dir} ...`);
  run(process.execPath, ['scripts/build-kernels.js'], side.dir, 'build-kernels');
  const native = run(process.execPath, ['scripts/build-native.js'], side.dir, 'build-native');
  if (/not built/.test(native)) console.log(`  ${native.trim()}`);
}

function worktree(rev: string, label: string, parent: string): Side {
  const sha = git(['rev-parse', '--verify', `${rev}^{commit}`]);
  const dir = path.join(parent, label);
  git(['worktree', 'add', '--detach', dir, sha]);
  symlinkSync(path.join(root, 'node_modules'), path.join(dir, 'node_modules'), 'dir');
  return { label, dir, rev: `${rev} = ${sha.slice(0, 10)}`, worktree: true };
}

/** Rows of one `genlab bench <bench> --json` run as samples. */
function measure(side: Side, bench: Bench, extra: string): Sample[] {
  const args = ['--import', PEER_OFF, '--import', 'tsx', 'src/cli/entry.ts', 'bench', bench, '--json', ...extra.split(/\s+/).filter(Boolean)];
  const out = run(process.execPath, args, side.dir, `genlab bench ${bench}`);
  const samples: Sample[] = [];
  for (const line of out.split('\n')) {
    if (!line.startsWith('{')) continue;
    const r = JSON.parse(line) as Record<string, unknown>;
    if (typeof r['gflops'] === 'number') {
      const kernelPath = `${String(r['backend'])} ${String(r['isa'] ?? r['variant'] ?? '')}`.trim();
      const precision = r['precision'] && r['precision'] !== 'fp32' ? ` ${String(r['precision'])}${r['bf16Kernel'] ? `/${String(r['bf16Kernel'])}` : ''}` : '';
      samples.push({ bench, key: `${String(r['op'])} ${String(r['shape'])} ${kernelPath}${precision} ×${String(r['threads'])}`, value: r['gflops'], path: kernelPath });
    } else if (typeof r['tokens_per_s'] === 'number' && typeof r['config'] === 'string' && typeof r['backend'] === 'string') {
      samples.push({ bench, key: `${bench} ${r['config']} ${r['backend']} ${String(r['precision'])} ×${String(r['threads'])}`, value: r['tokens_per_s'], path: r['backend'] });
    }
  }
  if (samples.length === 0) fail(`genlab bench ${bench} printed no JSON rows in ${side.dir}:\n${out}`);
  return samples;
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

const { values: opts } = parseArgs({
  options: {
    base: { type: 'string', default: 'HEAD~1' },
    head: { type: 'string', default: '.' },
    rounds: { type: 'string', default: '3' },
    benches: { type: 'string', default: BENCHES.join(',') },
    'kernels-args': { type: 'string', default: DEFAULT_ARGS.kernels },
    'train-args': { type: 'string', default: DEFAULT_ARGS.train },
    'generate-args': { type: 'string', default: DEFAULT_ARGS.generate },
    threshold: { type: 'string', default: '0.03' },
    'no-build-head': { type: 'boolean', default: false },
    keep: { type: 'boolean', default: false },
  },
});
const rounds = Number(opts.rounds);
if (!Number.isInteger(rounds) || rounds < 1) usage(`--rounds must be a positive integer, got '${opts.rounds}'`);
const threshold = Number(opts.threshold);
if (!(threshold >= 0 && threshold < 1)) usage(`--threshold must be a fraction in [0, 1), got '${opts.threshold}'`);
const benches = opts.benches.split(',').map((b) => b.trim()) as Bench[];
for (const b of benches) if (!BENCHES.includes(b)) usage(`--benches: unknown bench '${b}'; choose from ${BENCHES.join(', ')}`);
const benchArgs: Record<Bench, string> = { kernels: opts['kernels-args'], train: opts['train-args'], generate: opts['generate-args'] };

const parent = mkdtempSync(path.join(tmpdir(), 'genlab-compare-'));
const sides: Side[] = [];
try {
  compare();
} catch (err) {
  if (!(err instanceof Failure)) throw err;
  console.error(err.message);
  process.exitCode = 2;
} finally {
  if (opts.keep) console.log(`\nworktrees kept in ${parent} (remove with \`git worktree remove --force DIR\`)`);
  else {
    for (const side of sides) if (side.worktree) spawnSync('git', ['worktree', 'remove', '--force', side.dir], { cwd: root });
    rmSync(parent, { recursive: true, force: true });
  }
}

function compare(): void {
  sides.push(worktree(opts.base, 'base', parent));
  if (opts.head === '.') {
    const dirty = git(['status', '--porcelain', '--untracked-files=no']) !== '';
    sides.push({ label: 'head', dir: root, rev: `working tree at ${git(['rev-parse', '--short=10', 'HEAD'])}${dirty ? ' (uncommitted changes)' : ''}`, worktree: false });
  } else {
    sides.push(worktree(opts.head, 'head', parent));
  }
  for (const side of sides) if (side.worktree || !opts['no-build-head']) build(side);

  const samples = new Map<Side, Sample[]>(sides.map((s) => [s, []]));
  for (let r = 0; r < rounds; r++) {
    for (const bench of benches) {
      // Alternate the order, so neither side always runs on a machine the other just warmed up.
      for (const side of r % 2 === 0 ? sides : [...sides].reverse()) {
        const t0 = performance.now();
        samples.get(side)!.push(...measure(side, bench, benchArgs[bench]));
        console.log(`round ${r + 1}/${rounds} bench ${bench} ${side.label}: ${((performance.now() - t0) / 1000).toFixed(1)} s`);
      }
    }
  }

  const [base, head] = sides as [Side, Side];
  const cpu = cpus();
  console.log(`\nCPU: ${cpu[0]?.model ?? 'unknown'} (${cpu.length} logical cores), Node ${process.version}`);
  console.log(`base: ${base.rev}\nhead: ${head.rev}`);
  console.log(`kernel paths: ${[...new Set(samples.get(head)!.map((s) => s.path))].join(', ')}; ${rounds} round(s), medians, higher is better`);
  let worst = Infinity;
  for (const bench of benches) {
    const keys = [...new Set(samples.get(head)!.filter((s) => s.bench === bench).map((s) => s.key))];
    const ratios: number[] = [];
    console.log(`\nbench ${bench} (${benchArgs[bench]})`);
    for (const key of keys) {
      const of = (side: Side) => samples.get(side)!.filter((s) => s.bench === bench && s.key === key).map((s) => s.value);
      const b = of(base);
      const h = of(head);
      if (b.length === 0) {
        console.log(`  ${key.padEnd(56)} only on head`);
        continue;
      }
      const ratio = median(h) / median(b);
      ratios.push(ratio);
      console.log(`  ${key.padEnd(56)} base ${median(b).toPrecision(5).padStart(9)}  head ${median(h).toPrecision(5).padStart(9)}  ratio ${ratio.toFixed(3)}`);
    }
    const m = ratios.length > 0 ? median(ratios) : NaN;
    worst = Math.min(worst, m);
    const verdict = m >= 1 - threshold ? 'ok' : `REGRESSION (more than ${(threshold * 100).toFixed(1)}% slower)`;
    console.log(`  median ratio head/base over ${ratios.length} rows: ${m.toFixed(3)}  ${verdict}`);
  }
  process.exitCode = worst >= 1 - threshold ? 0 : 1;
}
