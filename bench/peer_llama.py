"""The Llama-shaped model of peer_train.py (bench configs with a "llama" entry): the same shapes as
genlab, random weights from scripts/llama_reference.py's init_params, computed in float32. The
reference computes in float64 and has no KV cache, so the forward here is its float32 counterpart
with an optional cache (one function for training steps and greedy decoding)."""

import math
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "scripts"))
from llama_reference import init_params, inv_freq, rms_norm, rotate_half  # noqa: E402


def llama_config(c):
    l = c["llama"]
    return {"model_type": "llama", "vocab_size": c["vocabSize"], "hidden_size": c["nEmbd"], "num_hidden_layers": c["nLayer"],
            "num_attention_heads": c["nHead"], "num_key_value_heads": l["numKeyValueHeads"], "intermediate_size": l["intermediateSize"],
            "max_position_embeddings": c["nPositions"], "rope_theta": l["ropeTheta"], "rms_norm_eps": 1e-5, "tie_word_embeddings": True}


class Llama32(torch.nn.Module):
    """Float32 Llama over HF-named parameters; `cache` (a list of [k, v] per layer) continues positions."""

    def __init__(self, c, params):
        super().__init__()
        self.c = c
        self.p = torch.nn.ParameterDict({k.replace(".", "__"): torch.nn.Parameter(v.float()) for k, v in params.items()})
        self.inv = inv_freq(c, c["max_position_embeddings"]).float()

    def w(self, name):
        return self.p[name.replace(".", "__")]

    def forward(self, ids, targets=None, cache=None):
        c = self.c
        B, T = ids.shape
        H, Hkv = c["num_attention_heads"], c["num_key_value_heads"]
        D = c["hidden_size"] // H
        eps = c["rms_norm_eps"]
        start = cache[0][0].shape[2] if cache and cache[0][0] is not None else 0
        freqs = torch.outer(torch.arange(start, start + T, dtype=torch.float32), self.inv)
        emb = torch.cat((freqs, freqs), dim=-1)
        cos, sin = emb.cos(), emb.sin()
        x = self.w("model.embed_tokens.weight")[ids]
        for i in range(c["num_hidden_layers"]):
            p = f"model.layers.{i}."
            h = rms_norm(x, self.w(p + "input_layernorm.weight"), eps)
            q = F.linear(h, self.w(p + "self_attn.q_proj.weight")).view(B, T, H, D).transpose(1, 2)
            k = F.linear(h, self.w(p + "self_attn.k_proj.weight")).view(B, T, Hkv, D).transpose(1, 2)
            v = F.linear(h, self.w(p + "self_attn.v_proj.weight")).view(B, T, Hkv, D).transpose(1, 2)
            q = q * cos + rotate_half(q) * sin
            k = k * cos + rotate_half(k) * sin
            if cache is not None:
                if cache[i][0] is not None:
                    k = torch.cat([cache[i][0], k], 2)
                    v = torch.cat([cache[i][1], v], 2)
                cache[i] = [k, v]
            k = k.repeat_interleave(H // Hkv, dim=1)
            v = v.repeat_interleave(H // Hkv, dim=1)
            att = (q @ k.transpose(-2, -1)) / math.sqrt(D)
            if T > 1:
                S = k.shape[2]
                att = att.masked_fill(~torch.tril(torch.ones(T, S, dtype=torch.bool), diagonal=S - T), float("-inf"))
            y = (att.softmax(-1) @ v).transpose(1, 2).reshape(B, T, H * D)
            x = x + F.linear(y, self.w(p + "self_attn.o_proj.weight"))
            h = rms_norm(x, self.w(p + "post_attention_layernorm.weight"), eps)
            x = x + F.linear(F.silu(F.linear(h, self.w(p + "mlp.gate_proj.weight"))) * F.linear(h, self.w(p + "mlp.up_proj.weight")), self.w(p + "mlp.down_proj.weight"))
        if targets is None:
            x = x[:, -1:]  # decoding needs only the last position's logits
        x = rms_norm(x, self.w("model.norm.weight"), eps)
        logits = x @ self.w("model.embed_tokens.weight").t()
        loss = None if targets is None else F.cross_entropy(logits.view(-1, logits.size(-1)), targets.reshape(-1))
        return logits, loss

    @torch.no_grad()
    def decode(self, prompt, n_new):
        cache = [[None, None] for _ in range(self.c["num_hidden_layers"])]
        ids = prompt
        out = []
        for _ in range(n_new + 1):
            logits, _ = self(ids, None, cache)
            ids = logits[:, -1].argmax(-1, keepdim=True)
            out.append(int(ids))
        return out


def build_llama(c):
    cfg = llama_config(c)
    return Llama32(cfg, init_params(cfg, 0))
