"""Loads a genlab (or Hugging Face) GPT-2 folder with the PyTorch reference and prints the logits
of the given token ids as JSON: shows that what genlab writes reads back in Python by name.
With ADAPTER_DIR, applies a PEFT LoRA adapter the way PEFT does for GPT-2's Conv1D layers
(fan_in_fan_out: W += scaling · (B A)ᵀ).
Usage: score-folder.py MODEL_DIR '[ids...]' [ADAPTER_DIR]"""

import json
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(__file__))
from gpt_reference import Gpt2, load_safetensors  # noqa: E402


def main():
    folder, ids = sys.argv[1], json.loads(sys.argv[2])
    with open(os.path.join(folder, "config.json")) as f:
        config = json.load(f)
    params = {k.removeprefix("transformer."): v for k, v in load_safetensors(os.path.join(folder, "model.safetensors")).items()}
    params = {k: v for k, v in params.items() if not k.endswith((".attn.bias", ".attn.masked_bias")) and k != "lm_head.weight"}
    if len(sys.argv) > 3:
        adapter = sys.argv[3]
        with open(os.path.join(adapter, "adapter_config.json")) as f:
            ac = json.load(f)
        assert ac["peft_type"] == "LORA" and ac["fan_in_fan_out"] is True
        scaling = ac["lora_alpha"] / (ac["r"] ** 0.5 if ac.get("use_rslora") else ac["r"])
        lora = load_safetensors(os.path.join(adapter, "adapter_model.safetensors"))
        prefix = "base_model.model.transformer."
        for name, a in lora.items():
            if not name.endswith(".lora_A.weight"):
                continue
            module = name[len(prefix) : -len(".lora_A.weight")]
            b = lora[prefix + module + ".lora_B.weight"]
            params[module + ".weight"] = params[module + ".weight"] + scaling * (b @ a).t()
    model = Gpt2(config, params)
    with torch.no_grad():
        logits, _ = model(torch.tensor([ids]))
    print(json.dumps(logits[0].flatten().tolist()))


if __name__ == "__main__":
    main()
