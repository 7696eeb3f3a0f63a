"""GPT-2 written directly in PyTorch with Hugging Face's parameter names and layouts (Conv1D
weights stored (in, out)), plus a minimal safetensors reader/writer. It is the oracle that genlab's
TypeScript GPT is compared against; it needs only Debian's python3-torch (no transformers)."""

import json
import math
import struct

import torch
import torch.nn.functional as F

DTYPES = {"F32": torch.float32, "I32": torch.int32, "I64": torch.int64, "BF16": torch.bfloat16, "F16": torch.float16}
NAMES = {v: k for k, v in DTYPES.items()}


def save_safetensors(path, tensors, metadata=None):
    header = {}
    offset = 0
    blobs = []
    for name in sorted(tensors):
        t = tensors[name].detach().contiguous().cpu()
        # numpy has no bfloat16: write its bits through an int16 view.
        data = (t.view(torch.int16) if t.dtype == torch.bfloat16 else t).numpy().tobytes()
        header[name] = {"dtype": NAMES[t.dtype], "shape": list(t.shape), "data_offsets": [offset, offset + len(data)]}
        offset += len(data)
        blobs.append(data)
    if metadata:
        header["__metadata__"] = metadata
    raw = json.dumps(header, separators=(",", ":")).encode()
    raw += b" " * (-len(raw) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(raw)))
        f.write(raw)
        for b in blobs:
            f.write(b)


def load_safetensors(path):
    with open(path, "rb") as f:
        buf = f.read()
    (n,) = struct.unpack("<Q", buf[:8])
    header = json.loads(buf[8 : 8 + n])
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        a, b = info["data_offsets"]
        t = torch.frombuffer(bytearray(buf[8 + n + a : 8 + n + b]), dtype=DTYPES[info["dtype"]])
        out[name] = t.reshape(info["shape"])
    return out


class Gpt2(torch.nn.Module):
    """Functional GPT-2 over a dict of HF-named parameters."""

    def __init__(self, config, params):
        super().__init__()
        self.c = config
        self.p = torch.nn.ParameterDict({k.replace(".", "__"): torch.nn.Parameter(v.clone().float()) for k, v in params.items()})

    def w(self, name):
        return self.p[name.replace(".", "__")]

    def forward(self, ids, targets=None):
        c = self.c
        B, T = ids.shape
        C, H = c["n_embd"], c["n_head"]
        eps = c["layer_norm_epsilon"]
        x = self.w("wte.weight")[ids] + self.w("wpe.weight")[torch.arange(T)]
        mask = torch.tril(torch.ones(T, T, dtype=torch.bool))
        for i in range(c["n_layer"]):
            p = f"h.{i}."
            h = F.layer_norm(x, (C,), self.w(p + "ln_1.weight"), self.w(p + "ln_1.bias"), eps)
            qkv = h @ self.w(p + "attn.c_attn.weight") + self.w(p + "attn.c_attn.bias")
            q, k, v = qkv.split(C, dim=2)
            q, k, v = (t.view(B, T, H, C // H).transpose(1, 2) for t in (q, k, v))
            att = (q @ k.transpose(-2, -1)) / math.sqrt(C // H)
            att = att.masked_fill(~mask, float("-inf")).softmax(-1)
            y = (att @ v).transpose(1, 2).reshape(B, T, C)
            x = x + y @ self.w(p + "attn.c_proj.weight") + self.w(p + "attn.c_proj.bias")
            h = F.layer_norm(x, (C,), self.w(p + "ln_2.weight"), self.w(p + "ln_2.bias"), eps)
            h = F.gelu(h @ self.w(p + "mlp.c_fc.weight") + self.w(p + "mlp.c_fc.bias"), approximate="tanh")
            x = x + h @ self.w(p + "mlp.c_proj.weight") + self.w(p + "mlp.c_proj.bias")
        x = F.layer_norm(x, (C,), self.w("ln_f.weight"), self.w("ln_f.bias"), eps)
        logits = x @ self.w("wte.weight").t()
        loss = None
        if targets is not None:
            loss = F.cross_entropy(logits.view(-1, logits.size(-1)), targets.reshape(-1), ignore_index=-100)
        return logits, loss


def init_params(config, seed):
    g = torch.Generator().manual_seed(seed)
    C, L, V, P = config["n_embd"], config["n_layer"], config["vocab_size"], config["n_positions"]
    inner = config.get("n_inner") or 4 * C
    n = lambda *s: torch.randn(*s, generator=g) * 0.02
    params = {"wte.weight": n(V, C), "wpe.weight": n(P, C) / 2}
    for i in range(L):
        p = f"h.{i}."
        params.update({
            p + "ln_1.weight": 1 + 0.1 * torch.randn(C, generator=g), p + "ln_1.bias": 0.1 * torch.randn(C, generator=g),
            p + "attn.c_attn.weight": n(C, 3 * C), p + "attn.c_attn.bias": n(3 * C),
            p + "attn.c_proj.weight": n(C, C), p + "attn.c_proj.bias": n(C),
            p + "ln_2.weight": 1 + 0.1 * torch.randn(C, generator=g), p + "ln_2.bias": 0.1 * torch.randn(C, generator=g),
            p + "mlp.c_fc.weight": n(C, inner), p + "mlp.c_fc.bias": n(inner),
            p + "mlp.c_proj.weight": n(inner, C), p + "mlp.c_proj.bias": n(C),
        })
    params["ln_f.weight"] = 1 + 0.1 * torch.randn(C, generator=g)
    params["ln_f.bias"] = 0.1 * torch.randn(C, generator=g)
    return params
