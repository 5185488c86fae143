"""PyTorch twin of benches/finetune_epoch.rs: one fine-tuning epoch of the same EfficientNet-Lite0
(scripts/reference_networks.py, the same ImageNet weights), on the very batches the Rust run
trained on (its augmented pixels and labels, written by the Rust side), with the same stages
learning (the others fixed, their batch norm on running statistics), dropout before the last
layer, label smoothing and AdamW, on the same threads. One warm-up epoch, then the median of the
timed ones, in three settings: PyTorch's default layout, channels-last (its advice for CPU
convolutions), and channels-last under bfloat16 autocast."""
import argparse
import os
import statistics
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "scripts"))
from reference_networks import Lite0, load_safetensors  # noqa: E402

parser = argparse.ArgumentParser()
parser.add_argument("--batches", required=True, help="float32 pixels, N x 3 x 224 x 224, batch after batch")
parser.add_argument("--labels", required=True, help="int64 labels, N")
parser.add_argument("--sizes", required=True, help="comma-separated batch sizes, in order")
parser.add_argument("--weights", required=True)
parser.add_argument("--classes", type=int, required=True)
parser.add_argument("--unfreeze", type=int, required=True, help="learning stages before the pooling (the head convolution is one)")
parser.add_argument("--repeats", type=int, default=2)
parser.add_argument("--threads", type=int, default=2)
args = parser.parse_args()
torch.set_num_threads(args.threads)

sizes = [int(s) for s in args.sizes.split(",")]
total = sum(sizes)
pixels = torch.frombuffer(bytearray(open(args.batches, "rb").read()), dtype=torch.float32).view(total, 3, 224, 224)
labels = torch.frombuffer(bytearray(open(args.labels, "rb").read()), dtype=torch.int64)
batches = list(zip(pixels.split(sizes), labels.split(sizes)))


class Finetuned(nn.Module):
    """Lite0 split where fine-tuning splits it: fixed stages, learning stages, pooling, last layer."""

    def __init__(self, unfreeze):
        super().__init__()
        self.net = Lite0()
        state = load_safetensors(args.weights)
        state = {k: v for k, v in state.items() if not k.startswith("_fc.")}
        self.net.load_state_dict(state, strict=False)
        self.net._fc = nn.Linear(1280, args.classes)
        # Stages before the pooling: the stem, 16 blocks, the head convolution.
        stages = 1 + len(self.net._blocks) + 1
        self.first_learning = stages - unfreeze
        for p in self.net.parameters():
            p.requires_grad_(False)
        for m in self.learning_modules():
            for p in m.parameters():
                p.requires_grad_(True)

    def learning_modules(self):
        blocks = [b for i, b in enumerate(self.net._blocks) if 1 + i >= self.first_learning]
        return blocks + [self.net._conv_head, self.net._bn1, self.net._fc]

    def train_mode(self):
        # Fixed stages keep their running statistics; learning ones use the batch's.
        self.eval()
        for m in self.learning_modules():
            m.train()

    def forward(self, pixels):
        n = self.net
        last_fixed_block = self.first_learning - 2  # index into _blocks; -1 is the stem alone
        with torch.no_grad():
            x = n.to_block(pixels, last_fixed_block)
        for block in n._blocks[last_fixed_block + 1 :]:
            x = block(x)
        x = F.relu6(n._bn1(n._conv_head(x)))
        x = F.dropout(x.mean(dim=(2, 3)), 0.2, training=True)
        return n._fc(x)


def epoch_ms(model, optimizer, channels_last, bf16):
    model.train_mode()
    start = time.perf_counter()
    for x, y in batches:
        if channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            logits = model(x)
        loss = F.cross_entropy(logits.float(), y, label_smoothing=0.1)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    return (time.perf_counter() - start) * 1000.0


def run(name, channels_last, bf16):
    torch.manual_seed(0)
    model = Finetuned(args.unfreeze)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    learning = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(learning, lr=3e-4, weight_decay=0.01)
    epoch_ms(model, optimizer, channels_last, bf16)  # warm-up: allocator, oneDNN kernels
    times = [epoch_ms(model, optimizer, channels_last, bf16) for _ in range(args.repeats)]
    print(f"{name} {statistics.median(times):.1f}", flush=True)


run("pytorch-default-ms", False, False)
run("pytorch-channels-last-ms", True, False)
run("pytorch-channels-last-bf16-ms", True, True)
