"""The Llama family (Llama, Mistral, Qwen2, Qwen3) written directly in PyTorch over a dict of
Hugging Face-named parameters, following transformers' modeling code: RMSNorm, rotary embeddings
in the rotate-half form (cos/sin over the full head width), grouped-query attention by repeating kv
heads, SwiGLU MLP, Qwen2 q/k/v biases, Qwen3 q/k RMSNorm, tied or untied LM head, the
rope_scaling types linear, dynamic and llama3, and sliding-window attention in the layers
transformers windows (Mistral: all; Qwen2/Qwen3 with use_sliding_window: from max_window_layers
on, or as layer_types lists them). It is the oracle genlab's src/models/llama.ts is
compared against; it needs only Debian's python3-torch (no transformers). Computes in float64."""

import math

import torch
import torch.nn.functional as F


def inv_freq(c, seq_len):
    """Rotary inverse frequencies for a sequence of seq_len positions (transformers' rope init)."""
    d = c.get("head_dim") or c["hidden_size"] // c["num_attention_heads"]
    base = c.get("rope_theta", 10000.0)
    s = c.get("rope_scaling") or {}
    kind = s.get("rope_type", s.get("type", "default"))
    if kind == "dynamic" and seq_len > c["max_position_embeddings"]:
        base = base * ((s["factor"] * seq_len / c["max_position_embeddings"]) - (s["factor"] - 1)) ** (d / (d - 2))
    inv = 1.0 / (base ** (torch.arange(0, d, 2, dtype=torch.float64) / d))
    if kind == "linear":
        inv = inv / s["factor"]
    if kind == "llama3":
        old = s["original_max_position_embeddings"]
        low_wavelen = old / s["low_freq_factor"]
        high_wavelen = old / s["high_freq_factor"]
        wavelen = 2 * math.pi / inv
        scaled = torch.where(wavelen > low_wavelen, inv / s["factor"], inv)
        smooth = (old / wavelen - s["low_freq_factor"]) / (s["high_freq_factor"] - s["low_freq_factor"])
        blended = (1 - smooth) * scaled / s["factor"] + smooth * scaled
        medium = (wavelen >= high_wavelen) & (wavelen <= low_wavelen)
        inv = torch.where(medium, blended, scaled)
    return inv


def layer_windows(c):
    """Each layer's sliding window (None: full causal attention), as transformers assigns them."""
    n = c["num_hidden_layers"]
    if c["model_type"] == "mistral":
        return [c.get("sliding_window", 4096)] * n
    if c["model_type"] in ("qwen2", "qwen3") and c.get("use_sliding_window"):
        kinds = c.get("layer_types") or [
            "sliding_attention" if i >= c.get("max_window_layers", 28) else "full_attention" for i in range(n)]
        return [c.get("sliding_window", 4096) if k == "sliding_attention" else None for k in kinds]
    return [None] * n


def attention_mask(T, window):
    """Causal mask, True where query i may see key j: j <= i, and j > i - window with a window."""
    mask = torch.tril(torch.ones(T, T, dtype=torch.bool))
    if window is not None:
        mask &= ~torch.tril(torch.ones(T, T, dtype=torch.bool), diagonal=-window)
    return mask


def rotate_half(x):
    h = x.shape[-1] // 2
    return torch.cat((-x[..., h:], x[..., :h]), dim=-1)


def rms_norm(x, w, eps):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * w


