"""Loads a genlab (or Hugging Face) GPT-2 folder with the PyTorch reference and prints the logits
of the given token ids as JSON: shows that what genlab writes reads back in Python by name.
Usage: score-folder.py MODEL_DIR '[ids...]'"""

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
    model = Gpt2(config, params)
    with torch.no_grad():
        logits, _ = model(torch.tensor([ids]))
    print(json.dumps(logits[0].flatten().tolist()))


if __name__ == "__main__":
    main()
