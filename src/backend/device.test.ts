import assert from 'node:assert/strict';
import { it } from 'node:test';
import { Device } from './device.ts';
import { createRefBackend } from './ref/ref-backend.ts';

it('blocks freed at the top of the heap are given back, so a scope spill and its arena do not add up', () => {
  const dev = new Device(createRefBackend());
  const a = dev.allocStorage(1000);
  const b = dev.allocStorage(5000);
  const c = dev.allocStorage(3000);
  dev.freeStorage(b); // in the middle: stays in a free list
  dev.freeStorage(c); // at the top: gives back c, then b below it
  const d = dev.allocStorage(8000);
  assert.equal(d.ptr, b.ptr, 'the 8000-element block reuses the space of b and c');
  // A scope's first step spills to the heap; its arena then takes the same space.
  const peak0 = dev.memoryStats().totalBytes;
  for (let i = 0; i < 3; i++) dev.scope(() => { for (let j = 0; j < 50; j++) dev.allocStorage(100_000); });
  const stats = dev.memoryStats();
  assert.ok(stats.arenaPeakBytes >= 50 * 100_000 * 4);
  assert.ok(stats.heapPeakBytes < 1.25 * (stats.arenaPeakBytes + 9000 * 4), `heap peak ${stats.heapPeakBytes} vs arena ${stats.arenaPeakBytes}`);
  assert.ok(stats.totalBytes - peak0 < 1.3 * stats.arenaPeakBytes, 'memory grew by about one arena, not two');
  void a;
});

it('large free blocks merge with their neighbours and are split for later allocations', () => {
  const dev = new Device(createRefBackend());
  const parts = [0, 1, 2, 3].map(() => dev.allocStorage(100_000));
  const guard = dev.allocStorage(16); // keeps the freed blocks off the top
  for (const p of parts) dev.freeStorage(p);
  const big = dev.allocStorage(350_000); // fits only in the merged 400,000
  assert.equal(big.ptr, parts[0]!.ptr);
  const rest = dev.allocStorage(50_000); // the remainder after the split
  assert.equal(rest.ptr, parts[0]!.ptr + 350_000);
  void guard;
});
