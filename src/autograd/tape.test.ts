import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Device } from '../backend/device.ts';
import { createRefBackend } from '../backend/ref/ref-backend.ts';
import { mul } from '../ops/elementwise.ts';
import { sum } from '../ops/reduce.ts';
import { detach } from '../ops/views.ts';
import { nodesCreated } from './tape.ts';
import { tensorsCreated, empty } from '../tensor/tensor.ts';
import { gradcheck } from './gradcheck.ts';
import { backward } from './tape.ts';
import * as reduce from '../ops/reduce.ts';

const dev = new Device(createRefBackend());
const param = (values: number[]) => {
  const t = empty(dev, [values.length]).set(values);
  t.requiresGrad = true;
  return t;
};

describe('autograd', () => {
  it('gradcheck catches a wrong gradient', () => {
    // d(x·x)/dx = 2x, but detaching one factor makes backward report only x.
    const x = param([0.5, -1.25, 2]);
    const r = gradcheck((t) => mul(detach(t!), t!), [x]);
    assert.equal(r.ok, false);
    assert.ok(r.worst && Math.abs(r.worst.numeric - 2 * r.worst.analytic) < 1e-2);
  });

  it('a tensor used twice receives both contributions', () => {
    const x = param([1, 2, 3]);
    backward(reduce.sum(mul(x, x)));
    assert.deepEqual(Array.from(x.grad!.toArray()), [2, 4, 6]);
  });

  it('backward without a graph explains what is wrong', () => {
    const x = empty(dev, [2]).set([1, 2]);
    assert.throws(() => backward(sum(x)), /does not depend on anything that requires a gradient/);
  });

  it('a scoped step reuses tensors, nodes and memory once warm', () => {
    const w = param([0.1, 0.2, 0.3, 0.4]);
    const step = () =>
      dev.scope(() => {
        const y = mul(w, w);
        const loss = reduce.mean(mul(y, w));
        backward(loss);
        return loss.item();
      });
    step();
    step();
    const t0 = tensorsCreated;
    const n0 = nodesCreated;
    const s0 = dev.storagesCreated;
    const peak0 = dev.memoryStats().arenaPeakBytes;
    for (let i = 0; i < 5; i++) step();
    assert.equal(tensorsCreated, t0, 'no new Tensor objects in steady state');
    assert.equal(nodesCreated, n0, 'no new graph nodes in steady state');
    assert.equal(dev.storagesCreated, s0, 'no new storage blocks in steady state');
    assert.equal(dev.memoryStats().arenaPeakBytes, peak0);
    assert.ok(peak0 > 0);
  });
});
