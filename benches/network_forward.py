"""PyTorch twin of benches/network_forward.rs: the same EfficientNet-Lite0 (scripts/
reference_networks.py), weights, photos, batch and threads; two warm-up passes, then the median
of the timed ones, in the default layout, in channels-last (PyTorch's advice for CPU inference),
and as TorchScript traced on this batch, frozen and optimised for inference (batch norm folded
into the convolutions), its best CPU inference setting, in the faster of the two layouts."""
import argparse
import os
import statistics
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "scripts"))
from reference_networks import Lite0, load_safetensors  # noqa: E402

parser = argparse.ArgumentParser()
parser.add_argument("--photos", required=True)
parser.add_argument("--weights", required=True)
parser.add_argument("--batch", type=int, default=64)
parser.add_argument("--repeats", type=int, default=7)
parser.add_argument("--threads", type=int, default=2)
args = parser.parse_args()
torch.set_num_threads(args.threads)

raw = open(args.photos, "rb").read()
pixels = torch.frombuffer(bytearray(raw), dtype=torch.uint8).view(args.batch, 224, 224, 3)
pixels = pixels.permute(0, 3, 1, 2).float().div(255.0).contiguous()
model = Lite0()
model.load_state_dict(load_safetensors(args.weights), strict=True)
model.eval()


def timed(model, x):
    with torch.inference_mode():
        for _ in range(2):
            model(x).sum().item()
        times = []
        for _ in range(args.repeats):
            start = time.perf_counter()
            model(x).sum().item()
            times.append((time.perf_counter() - start) * 1000.0)
    return statistics.median(times)


def frozen(model, x):
    with torch.no_grad():
        return torch.jit.optimize_for_inference(torch.jit.freeze(torch.jit.trace(model, x).eval()))


default = timed(model, pixels)
print(f"pytorch-default-ms {default:.2f}")
frozen_default = timed(frozen(model, pixels), pixels)
model = model.to(memory_format=torch.channels_last)
pixels = pixels.contiguous(memory_format=torch.channels_last)
print(f"pytorch-channels-last-ms {timed(model, pixels):.2f}")
frozen_last = timed(frozen(model, pixels), pixels)
print(f"pytorch-torchscript-frozen-ms {min(frozen_default, frozen_last):.2f}")
