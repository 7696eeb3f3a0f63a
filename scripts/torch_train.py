#!/usr/bin/env python3
"""genlab's PyTorch training engine: continues (or starts) a `genlab train` run in PyTorch.

`genlab train --engine torch [--nproc N]` writes a plan (OUT/checkpoint/torch-plan.json: the model
config, the flat parameter layout, the token shards, the loader, schedule and optimizer settings)
and runs this script under torchrun. The script trains the same GPT-2 on the same batches with the
same schedule, AdamW, clipping, gradient accumulation and loss-spike guard as src/train/loop.ts,
reading and writing genlab's checkpoint (OUT/checkpoint/state.safetensors: flat params, adam.m,
adam.v and genlab's metadata, the data loader's position among it) and appending to
OUT/metrics.jsonl, so either engine resumes the other's checkpoint. genlab writes the Hugging Face
folder and run.json from the checkpoint afterwards.

  python3 torch_train.py --plan PLAN --nproc N     launch N processes through torchrun's launcher
  torchrun --nproc_per_node N torch_train.py --plan PLAN   the same, from torchrun itself
  python3 torch_train.py --plan PLAN               one process, no process group
  ... --stop-at STEP                                pause there with a checkpoint (the schedule still runs to the plan's steps)

With N processes (DistributedDataParallel, gloo on CPU, nccl on GPUs) every optimizer step still
takes the plan's whole batch: each process takes batch/N of its rows, and DDP averages the
gradients. Needs only torch and numpy.
"""

import time

PROCESS_START = time.perf_counter()  # before torch's import, which takes a while: the energy estimate counts it

import argparse
import contextlib
import json
import math
import os
import platform
import re
import resource
import signal
import socket
import struct
import sys

import numpy as np
import torch
import torch.nn.functional as F

PLAN_FORMAT = "genlab-torch-plan/1"
MASK32 = 0xFFFFFFFF


def fail(message):
    print(f"genlab torch engine: {message}", file=sys.stderr, flush=True)
    sys.exit(1)


def finite_or_none(x):
    """JSON has no NaN or Infinity (genlab's JSON.parse would refuse them): write null."""
    return x if isinstance(x, (int, float)) and math.isfinite(x) else None


def dumps(obj):
    def clean(o):
        if isinstance(o, float):
            return finite_or_none(o)
        if isinstance(o, dict):
            return {k: clean(v) for k, v in o.items()}
        if isinstance(o, (list, tuple)):
            return [clean(v) for v in o]
        return o

    return json.dumps(clean(obj), separators=(",", ":"), allow_nan=False)


# ---- checkpoint: safetensors with the three F32 regions and genlab's metadata ------------------

CHECKPOINT_TENSORS = ("params", "adam.m", "adam.v")


def read_checkpoint(path):
    try:
        f = open(path, "rb")
    except OSError as e:
        fail(f"cannot open the checkpoint {path}: {e.strerror}; start the run with `genlab train` (or without --resume) first")
    with f:
        raw = f.read(8)
        if len(raw) < 8:
            fail(f"{path} is too short to be a safetensors file")
        (n,) = struct.unpack("<Q", raw)
        header = json.loads(f.read(n))
        base = 8 + n
        meta = json.loads(header.get("__metadata__", {}).get("genlab", "null"))
        if not isinstance(meta, dict):
            fail(f"{path} has no genlab metadata; it is not a genlab checkpoint")
        out = {}
        for name in CHECKPOINT_TENSORS:
            info = header.get(name)
            if info is None or info.get("dtype") != "F32":
                fail(f"{path} has no F32 tensor '{name}'; it is not a genlab checkpoint")
            a, b = info["data_offsets"]
            f.seek(base + a)
            out[name] = np.fromfile(f, dtype="<f4", count=(b - a) // 4)
    return out, meta


def write_checkpoint(path, arrays, meta):
    """Atomically: a temporary file in the same folder, fsynced, then renamed over the old one."""
    header = {}
    offset = 0
    for name in CHECKPOINT_TENSORS:
        nbytes = arrays[name].size * 4
        header[name] = {"dtype": "F32", "shape": [int(arrays[name].size)], "data_offsets": [offset, offset + nbytes]}
        offset += nbytes
    header["__metadata__"] = {"genlab": dumps(meta)}
    raw = json.dumps(header, separators=(",", ":")).encode()
    raw += b" " * (-len(raw) % 8)
    tmp = f"{path}.tmp-{os.getpid()}"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(raw)))
        f.write(raw)
        for name in CHECKPOINT_TENSORS:
            f.write(np.ascontiguousarray(arrays[name], dtype="<f4").tobytes())
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


