"""EfficientNet-Lite0 written with torch.nn from the paper's description, the reference the
network tests (scripts/make-reference-outputs.py) and the forward benchmark
(benches/network_forward.py) compare the Rust engine with; and a minimal safetensors reader."""
import json
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

STAGES = [(1, 3, 1, 1, 16), (2, 3, 2, 6, 24), (2, 5, 2, 6, 40), (3, 3, 2, 6, 80), (3, 5, 1, 6, 112), (4, 5, 2, 6, 192), (1, 3, 1, 6, 320)]


class SameConv(nn.Conv2d):
    def forward(self, x):
        k, s = self.kernel_size[0], self.stride[0]
        ph = max((math.ceil(x.shape[2] / s) - 1) * s + k - x.shape[2], 0)
        pw = max((math.ceil(x.shape[3] / s) - 1) * s + k - x.shape[3], 0)
        if ph % 2 == 0 and pw % 2 == 0:
            # Symmetric: the convolution pads by itself, without a padded copy of the input.
            return F.conv2d(x, self.weight, None, self.stride, (ph // 2, pw // 2), 1, self.groups)
        x = F.pad(x, [pw // 2, pw - pw // 2, ph // 2, ph - ph // 2])
        return F.conv2d(x, self.weight, None, self.stride, 0, 1, self.groups)


class Block(nn.Module):
    def __init__(self, cin, cout, k, s, e):
        super().__init__()
        hidden = cin * e
        if e != 1:
            self._expand_conv = SameConv(cin, hidden, 1, bias=False)
            self._bn0 = nn.BatchNorm2d(hidden, eps=1e-3)
        self.e = e
        self._depthwise_conv = SameConv(hidden, hidden, k, stride=s, groups=hidden, bias=False)
        self._bn1 = nn.BatchNorm2d(hidden, eps=1e-3)
        self._project_conv = SameConv(hidden, cout, 1, bias=False)
        self._bn2 = nn.BatchNorm2d(cout, eps=1e-3)
        self.skip = s == 1 and cin == cout

    def forward(self, x):
        y = F.relu6(self._bn0(self._expand_conv(x))) if self.e != 1 else x
        y = F.relu6(self._bn1(self._depthwise_conv(y)))
        y = self._bn2(self._project_conv(y))
        return y + x if self.skip else y


class Lite0(nn.Module):
    def __init__(self):
        super().__init__()
        self._conv_stem = SameConv(3, 32, 3, stride=2, bias=False)
        self._bn0 = nn.BatchNorm2d(32, eps=1e-3)
        blocks, cin = [], 32
        for repeats, k, s, e, cout in STAGES:
            for r in range(repeats):
                blocks.append(Block(cin, cout, k, s if r == 0 else 1, e))
                cin = cout
        self._blocks = nn.ModuleList(blocks)
        self._conv_head = SameConv(cin, 1280, 1, bias=False)
        self._bn1 = nn.BatchNorm2d(1280, eps=1e-3)
        self._fc = nn.Linear(1280, 1000)

    def to_block(self, pixels, last):
        x = (pixels * 255.0 - 127.0) / 128.0
        x = F.relu6(self._bn0(self._conv_stem(x)))
        for block in self._blocks[: last + 1]:
            x = block(x)
        return x

    def from_block(self, x, last):
        for block in self._blocks[last + 1 :]:
            x = block(x)
        x = F.relu6(self._bn1(self._conv_head(x)))
        return self._fc(x.mean(dim=(2, 3)))

    def forward(self, pixels):
        return self.from_block(self.to_block(pixels, -1), -1)


def load_safetensors(path):
    """A minimal safetensors reader (float32 only), so the script needs no other package."""
    with open(path, "rb") as f:
        n = int.from_bytes(f.read(8), "little")
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        assert info["dtype"] == "F32", name
        a, b = info["data_offsets"]
        out[name] = torch.frombuffer(bytearray(data[a:b]), dtype=torch.float32).view(info["shape"]).clone()
    return out


