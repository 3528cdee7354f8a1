"""PyTorch baseline for train_vs_torch: the Keras MNIST CNN (the seed guide's model) trained
with Adam on batches of 64 MNIST-shaped inputs, timed over N steps after 3 warm-up steps.
Usage: /work/venv/bin/python bench/pytorch_cnn.py [steps=20] [threads=all cores] (PyTorch 2.13
from the local wheel index; Debian's 1.13 is several times slower). Prints one JSON line."""
import json
import os
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

steps = int(sys.argv[1]) if len(sys.argv) > 1 else 20
threads = int(sys.argv[2]) if len(sys.argv) > 2 else (os.cpu_count() or 1)
torch.set_num_threads(threads)
torch.manual_seed(0)
BATCH = 64


class KerasMnistCnn(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, 3)
        self.conv2 = nn.Conv2d(32, 64, 3)
        self.drop1 = nn.Dropout(0.25)
        self.fc1 = nn.Linear(12 * 12 * 64, 128)
        self.drop2 = nn.Dropout(0.5)
        self.fc2 = nn.Linear(128, 10)

    def forward(self, x):
        x = F.relu(self.conv1(x))
        x = F.relu(self.conv2(x))
        x = self.drop1(F.max_pool2d(x, 2))
        x = self.drop2(F.relu(self.fc1(torch.flatten(x, 1))))
        return F.log_softmax(self.fc2(x), dim=1)


model = KerasMnistCnn()
model.train()
optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
xs = [torch.rand(BATCH, 1, 28, 28) for _ in range(4)]
ys = [torch.randint(0, 10, (BATCH,)) for _ in range(4)]


def step(i):
    optimizer.zero_grad()
    loss = F.nll_loss(model(xs[i % 4]), ys[i % 4])
    loss.backward()
    optimizer.step()


for i in range(3):
    step(i)
start = time.perf_counter()
for i in range(steps):
    step(i)
seconds = time.perf_counter() - start
print(json.dumps({"samples_per_second": steps * BATCH / seconds, "ms_per_batch": seconds * 1000 / steps,
                  "steps": steps, "threads": threads, "torch": torch.__version__}))
