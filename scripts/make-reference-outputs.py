#!/usr/bin/env python3
"""Writes the reference outputs the network tests compare against, once, with PyTorch.

Run it with a Python that has torch 2.13 and torchvision 0.28, e.g. the venv
scripts/bench-train.sh makes:

    python3 -m venv /tmp/ref && /tmp/ref/bin/pip install torch==2.13.0 torchvision==0.28.0 numpy
    /tmp/ref/bin/python scripts/make-reference-outputs.py

It writes into tests/fixtures/networks/:
  - efficientnet-lite0.json: logits of the shipped EfficientNet-Lite0 weights on fixed inputs,
    from an EfficientNet-Lite0 written here with torch.nn (TensorFlow "same" padding, ReLU6,
    batch-norm eps 1e-3), and a Grad-CAM and an Integrated Gradients map computed in float64;
  - resnet18.json, resnet50.json: logits of torchvision's ResNets whose weights are the
    formula `formula_state_dict` states (the Rust tests build the same weights);
  - state dicts in both torch.save formats and a hostile pickle, for the reader's tests.
Tests never run it: they read what it wrote.
"""
import json
import math
import os
import pickle
import sys
from collections import OrderedDict

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from reference_networks import Lite0, load_safetensors  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "tests", "fixtures", "networks")
LITE0 = os.path.join(ROOT, "weights", "efficientnet-lite0-imagenet.safetensors")


def fixed_inputs(side, count=2):
    """Pictures in [0, 1]: x[n, c, h, w] = 0.5 + 0.5 sin(0.05 h + 0.07 w + c + 1.3 n)."""
    h = torch.arange(side, dtype=torch.float64).view(1, 1, side, 1)
    w = torch.arange(side, dtype=torch.float64).view(1, 1, 1, side)
    c = torch.arange(3, dtype=torch.float64).view(1, 3, 1, 1)
    n = torch.arange(count, dtype=torch.float64).view(count, 1, 1, 1)
    return (0.5 + 0.5 * torch.sin(0.05 * h + 0.07 * w + c + 1.3 * n)).float()


def grad_cam(model, pixels, block, cls):
    """Grad-CAM at a block's output: ReLU(sum_c mean(dy/dA_c) A_c), in float64."""
    a = model.to_block(pixels, block).detach().requires_grad_(True)
    y = model.from_block(a, block)[0, cls]
    (g,) = torch.autograd.grad(y, a)
    weights = g.mean(dim=(2, 3), keepdim=True)
    return F.relu((weights * a).sum(dim=1))[0]


def integrated_gradients(model, pixels, cls, steps):
    """Sum over channels of (x - 0) * mean of the gradients at k/steps x, k = 1..steps (right
    Riemann sum from a black baseline), in float64."""
    total = torch.zeros_like(pixels)
    for k in range(1, steps + 1):
        x = (pixels * k / steps).detach().requires_grad_(True)
        y = model(x)[0, cls]
        (g,) = torch.autograd.grad(y, x)
        total += g
    return (pixels * total / steps).sum(dim=1)[0]


def lite0_reference():
    model = Lite0()
    state = load_safetensors(LITE0)
    model.load_state_dict(state, strict=True)
    model.eval()
    pixels = fixed_inputs(224)
    with torch.no_grad():
        logits = model(pixels)
    model64 = model.double()
    picture = pixels[:1].double()
    with torch.no_grad():
        cls = int(model64(picture)[0].argmax())
    cams = {str(b): grad_cam(model64, picture, b, cls).flatten().tolist() for b in (5, 10)}
    ig = integrated_gradients(model64, picture, cls, 16)
    return {
        "architecture": "efficientnet-lite0",
        "input": "0.5 + 0.5 sin(0.05 h + 0.07 w + c + 1.3 n), 224 x 224, two pictures",
        "logits": logits.tolist(),
        "class": cls,
        "grad_cam": cams,
        "integrated_gradients_steps": 16,
        # Summed over 8 x 8 squares (28 x 28 numbers), which keeps the file small.
        "integrated_gradients_8x8": ig.view(28, 8, 28, 8).sum(dim=(1, 3)).flatten().tolist(),
        "integrated_gradients_total": float(ig.sum()),
    }


# --- ResNets with weights from a formula --------------------------------------------------------
def formula_tensor(name, shape, index):
    """The weights the Rust tests build too: sin waves, scaled so activations stay moderate."""
    numel = math.prod(shape) if shape else 1
    t = torch.sin(torch.arange(numel, dtype=torch.float64) * 0.37 + index * 0.91).view(shape)
    last = name.rsplit(".", 1)[-1]
    if last == "running_var":
        return (1.0 + 0.25 * (t + 1.0)).float()
    if last in ("running_mean", "bias"):
        return (0.1 * t).float()
    if len(shape) == 1:  # batch-norm weight
        return (1.0 + 0.1 * t).float()
    fan_in = math.prod(shape[1:])
    return (t * math.sqrt(3.0 / fan_in)).float()


def formula_state_dict(model):
    names = sorted(k for k in model.state_dict() if not k.endswith("num_batches_tracked"))
    return {k: formula_tensor(k, list(model.state_dict()[k].shape), i) for i, k in enumerate(names)}


def resnet_reference(arch):
    import torchvision

    model = getattr(torchvision.models, arch)(weights=None, num_classes=10)
    model.load_state_dict(formula_state_dict(model), strict=False)
    model.eval()
    with torch.no_grad():
        logits = model(torchvision.transforms.functional.normalize(fixed_inputs(224), [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]))
    return {"architecture": arch, "classes": 10, "logits": logits.tolist()}


# --- state dict files ----------------------------------------------------------------------------
def small_state_dict():
    weight = torch.arange(24, dtype=torch.float32).view(2, 3, 4)
    return OrderedDict(
        [
            ("conv.weight", weight),
            ("conv.transposed", weight.transpose(0, 2)),  # a view with other strides
            ("norm.running_var", torch.tensor([0.5, 2.0], dtype=torch.float64)),
            ("norm.half", torch.tensor([1.5, -2.25], dtype=torch.float16)),
            ("norm.num_batches_tracked", torch.tensor(7)),
        ]
    )


class Hostile:
    """Unpickling this would run a shell command."""

    def __reduce__(self):
        return (os.system, ("touch /tmp/activation-atlas-pickle-ran",))


def state_dict_files():
    torch.save(small_state_dict(), os.path.join(OUT, "small-zip.pth"))
    torch.save(small_state_dict(), os.path.join(OUT, "small-legacy.pth"), _use_new_zipfile_serialization=False)
    wrapped = {"epoch": 3, "state_dict": OrderedDict(("module." + k, v) for k, v in small_state_dict().items())}
    torch.save(wrapped, os.path.join(OUT, "wrapped-zip.pth"))
    with open(os.path.join(OUT, "hostile.pth"), "wb") as f:
        pickle.dump(OrderedDict([("conv.weight", Hostile())]), f, protocol=2)


def main():
    os.makedirs(OUT, exist_ok=True)
    torch.manual_seed(0)
    torch.set_num_threads(2)
    state_dict_files()
    with open(os.path.join(OUT, "efficientnet-lite0.json"), "w") as f:
        json.dump(lite0_reference(), f)
    for arch in ("resnet18", "resnet50"):
        with open(os.path.join(OUT, f"{arch}.json"), "w") as f:
            json.dump(resnet_reference(arch), f)
    print("wrote", sorted(os.listdir(OUT)), file=sys.stderr)


if __name__ == "__main__":
    main()
