"""Writes the PyTorch oracle fixtures for genlab's Llama-family model (src/models/fixtures/llama-*/):
config.json with the flags of a named real checkpoint, shrunk to a few thousand parameters;
random weights in the dtype that checkpoint ships (bf16 for most; f16 and f32 to cover the other
readers), sharded with model.safetensors.index.json for one of them; and expected.safetensors with
ids, targets, logits, loss and the gradient of every parameter (float64 reference, stored f32).
Run: OPENBLAS_CORETYPE=SkylakeX /usr/bin/python3 scripts/make-llama-fixture.py [OUT_ROOT]
(OUT_ROOT defaults to src/models/fixtures; src/models/llama.test.ts reads the committed copies.)"""

import json
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(__file__))
from gpt_reference import save_safetensors  # noqa: E402
from llama_reference import Llama, init_params  # noqa: E402

ROOT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "src", "models", "fixtures")
SMALL = {"vocab_size": 48, "num_hidden_layers": 2, "hidden_act": "silu", "initializer_range": 0.02, "bos_token_id": 1, "eos_token_id": 2}

# name: (real checkpoint whose flags are kept, stored dtype, shards, config)
FIXTURES = {
    "llama-smollm2": ("HuggingFaceTB/SmolLM2-135M", torch.bfloat16, 1, {
        "architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": 24, "intermediate_size": 64,
        "num_attention_heads": 3, "num_key_value_heads": 1, "max_position_embeddings": 8192, "rms_norm_eps": 1e-5,
        "rope_theta": 100000, "rope_scaling": None, "tie_word_embeddings": True, "attention_bias": False, "mlp_bias": False}),
    "llama-llama32": ("meta-llama/Llama-3.2-1B", torch.bfloat16, 1, {
        "architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": 32, "intermediate_size": 64,
        "num_attention_heads": 4, "num_key_value_heads": 1, "head_dim": 8, "max_position_embeddings": 131072, "rms_norm_eps": 1e-5,
        "rope_theta": 500000.0, "tie_word_embeddings": True, "attention_bias": False, "mlp_bias": False,
        "rope_scaling": {"factor": 32.0, "high_freq_factor": 4.0, "low_freq_factor": 1.0, "original_max_position_embeddings": 8192, "rope_type": "llama3"}}),
    "llama-qwen25": ("Qwen/Qwen2.5-0.5B", torch.bfloat16, 1, {
        "architectures": ["Qwen2ForCausalLM"], "model_type": "qwen2", "hidden_size": 28, "intermediate_size": 48,
        "num_attention_heads": 7, "num_key_value_heads": 1, "max_position_embeddings": 32768, "rms_norm_eps": 1e-6,
        "rope_theta": 1000000.0, "rope_scaling": None, "tie_word_embeddings": True, "use_sliding_window": False,
        "sliding_window": 32768, "max_window_layers": 24}),
    "llama-qwen3": ("Qwen/Qwen3-0.6B", torch.bfloat16, 1, {
        "architectures": ["Qwen3ForCausalLM"], "model_type": "qwen3", "hidden_size": 16, "intermediate_size": 48,
        "num_attention_heads": 4, "num_key_value_heads": 2, "head_dim": 8, "max_position_embeddings": 40960, "rms_norm_eps": 1e-6,
        "rope_theta": 1000000, "rope_scaling": None, "tie_word_embeddings": True, "attention_bias": False,
        "use_sliding_window": False, "sliding_window": None}),
    # The window is shrunk with the rest (4096 there), so the 12 test positions run past it.
    "llama-mistral": ("mistralai/Mistral-7B-v0.1", torch.float16, 2, {
        "architectures": ["MistralForCausalLM"], "model_type": "mistral", "hidden_size": 32, "intermediate_size": 64,
        "num_attention_heads": 4, "num_key_value_heads": 1, "max_position_embeddings": 32768, "rms_norm_eps": 1e-5,
        "rope_theta": 10000.0, "sliding_window": 5, "tie_word_embeddings": False}),
    # Llama with linear scaling and every bias switched on (attention_bias, mlp_bias), untied.
    "llama-linear": ("meta-llama/Llama-2-7b-hf with rope_scaling linear", torch.float32, 1, {
        "architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": 16, "intermediate_size": 32,
        "num_attention_heads": 2, "num_key_value_heads": 2, "max_position_embeddings": 4096, "rms_norm_eps": 1e-5,
        "rope_theta": 10000.0, "rope_scaling": {"type": "linear", "factor": 2.0}, "tie_word_embeddings": False,
        "attention_bias": True, "mlp_bias": True}),
    # Dynamic NTK scaling takes effect past max_position_embeddings, so it is shrunk below the 12 test positions.
    "llama-dynamic": ("meta-llama/Llama-2-7b-hf with rope_scaling dynamic", torch.float32, 1, {
        "architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": 16, "intermediate_size": 32,
        "num_attention_heads": 2, "num_key_value_heads": 1, "max_position_embeddings": 8, "rms_norm_eps": 1e-5,
        "rope_theta": 10000.0, "rope_scaling": {"type": "dynamic", "factor": 2.0}, "tie_word_embeddings": False}),
    # Qwen2 with use_sliding_window: layer 0 attends over everything, layer 1 (>= max_window_layers)
    # through a window of 4 of the 12 test positions.
    "llama-qwen2-window": ("Qwen/Qwen2-7B with use_sliding_window", torch.bfloat16, 1, {
        "architectures": ["Qwen2ForCausalLM"], "model_type": "qwen2", "hidden_size": 16, "intermediate_size": 32,
        "num_attention_heads": 4, "num_key_value_heads": 2, "max_position_embeddings": 32768, "rms_norm_eps": 1e-6,
        "rope_theta": 1000000.0, "rope_scaling": None, "tie_word_embeddings": False, "use_sliding_window": True,
        "sliding_window": 4, "max_window_layers": 1}),
}


