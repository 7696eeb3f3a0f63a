"""PyTorch peer for `genlab bench train` / `bench generate`: the same GPT-2 and Llama shapes, timed the same
way (warm-up, then median of runs). Prints one JSON object per config on stdout.
Usage: peer_train.py train|generate '<json list of configs>' THREADS"""

import json
import os
import statistics
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "scripts"))
sys.path.insert(0, os.path.dirname(__file__))
from gpt_reference import Gpt2, init_params  # noqa: E402
from peer_llama import build_llama  # noqa: E402
from peer_threads import set_threads  # noqa: E402


def hf_config(c):
    return {"vocab_size": c["vocabSize"], "n_positions": c["nPositions"], "n_embd": c["nEmbd"], "n_layer": c["nLayer"],
            "n_head": c["nHead"], "n_inner": None, "layer_norm_epsilon": 1e-5}


def build(c):
    """The config's model: Llama-shaped when it carries a "llama" entry, else GPT-2."""
    if c.get("llama"):
        return build_llama(c)
    cfg = hf_config(c)
    return CachedGpt2(cfg, init_params(cfg, 0))


def bench_train(c, steps):
    model = build(c)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4, betas=(0.9, 0.95), weight_decay=0.1)
    B, T = c["batch"], c["seqLen"]
    ids = torch.randint(0, c["vocabSize"], (B, T))
    tgt = torch.randint(0, c["vocabSize"], (B, T))

    def step():
        opt.zero_grad(set_to_none=True)
        _, loss = model(ids, tgt)
        loss.backward()
        opt.step()

    for _ in range(2):
        step()
    times = []
    for _ in range(steps):
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
    return {"config": c["name"], "tokens_per_s": B * T / statistics.median(times)}


class CachedGpt2(Gpt2):
    """Greedy decoding with a KV cache (the same math as Gpt2.forward, one position at a time)."""

    @torch.no_grad()
    def decode(self, prompt, n_new):
        c = self.c
        C, H = c["n_embd"], c["n_head"]
        D = C // H
        eps = c["layer_norm_epsilon"]
        F = torch.nn.functional
        ks = [None] * c["n_layer"]
        vs = [None] * c["n_layer"]
        ids = prompt
        pos = 0
        out = []
        for _ in range(n_new + 1):
            T = ids.shape[1]
            x = self.w("wte.weight")[ids] + self.w("wpe.weight")[pos : pos + T]
            for i in range(c["n_layer"]):
                p = f"h.{i}."
                h = F.layer_norm(x, (C,), self.w(p + "ln_1.weight"), self.w(p + "ln_1.bias"), eps)
                q, k, v = (h @ self.w(p + "attn.c_attn.weight") + self.w(p + "attn.c_attn.bias")).split(C, dim=2)
                q, k, v = (t.view(1, T, H, D).transpose(1, 2) for t in (q, k, v))
                ks[i] = k if ks[i] is None else torch.cat([ks[i], k], 2)
                vs[i] = v if vs[i] is None else torch.cat([vs[i], v], 2)
                att = (q @ ks[i].transpose(-2, -1)) / (D ** 0.5)
                if T > 1:
                    att = att.masked_fill(~torch.tril(torch.ones(T, T, dtype=torch.bool)), float("-inf"))
                y = (att.softmax(-1) @ vs[i]).transpose(1, 2).reshape(1, T, C)
                x = x + y @ self.w(p + "attn.c_proj.weight") + self.w(p + "attn.c_proj.bias")
                h = F.layer_norm(x, (C,), self.w(p + "ln_2.weight"), self.w(p + "ln_2.bias"), eps)
                x = x + F.gelu(h @ self.w(p + "mlp.c_fc.weight") + self.w(p + "mlp.c_fc.bias"), approximate="tanh") @ self.w(p + "mlp.c_proj.weight") + self.w(p + "mlp.c_proj.bias")
            x = F.layer_norm(x[:, -1:], (C,), self.w("ln_f.weight"), self.w("ln_f.bias"), eps)
            nxt = (x @ self.w("wte.weight").t()).argmax(-1)
            pos += T
            ids = nxt
            out.append(int(nxt))
        return out


def bench_generate(c, n_new):
    model = build(c)
    prompt = torch.randint(0, c["vocabSize"], (1, c["seqLen"]))
    model.decode(prompt, 32)
    t0 = time.perf_counter()
    model.decode(prompt, n_new)
    return {"config": c["name"], "tokens_per_s": n_new / (time.perf_counter() - t0)}


def main():
    mode, configs, threads = sys.argv[1], json.loads(sys.argv[2]), int(sys.argv[3])
    set_threads(threads)
    torch.manual_seed(0)
    for c in configs:
        r = bench_train(c, c.get("steps", 5)) if mode == "train" else bench_generate(c, c.get("tokens", 64))
        r["threads"] = threads
        print(json.dumps(r), flush=True)


if __name__ == "__main__":
    main()
