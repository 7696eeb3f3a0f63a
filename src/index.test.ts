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
