"""Writes the PyTorch oracle fixture for genlab's GPT (src/models/fixtures/gpt-tiny/):
model.safetensors + config.json (HF GPT-2 layout), and expected.safetensors with ids, targets,
logits, loss, gradients of a few tensors and the losses/weights after 3 AdamW steps.
Run: OPENBLAS_CORETYPE=SkylakeX /usr/bin/python3 scripts/make-gpt-fixture.py [OUT_DIR]
(OUT_DIR defaults to the fixture folder; src/models/gpt.test.ts writes a fresh copy elsewhere and
compares it with the committed one.)"""

import json
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(__file__))
from gpt_reference import Gpt2, init_params, save_safetensors  # noqa: E402

OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "src", "models", "fixtures", "gpt-tiny")
CONFIG = {
    "architectures": ["GPT2LMHeadModel"], "model_type": "gpt2", "activation_function": "gelu_new",
    "vocab_size": 61, "n_positions": 16, "n_embd": 32, "n_layer": 2, "n_head": 4, "n_inner": None,
    "layer_norm_epsilon": 1e-5, "embd_pdrop": 0.0, "resid_pdrop": 0.0, "attn_pdrop": 0.0,
    "initializer_range": 0.02, "bos_token_id": 0, "eos_token_id": 0, "tie_word_embeddings": True,
}
GRAD_NAMES = ["wte.weight", "wpe.weight", "h.0.attn.c_attn.weight", "h.1.mlp.c_proj.bias", "h.0.ln_1.weight", "ln_f.bias"]
ADAM = {"lr": 1e-2, "betas": (0.9, 0.95), "eps": 1e-8, "weight_decay": 0.1}


def main():
    torch.manual_seed(0)
    os.makedirs(OUT, exist_ok=True)
    params = init_params(CONFIG, seed=1)
    save_safetensors(os.path.join(OUT, "model.safetensors"), params, {"format": "pt"})
    with open(os.path.join(OUT, "config.json"), "w") as f:
        json.dump(CONFIG, f, indent=2)

    g = torch.Generator().manual_seed(2)
    ids = torch.randint(0, CONFIG["vocab_size"], (2, 12), generator=g)
    targets = torch.randint(0, CONFIG["vocab_size"], (2, 12), generator=g)
    targets[0, 3] = -100  # ignored position

    model = Gpt2(CONFIG, params)
    logits, loss = model(ids, targets)
    loss.backward()
    expected = {"ids": ids.int(), "targets": targets.int(), "logits": logits.detach(), "loss": loss.detach().reshape(1)}
    for name in GRAD_NAMES:
        expected["grad." + name] = model.w(name).grad.detach().clone()

    model = Gpt2(CONFIG, params)
    decay = [p for k, p in model.p.items() if p.dim() >= 2]
    no_decay = [p for k, p in model.p.items() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": ADAM["weight_decay"]}, {"params": no_decay, "weight_decay": 0.0}],
                            lr=ADAM["lr"], betas=ADAM["betas"], eps=ADAM["eps"])
    losses = []
    for _ in range(3):
        opt.zero_grad()
        _, l = model(ids, targets)
        l.backward()
        opt.step()
        losses.append(l.item())
    expected["adam.losses"] = torch.tensor(losses)
    for name in ["h.0.attn.c_attn.weight", "ln_f.weight", "wte.weight"]:
        expected["adam." + name] = model.w(name).detach().clone()
    save_safetensors(os.path.join(OUT, "expected.safetensors"), expected, {"adam": json.dumps(ADAM)})
    print(f"wrote fixture to {os.path.normpath(OUT)}: loss {loss.item():.6f}, adam losses {losses}")


if __name__ == "__main__":
    main()