# ---- token shards (src/data/shards.ts: llm.c's 256-int32 header, then uint16 or uint32 tokens) --

SHARD_FORMATS = {20240520: (1, np.uint16), 20240801: (7, np.uint32)}


class Shards:
    """The shards as one token stream; windows may cross a shard boundary, as in genlab."""

    def __init__(self, files, vocab_size):
        self.parts = []
        self.starts = []
        total = 0
        for file in files:
            header = np.fromfile(file, dtype="<i4", count=256)
            if header.size < 256 or int(header[0]) not in SHARD_FORMATS:
                fail(f"token shard {file}: not a token shard (bad header); re-run `genlab train` to prepare the data")
            version, dtype = SHARD_FORMATS[int(header[0])]
            count, vocab = int(header[2]), int(header[4])
            if int(header[1]) != version:
                fail(f"token shard {file}: unsupported version {int(header[1])}")
            if vocab != 0 and vocab != vocab_size:
                fail(f"token shard {file}: was written for vocab size {vocab} but the tokenizer has {vocab_size}")
            self.parts.append(np.memmap(file, dtype=dtype, mode="r", offset=1024, shape=(count,)))
            self.starts.append(total)
            total += count
        self.token_count = total
        self.vocab_size = vocab_size

    def read(self, start, n):
        out = np.empty(n, dtype=np.int64)
        done = 0
        for part, first in zip(self.parts, self.starts):
            if done == n:
                break
            lo = start + done - first
            if lo < 0 or lo >= part.size:
                continue
            take = min(n - done, part.size - lo)
            out[done : done + take] = part[lo : lo + take]
            done += take
        if done != n:
            fail(f"read of {n} tokens at {start} runs past the {self.token_count} tokens of the shards")
        if out.max(initial=0) >= self.vocab_size:
            fail(f"a token id {int(out.max())} in the shards is not below the vocabulary size {self.vocab_size}")
        return out


# ---- genlab's counter-based random numbers and batch order (src/backend/rng.ts, src/data/loader.ts)


def mix32(x):
    x &= MASK32
    x = ((x ^ (x >> 16)) * 0x85EBCA6B) & MASK32
    x = ((x ^ (x >> 13)) * 0xC2B2AE35) & MASK32
    return (x ^ (x >> 16)) & MASK32


class Rng:
    def __init__(self, seed):
        self.state = mix32(seed & MASK32) or 1

    def next_u32(self):
        self.state = (self.state + 0x9E3779B9) & MASK32
        return mix32(self.state)


STREAM_SHUFFLE = 0x51A7E5
STREAM_OFFSET = 0x0FF5E7


