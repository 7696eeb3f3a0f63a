"""PyTorch peer of `genlab bench quality`: trains the same GPT-2 shape on the same token shards for
the same wall-clock budget (AdamW β=(0.9, 0.95), weight decay 0.1 on matrices, clip 1.0, linear
warmup then constant LR), then reports the validation loss on the same sequential windows.
Usage: peer_quality.py '<json spec>'  (printed JSON: steps, tokens, val_loss, seconds)"""

import json
import os
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "scripts"))
sys.path.insert(0, os.path.dirname(__file__))
from gpt_reference import Gpt2, init_params  # noqa: E402
from peer_threads import set_threads  # noqa: E402


def read_shards(files):
    parts = []
    for f in files:
        header = np.fromfile(f, dtype=np.int32, count=256)
        n = int(header[2])
        dtype = np.uint16 if header[1] == 1 else np.uint32
        parts.append(np.fromfile(f, dtype=dtype, count=n, offset=1024).astype(np.int64))
    return torch.from_numpy(np.concatenate(parts))


def main():
    spec = json.loads(sys.argv[1])
    set_threads(spec["threads"])
    torch.manual_seed(spec["seed"])
    c = spec["config"]
    cfg = {"vocab_size": c["vocabSize"], "n_positions": c["nPositions"], "n_embd": c["nEmbd"], "n_layer": c["nLayer"],
           "n_head": c["nHead"], "n_inner": None, "layer_norm_epsilon": 1e-5}
    model = Gpt2(cfg, init_params(cfg, spec["seed"]))
    decay = [p for p in model.parameters() if p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1}, {"params": no_decay, "weight_decay": 0.0}], lr=spec["lr"], betas=(0.9, 0.95))
    train = read_shards(spec["train"])
    val = read_shards(spec["val"])
    B, T = spec["batch"], spec["seqLen"]
    g = torch.Generator().manual_seed(spec["seed"])
    start = time.perf_counter()
    step = 0
    while time.perf_counter() - start < spec["seconds"]:
        lr = spec["lr"] * min(1.0, (step + 1) / spec["warmup"])
        for group in opt.param_groups:
            group["lr"] = lr
        ix = torch.randint(0, len(train) - T - 1, (B,), generator=g)
        x = torch.stack([train[i : i + T] for i in ix])
        y = torch.stack([train[i + 1 : i + T + 1] for i in ix])
        opt.zero_grad(set_to_none=True)
        _, loss = model(x, y)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        step += 1
    seconds = time.perf_counter() - start
    with torch.no_grad():
        EB = spec["evalBatch"]
        losses = []
        for k in range(spec["evalBatches"]):
            rows = [val[(k * EB + r) * T : (k * EB + r) * T + T + 1] for r in range(EB)]
            if any(len(r) < T + 1 for r in rows):
                break
            w = torch.stack(rows)
            _, l = model(w[:, :-1], w[:, 1:])
            losses.append(l.item())
    print(json.dumps({"steps": step, "tokens": step * B * T, "val_loss": sum(losses) / len(losses), "seconds": seconds}), flush=True)


if __name__ == "__main__":
    main()
