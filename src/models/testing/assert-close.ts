// Element-wise closeness against a PyTorch fixture, reporting the worst element in tolerances.

import assert from 'node:assert/strict';

/** Every |actual − want| ≤ atol + rtol·|want|; the message names the worst element. */
export function assertClose(label: string, actual: ArrayLike<number>, want: ArrayLike<number>, rtol: number, atol: number): void {
  assert.equal(actual.length, want.length, `${label}: length`);
  let worst = 0;
  let at = -1;
  for (let i = 0; i < want.length; i++) {
    const err = Math.abs(actual[i]! - want[i]!) / (atol + rtol * Math.abs(want[i]!));
    if (!(err <= worst)) {
      worst = err;
      at = i;
    }
  }
  assert.ok(worst <= 1, `${label}: element ${at} is ${actual[at]}, PyTorch has ${want[at]} (error ${worst.toFixed(2)}× tolerance)`);
}
