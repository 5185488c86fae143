"""PyTorch twin of the Rust training benchmark: the same network (conv 5x5/5x5/3x3/3x3 with SAME
padding, ReLU, 2x2 max-pool; fc 4608-1024-512-classes with dropout 0.5), the same recipe (Adam,
lr 0.001, batch 64, shuffled), the same decoded images and split, the same thread count.
An epoch is a training pass plus a validation pass, as in the Rust engine. --channels-last runs the
convolutions on NHWC memory (PyTorch's advice for CPU training), the input and the weights.
--bf16 runs forward passes and the loss under torch.autocast("cpu", dtype=torch.bfloat16), with
float32 weights and optimiser, as PyTorch documents mixed precision on the CPU."""
import argparse, os, statistics, time
import torch
import torch.nn as nn
import torch.nn.functional as F

parser = argparse.ArgumentParser()
parser.add_argument("--data", required=True)
parser.add_argument("--epochs", type=int, default=3)
parser.add_argument("--threads", type=int, default=2)
parser.add_argument("--classes", type=int, required=True)
parser.add_argument("--channels-last", action="store_true")
parser.add_argument("--bf16", action="store_true")
args = parser.parse_args()
torch.set_num_threads(args.threads)
torch.manual_seed(1)

def load(name):
    raw = open(os.path.join(args.data, f"{name}_images.u8"), "rb").read()
    labels = open(os.path.join(args.data, f"{name}_labels.u8"), "rb").read()
    images = torch.frombuffer(bytearray(raw), dtype=torch.uint8).view(-1, 100, 100, 3)
    images = images.permute(0, 3, 1, 2).float().div(255.0).contiguous()
    return images, torch.tensor(list(labels), dtype=torch.int64)

class Net(nn.Module):
    def __init__(self, classes):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 32, 5, padding=2)
        self.conv2 = nn.Conv2d(32, 64, 5, padding=2)
        self.conv3 = nn.Conv2d(64, 128, 3, padding=1)
        self.conv4 = nn.Conv2d(128, 128, 3, padding=1)
        self.fc1 = nn.Linear(128 * 6 * 6, 1024)
        self.fc2 = nn.Linear(1024, 512)
        self.fc3 = nn.Linear(512, classes)

    def forward(self, x):
        for conv in (self.conv1, self.conv2, self.conv3, self.conv4):
            x = F.max_pool2d(F.relu(conv(x)), 2)
        x = F.relu(self.fc1(x.flatten(1)))
        x = F.relu(self.fc2(F.dropout(x, 0.5, self.training)))
        return self.fc3(F.dropout(x, 0.5, self.training))

train_x, train_y = load("train")
val_x, val_y = load("val")
net = Net(args.classes)
layout = torch.channels_last if args.channels_last else torch.contiguous_format
net = net.to(memory_format=layout)
optimizer = torch.optim.Adam(net.parameters(), lr=0.001)
times = []
for epoch in range(1, args.epochs + 1):
    start = time.perf_counter()
    net.train()
    order = torch.randperm(len(train_y))
    for i in range(0, len(order), 64):
        batch = order[i:i + 64]
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=args.bf16):
            loss = F.cross_entropy(net(train_x[batch].contiguous(memory_format=layout)), train_y[batch])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    net.eval()
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=args.bf16):
        correct = sum((net(val_x[i:i + 256]).argmax(1) == val_y[i:i + 256]).sum().item() for i in range(0, len(val_y), 256))
    elapsed = time.perf_counter() - start
    times.append(elapsed)
    print(f"pytorch epoch {epoch} {elapsed:.2f} s  (val acc {correct / len(val_y):.3f})", flush=True)
rest = times[1:] if len(times) > 1 else times
print(f"pytorch median epoch: {statistics.median(rest):.3f} s (torch {torch.__version__}, {torch.get_num_threads()} threads)")
