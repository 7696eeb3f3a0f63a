// Train a two-layer MLP on XOR with genlab's engine: tensors, ops, autograd, AdamW.
import { AdamW, Linear, Rng, backward, init, mean, mul, sub, tanh, tensor } from 'genlab';

const device = await init(); // wasm SIMD kernels on all cores
const rng = new Rng(0);
const hidden = new Linear(2, 8, { rng, std: 1 });
const out = new Linear(8, 1, { rng, std: 1 });
const opt = new AdamW([...hidden.parameters(), ...out.parameters()], { lr: 0.05, weightDecay: 0 });

const x = tensor([[0, 0], [0, 1], [1, 0], [1, 1]]);
const y = tensor([[0], [1], [1], [0]]);
for (let step = 0; step <= 300; step++) {
  opt.zeroGrad();
  const loss = device.scope(() => {
    const err = sub(out.forward(tanh(hidden.forward(x))), y); // (4, 1)
    const l = mean(mul(err, err));
    backward(l);
    return l.item(); // tensors made inside a scope are recycled when it ends
  });
  opt.update();
  if (step % 100 === 0) console.log(`step ${step}  loss ${loss.toFixed(4)}`);
}
console.log(out.forward(tanh(hidden.forward(x))).toArray()); // ≈ [0, 1, 1, 0]
await device.close();
