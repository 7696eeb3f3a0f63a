import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { test } from 'node:test';
import { placeholderFields, progressBar } from './progress.ts';

function fakeTerminal(): { stream: PassThrough & { isTTY: boolean; columns: number }; text: () => string } {
  const stream = Object.assign(new PassThrough(), { isTTY: true, columns: 120 });
  const chunks: Buffer[] = [];
  stream.on('data', (c: Buffer) => chunks.push(c));
  return { stream, text: () => Buffer.concat(chunks).toString('utf8') };
}

test('placeholderFields names every field of the format', () => {
  assert.deepEqual(placeholderFields('{done} of {size} | {rate}'), { done: '–', size: '–', rate: '–' });
  assert.deepEqual(placeholderFields(''), {});
});

test('on a terminal the first frame shows no raw {field} placeholders', () => {
  const t = fakeTerminal();
  const bar = progressBar(10, 'fetch', '{done} of {size} | {rate}', { stream: t.stream, initial: { size: '5 MB' } });
  const first = t.text();
  bar.stop();
  assert.match(first, /fetch \[/, 'the bar drew a frame at start');
  assert.doesNotMatch(first, /\{(done|size|rate)\}/);
  assert.match(first, /– of 5 MB \| –/);
});

test('off a terminal progress goes out as plain lines with the fields', () => {
  const chunks: string[] = [];
  const stream = Object.assign(new PassThrough(), { isTTY: false });
  stream.on('data', (c: Buffer) => chunks.push(c.toString()));
  const bar = progressBar(4, 'eval', '{loss}', { stream });
  bar.update(4, { loss: 1.5 });
  bar.stop();
  assert.match(chunks.join(''), /^eval 4\/4 \(100%\) \d+s elapsed, ETA 0s loss=1\.5\n$/);
});