def write_weights(out, params, dtype, shards):
    stored = {k: v.to(dtype) for k, v in params.items()}
    if shards == 1:
        save_safetensors(os.path.join(out, "model.safetensors"), stored, {"format": "pt"})
        return
    names = sorted(stored)
    weight_map = {}
    for s in range(shards):
        file = f"model-{s + 1:05d}-of-{shards:05d}.safetensors"
        part = {n: stored[n] for n in names[s::shards]}
        save_safetensors(os.path.join(out, file), part, {"format": "pt"})
        weight_map.update({n: file for n in part})
    total = sum(t.numel() * t.element_size() for t in stored.values())
    with open(os.path.join(out, "model.safetensors.index.json"), "w") as f:
        json.dump({"metadata": {"total_size": total}, "weight_map": weight_map}, f, indent=2)


def main():
    for seed, (name, (source, dtype, shards, cfg)) in enumerate(FIXTURES.items()):
        config = {**SMALL, **cfg, "torch_dtype": str(dtype).replace("torch.", "")}
        out = os.path.join(ROOT, name)
        os.makedirs(out, exist_ok=True)
        # The reference runs on exactly the values stored (bf16/f16-rounded), in float64.
        params = {k: v.to(dtype).double() for k, v in init_params(config, seed=10 + seed).items()}
        write_weights(out, params, dtype, shards)
        with open(os.path.join(out, "config.json"), "w") as f:
            json.dump({"_shrunk_from": source, **config}, f, indent=2)
        g = torch.Generator().manual_seed(100 + seed)
        ids = torch.randint(0, config["vocab_size"], (2, 12), generator=g)
        targets = torch.randint(0, config["vocab_size"], (2, 12), generator=g)
        targets[1, 5] = -100
        model = Llama(config, params)
        logits, loss = model(ids, targets)
        loss.backward()
        expected = {"ids": ids.int(), "targets": targets.int(), "logits": logits.detach().float(), "loss": loss.detach().reshape(1).float()}
        for k in params:
            expected["grad." + k] = model.w(k).grad.detach().float()
        save_safetensors(os.path.join(out, "expected.safetensors"), expected, {"source": source})
        print(f"{name}: {source}, {dtype}, loss {loss.item():.6f}")


if __name__ == "__main__":
    main()