def rng_for(seed, stream, counter):
    return Rng(mix32(mix32((seed ^ stream) & MASK32) ^ (counter & MASK32)) ^ (counter // 4294967296))


def uniform_int(rng, n):
    if n <= 4294967296:
        limit = (4294967296 // n) * n
        x = rng.next_u32()
        while x >= limit:
            x = rng.next_u32()
        return x % n
    two53 = 9007199254740992
    limit = (two53 // n) * n
    while True:
        v = (rng.next_u32() & 0x1FFFFF) * 4294967296 + rng.next_u32()
        if v < limit:
            return v % n


class ShuffleLoader:
    """genlab's 'shuffle' BatchLoader: per epoch, non-overlapping windows in a seeded order on a
    grid shifted by a seeded offset. Its state is genlab's LoaderState, so either engine continues
    the other's batch sequence."""

    def __init__(self, shards, batch, seq_len, seed):
        self.shards, self.B, self.T, self.seed = shards, batch, seq_len, seed & MASK32
        self.step = self.epoch = self.index = 0
        self.perm_epoch, self.perm, self.offset = -1, None, 0

    def state(self):
        return {"version": 1, "mode": "shuffle", "seed": self.seed, "batchSize": self.B, "seqLen": self.T,
                "tokenCount": self.shards.token_count, "step": self.step, "epoch": self.epoch, "index": self.index}

    def restore(self, s):
        mine = self.state()
        for k in ("version", "mode", "seed", "batchSize", "seqLen", "tokenCount"):
            if s.get(k) != mine[k]:
                fail(f"cannot restore the data loader: {k} was {json.dumps(s.get(k))} in the checkpoint but is {json.dumps(mine[k])} now; resume with the same dataset and batch settings")
        self.step, self.epoch, self.index = int(s["step"]), int(s["epoch"]), int(s["index"])
        if self.index >= self.batches_per_epoch():
            fail(f"corrupt data loader state: index {self.index} is past the {self.batches_per_epoch()} batches of epoch {self.epoch}")

    def epoch_offset(self, epoch):
        return uniform_int(rng_for(self.seed, STREAM_OFFSET, epoch), self.T)

    def batches_per_epoch(self):
        off = self.offset if self.epoch == self.perm_epoch else self.epoch_offset(self.epoch)
        return ((self.shards.token_count - 1 - off) // self.T) // self.B

    def ensure_permutation(self):
        if self.perm_epoch == self.epoch:
            return
        self.offset = self.epoch_offset(self.epoch)
        w = (self.shards.token_count - 1 - self.offset) // self.T
        perm = list(range(w))
        rng = rng_for(self.seed, STREAM_SHUFFLE, self.epoch)
        for i in range(w - 1, 0, -1):
            j = uniform_int(rng, i + 1)
            perm[i], perm[j] = perm[j], perm[i]
        self.perm, self.perm_epoch = perm, self.epoch

    def next_starts(self):
        """Start tokens of the next batch's B rows (advances the loader)."""
        self.ensure_permutation()
        starts = [self.offset + self.perm[self.index * self.B + b] * self.T for b in range(self.B)]
        self.index += 1
        if self.index >= self.batches_per_epoch():
            self.index = 0
            self.epoch += 1
        self.step += 1
        return starts

    def rows(self, starts):
        w = np.stack([self.shards.read(s, self.T + 1) for s in starts]) if starts else np.empty((0, self.T + 1), np.int64)
        return torch.from_numpy(w[:, :-1].copy()), torch.from_numpy(w[:, 1:].copy())


def val_batches(shards, batch, seq_len, count):
    """genlab's evaluation: the first batches of the 'sequential' loader over the held-out shards."""
    per_epoch = ((shards.token_count - 1) // seq_len) // batch
    for i in range(max(1, min(count, per_epoch))):
        w = shards.read(i * batch * seq_len, batch * seq_len + 1)
        x = np.stack([w[b * seq_len : b * seq_len + seq_len] for b in range(batch)])
        y = np.stack([w[b * seq_len + 1 : b * seq_len + seq_len + 1] for b in range(batch)])
        yield torch.from_numpy(x), torch.from_numpy(y)


# ---- GPT-2 with Hugging Face names, its parameters views into genlab's flat block ---------------


class Params(torch.nn.Module):
    """A leaf module holding a layer's weight and bias under their Hugging Face names."""


def gpt2_parameter_names(c):
    names = ["wte.weight", "wpe.weight", "ln_f.weight", "ln_f.bias"]
    for i in range(c["nLayer"]):
        for leaf in ("ln_1", "attn.c_attn", "attn.c_proj", "ln_2", "mlp.c_fc", "mlp.c_proj"):
            names += [f"h.{i}.{leaf}.weight", f"h.{i}.{leaf}.bias"]
    return names


class Gpt2(torch.nn.Module):
    """GPT-2 as src/models/gpt.ts computes it: pre-LayerNorm blocks, tanh-GELU MLP, Conv1D weights
    stored (in, out), the LM head tied to wte. Each parameter is a view of the flat block, so the
    optimizer updates the block and a checkpoint is the block itself."""

    def __init__(self, config, flat, layout):
        super().__init__()
        self.c = config
        expected = set(gpt2_parameter_names(config))
        got = {t["name"] for t in layout["tensors"]}
        if expected != got:
            missing, extra = sorted(expected - got), sorted(got - expected)
            fail(f"the checkpoint layout is not this GPT-2 config's: missing {missing[:4]}, unexpected {extra[:4]}")
        for t in layout["tensors"]:
            n = math.prod(t["shape"])
            view = flat[t["offset"] : t["offset"] + n].view(t["shape"])
            *path, leaf = t["name"].split(".")
            module = self
            for part in path:
                if not hasattr(module, part):
                    module.add_module(part, Params())
                module = getattr(module, part)
            module.register_parameter(leaf, torch.nn.Parameter(view))

    def forward(self, ids, targets):
        c = self.c
        B, T = ids.shape
        C, H = c["nEmbd"], c["nHead"]
        eps = c["layerNormEpsilon"]
        train = self.training
        lin = lambda x, m: torch.addmm(m.bias, x.reshape(-1, x.shape[-1]), m.weight).view(*x.shape[:-1], -1)
        x = F.dropout(F.embedding(ids, self.wte.weight) + self.wpe.weight[:T], c["embdPdrop"], train)
        for i in range(c["nLayer"]):
            blk = getattr(self.h, str(i))
            q, k, v = lin(F.layer_norm(x, (C,), blk.ln_1.weight, blk.ln_1.bias, eps), blk.attn.c_attn).split(C, dim=2)
            q, k, v = (t.view(B, T, H, C // H).transpose(1, 2) for t in (q, k, v))
            if hasattr(F, "scaled_dot_product_attention"):
                y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
            else:
                att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(C // H))
                mask = torch.ones(T, T, dtype=torch.bool, device=ids.device).triu(1)
                y = att.masked_fill(mask, float("-inf")).softmax(-1) @ v
            x = x + F.dropout(lin(y.transpose(1, 2).reshape(B, T, C), blk.attn.c_proj), c["residPdrop"], train)
            h = F.gelu(lin(F.layer_norm(x, (C,), blk.ln_2.weight, blk.ln_2.bias, eps), blk.mlp.c_fc), approximate="tanh")
            x = x + F.dropout(lin(h, blk.mlp.c_proj), c["residPdrop"], train)
        x = F.layer_norm(x, (C,), self.ln_f.weight, self.ln_f.bias, eps)
        logits = x @ self.wte.weight.t()
        return F.cross_entropy(logits.view(-1, logits.shape[-1]), targets.reshape(-1))


# ---- the schedule and optimizer of src/optim/adamw.ts -------------------------------------------


def cosine_lr(step, lr, min_lr, warmup, total):
    """Linear warmup to lr, then cosine decay to min_lr at `total` steps (step counts from 0)."""
    if step < warmup:
        return lr * (step + 1) / warmup
    if step >= total:
        return min_lr
    ratio = min(1.0, max(0.0, (step - warmup) / max(1, total - warmup)))
    return min_lr + 0.5 * (1 + math.cos(math.pi * ratio)) * (lr - min_lr)


class FlatAdamW:
    """genlab's AdamW over the flat block: decoupled weight decay on the matrices (the region before
    decaySize), none on biases and norms; bias-corrected moments, eps outside the square root."""

    def __init__(self, flat, m, v, decay_size, o):
        self.p, self.m, self.v = flat, m, v
        self.decay_size = decay_size
        self.b1, self.b2, self.eps, self.wd = o["beta1"], o["beta2"], o["eps"], o["weightDecay"]
        self.step = 0

    @torch.no_grad()
    def update(self, g, lr):
        self.step += 1
        bc1 = 1 - self.b1 ** self.step
        bc2 = 1 - self.b2 ** self.step
        self.m.mul_(self.b1).add_(g, alpha=1 - self.b1)
        self.v.mul_(self.b2).addcmul_(g, g, value=1 - self.b2)
        upd = (self.m / bc1) / ((self.v / bc2).sqrt_() + self.eps)
        d = self.decay_size
        upd[:d].add_(self.p[:d], alpha=self.wd)
        self.p.sub_(upd, alpha=lr)


# ---- the run --------------------------------------------------------------------------------------


class MetricsLog:
    """OUT/metrics.jsonl as genlab's loop writes it; rank 0 only."""

    def __init__(self, path, keep_through):
        self.path, self.lines = path, []
        kept = []
        try:
            with open(path) as f:
                for line in f:
                    try:
                        if json.loads(line)["step"] <= keep_through:
                            kept.append(line if line.endswith("\n") else line + "\n")
                    except (ValueError, KeyError, TypeError):
                        pass
        except FileNotFoundError:
            pass
        tmp = f"{path}.tmp-{os.getpid()}"
        with open(tmp, "w") as f:
            f.writelines(kept)
        os.replace(tmp, path)

    def push(self, obj):
        self.lines.append(dumps(obj) + "\n")

    def flush(self):
        if self.lines:
            with open(self.path, "a") as f:
                f.writelines(self.lines)
            self.lines = []


def load_plan(path):
    try:
        with open(path) as f:
            plan = json.load(f)
    except OSError as e:
        fail(f"cannot read the plan {path}: {e.strerror}; `genlab train --engine torch` writes it into OUT/checkpoint/")
    if plan.get("format") != PLAN_FORMAT:
        fail(f"{path} is not a {PLAN_FORMAT} plan (format {json.dumps(plan.get('format'))}); write it again with this genlab version")
    if plan.get("architecture") != "gpt2":
        fail(f"{path}: architecture {json.dumps(plan.get('architecture'))}; this engine trains GPT-2 models")
    return plan


def pick_device(name, local_rank):
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda":
        if not torch.cuda.is_available():
            fail("--device cuda, but this PyTorch sees no CUDA device; use --device cpu")
        torch.cuda.set_device(local_rank)
        return torch.device("cuda", local_rank)
    return torch.device("cpu")


def usage_totals(distributed, device):
    """CPU seconds and peak resident bytes of this process, summed over the processes."""
    ru = resource.getrusage(resource.RUSAGE_SELF)
    t = torch.tensor([ru.ru_utime + ru.ru_stime, ru.ru_maxrss * 1024.0], dtype=torch.float64, device=device)
    if distributed:
        torch.distributed.all_reduce(t)
    return float(t[0]), float(t[1])


def train(plan, args):
    import torch.distributed as dist
    from torch.nn.parallel import DistributedDataParallel

    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    device = pick_device(args.device, int(os.environ.get("LOCAL_RANK", "0")))
    distributed = world > 1
    if distributed:
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    lead = rank == 0
    say = (lambda s: print(s, file=sys.stderr, flush=True)) if lead and not args.quiet else (lambda s: None)

    tr = plan["train"]
    B, T, accum = tr["batch"], tr["seqLen"], plan["gradAccum"]
    if B % world != 0:
        fail(f"the batch of {B} sequences does not split evenly over {world} processes; choose --nproc dividing --batch (or a --batch that --nproc divides)")
    rows = B // world
    shards = Shards(tr["files"], plan["vocabSize"])
    loader = ShuffleLoader(shards, B, T, tr["seed"])
    arrays, meta = read_checkpoint(plan["checkpoint"])
    layout = plan["layout"]
    if arrays["params"].size != layout["size"]:
        fail(f"{plan['checkpoint']} holds {arrays['params'].size} parameters but the model has {layout['size']}; resume with the same --model settings")
    loader.restore(meta["loader"])

    flat = torch.from_numpy(arrays["params"].copy()).to(device)
    opt = FlatAdamW(flat, torch.from_numpy(arrays["adam.m"].copy()).to(device), torch.from_numpy(arrays["adam.v"].copy()).to(device), layout["decaySize"], plan["optimizer"])
    opt.step = int(meta["optimizerStep"])
    grads = torch.zeros_like(flat)
    model = Gpt2(plan["model"], flat, layout)
    slots = [(p, t["offset"], p.numel()) for t in layout["tensors"] for p in [model.get_parameter(t["name"])]]
    net = DistributedDataParallel(model) if distributed else model

    step = resumed_from = int(meta["step"])
    tokens = int(meta["tokens"])
    loss_ema = meta.get("lossEma")
    loss_ema = float("nan") if loss_ema is None else float(loss_ema)
    elapsed_before = float(meta.get("elapsedSeconds", 0))
    earlier_segments = meta.get("segments") if isinstance(meta.get("segments"), list) else []
    steps = plan["steps"]
    stop_at = min(steps, args.stop_at) if args.stop_at is not None else steps
    sch = plan["schedule"]
    clip, spike_factor = plan["gradClip"], plan["spikeFactor"]
    eval_every, ckpt_every = plan["evalEvery"], plan["checkpointEvery"]
    val = Shards(plan["val"]["files"], plan["vocabSize"]) if lead else None
    log = MetricsLog(plan["metrics"], step) if lead else None

    stop_requested = [False]

    # Ctrl-C reaches every process of the terminal's group, and torchrun passes it on (then SIGTERM):
    # each only asks to stop after the current step, so the run ends with a checkpoint.
    def on_signal(signum, _frame):
        stop_requested[0] = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)

    start = time.perf_counter()
    elapsed = lambda: elapsed_before + time.perf_counter() - start
    good = (flat.clone(), opt.m.clone(), opt.v.clone(), opt.step)
    last_loss, last_eval, last_eval_step, last_ckpt_step = float("nan"), None, -1, step
    skipped, stopped = 0, "steps"
    window_start, window_tokens, last_print = time.perf_counter(), 0, 0.0
    software = f"torch {torch.__version__}, python {platform.python_version()}"
    backend = f"{device.type}/{dist.get_backend() if distributed else 'single process'}"

    def segment(cpu, rss):
        return {"engine": "torch", "fromStep": resumed_from, "toStep": step, "seconds": elapsed() - elapsed_before, "backend": backend,
                "processes": world, "threadsPerProcess": torch.get_num_threads(), "software": software, "cpuSeconds": cpu, "peakRssBytes": rss,
                "wallSeconds": time.perf_counter() - PROCESS_START}

    def evaluate():
        nonlocal last_eval, last_eval_step
        model.eval()
        with torch.no_grad():
            losses = [model(x.to(device), y.to(device)).item() for x, y in val_batches(val, plan["val"]["batch"], T, plan["val"]["batches"])]
        model.train()
        last_eval, last_eval_step = sum(losses) / len(losses), step
        log.push({"type": "eval", "step": step, "valLoss": last_eval, "elapsedSeconds": elapsed(), "engine": "torch"})
        log.flush()
        say(f"step {step}: validation loss {last_eval:.4f}")

    def checkpoint():
        nonlocal good, last_ckpt_step
        cpu, rss = usage_totals(distributed, device)
        if lead:
            new_meta = {**meta, "step": step, "tokens": tokens, "optimizerStep": opt.step, "loader": loader.state(), "lossEma": loss_ema,
                        "elapsedSeconds": elapsed(), "segments": earlier_segments + [segment(cpu, rss)]}
            write_checkpoint(plan["checkpoint"], {"params": flat.cpu().numpy(), "adam.m": opt.m.cpu().numpy(), "adam.v": opt.v.cpu().numpy()}, new_meta)
            log.flush()
        good = (flat.clone(), opt.m.clone(), opt.v.clone(), opt.step)
        last_ckpt_step = step
        return cpu, rss

    model.train()
    while step < steps:
        if step >= stop_at:
            stopped = "paused"
            break
        index = step
        lr = cosine_lr(index, sch["lr"], sch["minLr"], sch["warmup"], steps)
        for p in model.parameters():
            p.grad = None
        loss_sum = 0.0
        for micro in range(accum):
            starts = loader.next_starts()[rank * rows : (rank + 1) * rows]
            x, y = loader.rows(starts)
            sync = contextlib.nullcontext() if micro == accum - 1 or not distributed else net.no_sync()
            with sync:
                loss = net(x.to(device), y.to(device))
                (loss / accum if accum > 1 else loss).backward()
            loss_sum += loss.item()
        for p, off, n in slots:
            grads[off : off + n].copy_(p.grad.reshape(-1))
        # One all-reduce carries the loss and a stop request, so every process decides alike.
        shared = torch.tensor([loss_sum, 1.0 if stop_requested[0] else 0.0], dtype=torch.float64, device=device)
        if distributed:
            dist.all_reduce(shared)
        loss_value = float(shared[0]) / world / accum
        stop_now = float(shared[1]) > 0
        norm = float(grads.double().square().sum().sqrt())
        if clip > 0 and math.isfinite(norm) and norm > clip:
            grads.mul_(clip / (norm + 1e-6))
        non_finite = "loss is not finite" if not math.isfinite(loss_value) else "gradient is not finite" if not math.isfinite(norm) else None
        spike = non_finite is None and spike_factor > 0 and index >= sch["warmup"] and math.isfinite(loss_ema) and loss_value > spike_factor * loss_ema
        step += 1
        if non_finite is not None or spike:
            # genlab's guard: back to the last checkpoint's state, skipping the batch.
            flat.copy_(good[0])
            opt.m.copy_(good[1])
            opt.v.copy_(good[2])
            opt.step = good[3]
            skipped += 1
            reason = non_finite or f"loss {loss_value:.3f} > {spike_factor}× running average {loss_ema:.3f}"
            action = "rolled back to the last good state and skipped the batch"
            if lead:
                log.push({"type": "spike", "step": step, "kind": "non-finite" if non_finite else "spike", "loss": loss_value, "gradNorm": norm,
                          "reason": reason, "action": action, "message": f"{reason} (loss {loss_value}, gradient norm {norm}): {action}", "engine": "torch"})
            say(f"step {step}: {reason}; {action}")
        else:
            opt.update(grads, lr)
            loss_ema = 0.95 * loss_ema + 0.05 * loss_value if math.isfinite(loss_ema) else loss_value
            last_loss = loss_value
            tokens += B * T * accum
            window_tokens += B * T * accum
            now = time.perf_counter()
            if lead:
                log.push({"type": "step", "step": step, "loss": loss_value, "lr": lr, "gradNorm": norm, "tokens": tokens,
                          "tokensPerSecond": window_tokens / max(1e-3, now - window_start), "elapsedSeconds": elapsed(), "engine": "torch"})
                if now - last_print > 2 or step == steps:
                    say(f"torch step {step}/{steps}: loss {loss_value:.4f}, lr {lr:.2e}, {window_tokens / max(1e-3, now - window_start):.0f} tokens/s on {world} process(es)")
                    last_print = now
            if now - window_start > 5:
                window_start, window_tokens = now, 0
            if lead and eval_every > 0 and step % eval_every == 0:
                evaluate()
            if ckpt_every > 0 and step % ckpt_every == 0:
                checkpoint()
            if lead and step % 8 == 0:
                log.flush()
        if stop_now:
            stopped = "signal"
            break
    if stopped == "steps" and step > 0 and last_eval_step != step and lead:
        evaluate()
    if last_ckpt_step != step:
        cpu, rss = checkpoint()
    else:
        cpu, rss = usage_totals(distributed, device)
    if lead:
        log.flush()
        result = {"steps": step, "tokens": tokens, "finalLoss": last_loss, "valLoss": last_eval, "seconds": elapsed(), "spikes": skipped,
                  "resumedFrom": resumed_from, "stopped": stopped, "segment": segment(cpu, rss)}
        if plan.get("result"):
            with open(plan["result"], "w") as f:
                f.write(dumps(result) + "\n")
        say(f"torch engine: steps {resumed_from} → {step} on {world} process(es) ({backend}), {stopped}")
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    if distributed:
        dist.barrier()
    # Everything is written: leave without running library finalizers. Once (torch 1.13, gloo, cause
    # not found) a worker kept spinning for minutes after the run had ended and its peer had exited.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


def dump_batches(plan, count, out_file, state_json):
    """Writes the inputs of the next `count` batches (int32, row-major) from a loader state (default:
    the checkpoint's): tests compare them with genlab's own loader."""
    tr = plan["train"]
    loader = ShuffleLoader(Shards(tr["files"], plan["vocabSize"]), tr["batch"], tr["seqLen"], tr["seed"])
    loader.restore(json.loads(state_json) if state_json else read_checkpoint(plan["checkpoint"])[1]["loader"])
    xs = [loader.rows(loader.next_starts())[0] for _ in range(count)]
    torch.cat(xs).numpy().astype("<i4").tofile(out_file)


def launch(args, argv):
    """Runs this script in N processes with torchrun's launcher (what the torchrun command runs)."""
    from torch.distributed.elastic.multiprocessing import api

    # Python 3.11 stopped listing the zero flag when iterating an IntFlag, so torch < 2.0's
    # Std.from_str("0") returns None and torchrun fails in to_map ('NoneType' object has no attribute
    # 'get'; meta-llama/llama#86). Parse the flags as the newer torch does.
    if api.Std.from_str("0") is None:
        def from_str(vm):
            if re.match(api._VALUE_REGEX, vm):
                return api.Std(int(vm))
            if re.match(api._MAPPING_REGEX, vm):
                return {int(i): api.Std(int(v)) for i, v in (m.split(":") for m in vm.split(","))}
            raise ValueError(f"{vm} does not match: <{api._VALUE_REGEX}> or <{api._MAPPING_REGEX}>")

        api.Std.from_str = staticmethod(from_str)
    from torch.distributed import run

    worker_args = []
    skip = False
    for a in argv:
        if skip:
            skip = False
        elif a == "--nproc":
            skip = True
        elif not a.startswith("--nproc="):
            worker_args.append(a)
    # torchrun --standalone always listens on port 29400; a free port lets runs share a machine.
    with socket.socket() as s:
        s.bind(("localhost", 0))
        port = s.getsockname()[1]
    try:
        run.main(["--nnodes", "1", "--rdzv_backend", "c10d", "--rdzv_endpoint", f"localhost:{port}", "--rdzv_id", f"genlab-{os.getpid()}",
                  "--nproc_per_node", str(args.nproc), os.path.abspath(__file__), *worker_args])
    except api.SignalException:
        # Ctrl-C or SIGTERM: torchrun passed it on, and the workers stopped after a step with a checkpoint.
        sys.exit(130)
    except Exception as e:  # torchrun's ChildFailedError: the workers' tracebacks are already printed
        fail(f"torchrun's workers failed: {type(e).__name__}")


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--plan", required=True, help="the plan genlab wrote (OUT/checkpoint/torch-plan.json)")
    ap.add_argument("--nproc", type=int, help="launch this many processes through torchrun's launcher")
    ap.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto")
    ap.add_argument("--stop-at", type=int, help="pause after this step with a checkpoint (the schedule still runs to the plan's steps)")
    ap.add_argument("--quiet", action="store_true", help="no progress lines")
    ap.add_argument("--dump-batches", nargs=2, metavar=("COUNT", "FILE"), help="write the next COUNT batches' inputs to FILE and exit (tests)")
    ap.add_argument("--loader-state", help="with --dump-batches: the genlab LoaderState JSON to start from")
    args = ap.parse_args(argv)
    plan = load_plan(args.plan)
    if args.nproc is not None:
        if args.nproc < 1:
            fail(f"--nproc {args.nproc}: give at least 1 process")
        return launch(args, argv)
    if args.dump_batches:
        return dump_batches(plan, int(args.dump_batches[0]), args.dump_batches[1], args.loader_state)
    train(plan, args)


if __name__ == "__main__":
    main(sys.argv[1:])