class Llama(torch.nn.Module):
    """Functional *ForCausalLM over HF-named parameters (nn.Linear weights stored (out, in))."""

    def __init__(self, config, params):
        super().__init__()
        self.c = config
        self.p = torch.nn.ParameterDict({k.replace(".", "__"): torch.nn.Parameter(v.clone().double()) for k, v in params.items()})

    def w(self, name):
        return self.p[name.replace(".", "__")]

    def b(self, name):
        key = name.replace(".", "__")
        return self.p[key] if key in self.p else None

    def forward(self, ids, targets=None):
        c = self.c
        B, T = ids.shape
        H, Hkv = c["num_attention_heads"], c.get("num_key_value_heads") or c["num_attention_heads"]
        D = c.get("head_dim") or c["hidden_size"] // H
        eps = c["rms_norm_eps"]
        freqs = torch.outer(torch.arange(T, dtype=torch.float64), inv_freq(c, T))
        emb = torch.cat((freqs, freqs), dim=-1)
        cos, sin = emb.cos(), emb.sin()
        masks = [attention_mask(T, w) for w in layer_windows(c)]
        x = self.w("model.embed_tokens.weight")[ids]
        for i in range(c["num_hidden_layers"]):
            mask = masks[i]
            p = f"model.layers.{i}."
            h = rms_norm(x, self.w(p + "input_layernorm.weight"), eps)
            proj = lambda n: F.linear(h, self.w(p + f"self_attn.{n}.weight"), self.b(p + f"self_attn.{n}.bias"))
            q = proj("q_proj").view(B, T, H, D)
            k = proj("k_proj").view(B, T, Hkv, D)
            v = proj("v_proj").view(B, T, Hkv, D).transpose(1, 2)
            if c["model_type"] == "qwen3":
                q = rms_norm(q, self.w(p + "self_attn.q_norm.weight"), eps)
                k = rms_norm(k, self.w(p + "self_attn.k_norm.weight"), eps)
            q, k = q.transpose(1, 2), k.transpose(1, 2)
            q = q * cos + rotate_half(q) * sin
            k = k * cos + rotate_half(k) * sin
            k = k.repeat_interleave(H // Hkv, dim=1)
            v = v.repeat_interleave(H // Hkv, dim=1)
            att = (q @ k.transpose(-2, -1)) / math.sqrt(D)
            att = att.masked_fill(~mask, float("-inf")).softmax(-1)
            y = (att @ v).transpose(1, 2).reshape(B, T, H * D)
            x = x + F.linear(y, self.w(p + "self_attn.o_proj.weight"), self.b(p + "self_attn.o_proj.bias"))
            h = rms_norm(x, self.w(p + "post_attention_layernorm.weight"), eps)
            mlp = lambda n, z: F.linear(z, self.w(p + f"mlp.{n}.weight"), self.b(p + f"mlp.{n}.bias"))
            x = x + mlp("down_proj", F.silu(mlp("gate_proj", h)) * mlp("up_proj", h))
        x = rms_norm(x, self.w("model.norm.weight"), eps)
        head = self.w("model.embed_tokens.weight") if c.get("tie_word_embeddings") else self.w("lm_head.weight")
        logits = x @ head.t()
        loss = None
        if targets is not None:
            loss = F.cross_entropy(logits.view(-1, logits.size(-1)), targets.reshape(-1), ignore_index=-100)
        return logits, loss


def init_params(c, seed):
    """Random weights of a config's shapes, scaled so attention patterns and rotations matter."""
    g = torch.Generator().manual_seed(seed)
    C, L, V, I = c["hidden_size"], c["num_hidden_layers"], c["vocab_size"], c["intermediate_size"]
    H, Hkv = c["num_attention_heads"], c.get("num_key_value_heads") or c["num_attention_heads"]
    D = c.get("head_dim") or C // H
    lin = lambda o, i: torch.randn(o, i, generator=g) / math.sqrt(i)
    norm = lambda n: 1 + 0.1 * torch.randn(n, generator=g)
    bias = lambda n: 0.1 * torch.randn(n, generator=g)
    qkv_bias = c["model_type"] == "qwen2" or c.get("attention_bias", False)
    params = {"model.embed_tokens.weight": torch.randn(V, C, generator=g) * 0.5, "model.norm.weight": norm(C)}
    if not c.get("tie_word_embeddings"):
        params["lm_head.weight"] = lin(V, C)
    for i in range(L):
        p = f"model.layers.{i}."
        params[p + "input_layernorm.weight"] = norm(C)
        params[p + "post_attention_layernorm.weight"] = norm(C)
        for n, o in (("q_proj", H * D), ("k_proj", Hkv * D), ("v_proj", Hkv * D)):
            params[p + f"self_attn.{n}.weight"] = lin(o, C)
            if qkv_bias:
                params[p + f"self_attn.{n}.bias"] = bias(o)
        params[p + "self_attn.o_proj.weight"] = lin(C, H * D)
        if c.get("attention_bias", False):
            params[p + "self_attn.o_proj.bias"] = bias(C)
        if c["model_type"] == "qwen3":
            params[p + "self_attn.q_norm.weight"] = norm(D)
            params[p + "self_attn.k_norm.weight"] = norm(D)
        for n, (o, i_) in (("gate_proj", (I, C)), ("up_proj", (I, C)), ("down_proj", (C, I))):
            params[p + f"mlp.{n}.weight"] = lin(o, i_)
            if c.get("mlp_bias", False):
                params[p + f"mlp.{n}.bias"] = bias(o)
    return params
