import assert from 'node:assert/strict';
import { it } from 'node:test';
import { renderChart } from './charts.ts';

it('renders a log-scale line chart to SVG, PNG and HTML', () => {
  const r = renderChart({ xAxis: { type: 'log', name: 'compute' }, yAxis: { type: 'value', name: 'loss' }, series: [{ type: 'line', data: [[1e15, 5], [1e16, 4.2], [1e17, 3.7]] }] }, { title: 'loss vs compute' });
  assert.match(r.svg, /^<svg[\s\S]*<\/svg>$/);
  assert.match(r.svg, /compute/);
  assert.deepEqual([...r.png.subarray(1, 4)], [0x50, 0x4e, 0x47]); // "PNG"
  assert.ok(r.png.length > 2000);
  assert.match(r.html, /<title>loss vs compute<\/title>/);
});
