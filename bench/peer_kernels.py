#!/usr/bin/env python3
"""PyTorch peer for `genlab bench kernels`: times the same kernels on the same shapes.

Usage: peer_kernels.py '<json list of cases>'
Each case: {"id", "op", "threads", "flops", ...shape fields}; prints {"info": {"torch", "blas"}}
first, then one JSON object per case: {"id", "gflops"}. Timing matches the TypeScript side: warm up, repeat until >= min_time seconds
(and >= 3 runs), report the best run. Run with OPENBLAS_CORETYPE=SkylakeX on this machine.
"""

import json
import math
import os
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(__file__))
from peer_threads import set_threads  # noqa: E402


def best_time(run, setup=None, min_time=0.3):
    """Best wall time of run(state) over repeats; setup() (untimed) makes a fresh state."""
    state = setup() if setup else None
    run(state)
    best = math.inf
    total = 0.0
    reps = 0
    while total < min_time or reps < 3:
        if setup:
            state = setup()
        t0 = time.perf_counter()
        run(state)
        dt = time.perf_counter() - t0
        best = min(best, dt)
        total += dt
        reps += 1
    return best


def matmul_case(c, min_time):
    m, n, k = c["m"], c["n"], c["k"]
    # op(A) is m×k, op(B) is k×n; transposed operands are stored the other way round, as ours.
    a = torch.randn(k, m).t() if c["transA"] else torch.randn(m, k)
    b = torch.randn(n, k).t() if c["transB"] else torch.randn(k, n)
    out = torch.zeros(m, n)
    if c.get("accumulate"):
        return best_time(lambda _: out.addmm_(a, b), min_time=min_time)
    return best_time(lambda _: torch.matmul(a, b, out=out), min_time=min_time)


def attention_inputs(c, requires_grad):
    bsz, heads, t, d = c["batch"], c["heads"], c["t"], c["headDim"]
    # packed (B, T, 3, H, D) as a fused qkv projection writes it
    qkv = torch.randn(bsz, t, 3, heads, d)
    q, k, v = (qkv[:, :, i].transpose(1, 2) for i in range(3))
    if requires_grad:
        q, k, v = (x.detach().clone().requires_grad_(True) for x in (q, k, v))
    return q, k, v


def attention(q, k, v):
    t = q.shape[-2]
    scores = (q @ k.transpose(-1, -2)) * (1.0 / math.sqrt(q.shape[-1]))
    mask = torch.ones(t, t, dtype=torch.bool).triu(1)
    return torch.softmax(scores.masked_fill(mask, float("-inf")), dim=-1) @ v


def attention_case(c, min_time):
    if c["op"] == "attention fwd":
        q, k, v = attention_inputs(c, False)

        def run(_):
            with torch.no_grad():
                attention(q, k, v)

        return best_time(run, min_time=min_time)
    q, k, v = attention_inputs(c, True)
    grad = torch.randn(c["batch"], c["heads"], c["t"], c["headDim"])

    def setup():
        return attention(q, k, v)

    def run(out):
        out.backward(grad)

    return best_time(run, setup, min_time)


def layer_norm_case(c, min_time):
    rows, dim = c["rows"], c["dim"]
    x = torch.randn(rows, dim)
    w = torch.randn(dim)
    b = torch.randn(dim)
    if c["op"] == "layerNorm fwd":

        def run(_):
            with torch.no_grad():
                F.layer_norm(x, (dim,), w, b)

        return best_time(run, min_time=min_time)
    xg, wg, bg = (t.clone().requires_grad_(True) for t in (x, w, b))
    grad = torch.randn(rows, dim)

    def setup():
        return F.layer_norm(xg, (dim,), wg, bg)

    def run(y):
        y.backward(grad)

    return best_time(run, setup, min_time)


def blas_libraries():
    """The BLAS shared objects this process loaded (Debian's torch uses whichever libblas.so.3
    the alternatives system points at: the reference BLAS is ~25x slower than OpenBLAS)."""
    torch.randn(8, 8) @ torch.randn(8, 8)
    try:
        with open("/proc/self/maps") as f:
            paths = {line.split()[-1] for line in f if "blas" in line.lower() and "/" in line}
    except OSError:
        return []
    return sorted(os.path.realpath(p) for p in paths)


def main():
    cases = json.loads(sys.argv[1])
    min_time = float(sys.argv[2]) if len(sys.argv) > 2 else 0.3
    torch.manual_seed(0)
    print(json.dumps({"info": {"torch": torch.__version__, "blas": blas_libraries()}}), flush=True)
    for c in cases:
        set_threads(int(c["threads"]))
        op = c["op"]
        if op.startswith("matmul"):
            t = matmul_case(c, min_time)
        elif op.startswith("attention"):
            t = attention_case(c, min_time)
        elif op.startswith("layerNorm"):
            t = layer_norm_case(c, min_time)
        else:
            print(json.dumps({"id": c["id"], "error": f"unknown op {op}"}), flush=True)
            continue
        print(json.dumps({"id": c["id"], "gflops": c["flops"] / t / 1e9}), flush=True)


if __name__ == "__main__":
    main()
