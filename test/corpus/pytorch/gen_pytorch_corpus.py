"""Writes Cohort's PyTorch corpus: nn.Sequential models as users save them (torch.save of the whole
module), each with a seeded input.npy and PyTorch's own output for it (expected.npy), and a
spec.yml as IBM FL's PytorchFLModel takes it. No spec gives input_shape: the shape comes from
the data (a party) or the input file (cohort model predict), as for a user who follows the guide.

- guide_sequential: the seed guide's model and spec, as written (../shared/ibm-fl-custom-models-guide.md,
  "PyTorch"), saved as the guide says (pytorch_sequence.pt). Its initial weights are rounded to
  bfloat16 values (still float32 in the file) so that git compresses the 4.7 MB file to about half.
- flatten_mlp, conv32: the two models whose input shape the layers alone mis-guessed ([784] for a
  Flatten fed [1, 28, 28]; 30x30 for a conv net fed 32x32, here MNIST padded to 32x32 as LeNet does).
- the others cover the common layers: Conv2d (also depthwise), BatchNorm2d/1d, Max/Avg/AdaptiveAvgPool2d,
  Linear, Dropout, Flatten, ReLU/LeakyReLU/Tanh/Sigmoid/GELU/Softmax/LogSoftmax.
- shapes/global_pool: a model every image size fits (global pooling), for the shape guess.
- unsupported/conv1d: a module Cohort refuses (Conv1d), to check that the refusal names it.
shapes/ and unsupported/ hold no spec.yml: loader checks only, not trained.

usage: /work/venv/bin/python gen_pytorch_corpus.py [NAME...]   (torch 2.13; writes beside this file)"""
import os, sys
import numpy as np
import torch
from torch import nn

MNIST = (1, 28, 28)
ADAM_NLL = "optimizer: optim.Adam\nloss_criterion: nn.NLLLoss\n"

def guide_sequential():
    model = nn.Sequential(nn.Conv2d(1, 32, 3, 1),
                          nn.ReLU(),
                          nn.Conv2d(32, 64, 3, 1),
                          nn.ReLU(),
                          nn.MaxPool2d(2, 2),
                          nn.Dropout2d(p=0.25),
                          nn.Flatten(),
                          nn.Linear(9216, 128),
                          nn.ReLU(),
                          nn.Dropout2d(p=0.5),
                          nn.Linear(128, 10),
                          nn.LogSoftmax(dim=1)
                          )
    return model, MNIST, "pytorch_sequence.pt", "model_name: pytorch-nn\nmodel_definition: pytorch_sequence.pt\n" + ADAM_NLL

def flatten_mlp():
    # a Flatten first: any shape of 784 values fits the layers; MNIST gives [1, 28, 28]
    return nn.Sequential(nn.Flatten(), nn.Linear(784, 64), nn.ReLU(), nn.Dropout(0.2), nn.Linear(64, 10),
                         nn.LogSoftmax(dim=1)), MNIST, "model.pt", ADAM_NLL + "learning_rate: 0.003\n"

def conv32():
    # 32 -> conv3 30 -> pool 15 -> conv3 13 -> pool 6: 30x30 fits as well (28 -> 14 -> 12 -> 6)
    return nn.Sequential(nn.Conv2d(1, 8, 3), nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(8, 16, 3),
                         nn.LeakyReLU(0.1), nn.MaxPool2d(2), nn.Flatten(), nn.Dropout(0.25), nn.Linear(16 * 6 * 6, 10),
                         nn.LogSoftmax(dim=1)), (1, 32, 32), "model.pt", ADAM_NLL + "learning_rate: 0.003\n"

def depthwise_pools():
    # 28 -> 26 -> depthwise 24 -> pointwise 24 -> max 12 -> avg 6
    return nn.Sequential(nn.Conv2d(1, 8, 3), nn.ReLU(), nn.Conv2d(8, 8, 3, groups=8), nn.Conv2d(8, 16, 1), nn.ReLU(),
                         nn.MaxPool2d(2, 2), nn.AvgPool2d(2), nn.Flatten(), nn.Linear(16 * 6 * 6, 10),
                         nn.LogSoftmax(dim=1)), MNIST, "model.pt", ADAM_NLL + "learning_rate: 0.003\n"

def gelu_adaptive():
    # 28 -> 28 -> avg 14 -> conv3/2 6 -> adaptive 3; logits for CrossEntropyLoss
    return nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.BatchNorm2d(8), nn.GELU(), nn.AvgPool2d(2),
                         nn.Conv2d(8, 16, 3, stride=2), nn.Tanh(), nn.AdaptiveAvgPool2d(3), nn.Flatten(),
                         nn.Linear(16 * 3 * 3, 10)), MNIST, "model.pt", "optimizer: optim.Adam\nloss_criterion: nn.CrossEntropyLoss\nlearning_rate: 0.01\n"

def mlp_bn1d_softmax():
    # ends in Softmax (probabilities, as many inference models do); trained with CrossEntropyLoss
    # over them, whose gradients are small: hence the larger rate
    return nn.Sequential(nn.Flatten(), nn.Linear(784, 32), nn.BatchNorm1d(32), nn.Sigmoid(), nn.Linear(32, 32),
                         nn.GELU(approximate="tanh"), nn.Dropout(0.1), nn.Linear(32, 10), nn.Softmax(dim=1)), MNIST, "model.pt", \
        "optimizer: optim.Adam\nloss_criterion: nn.CrossEntropyLoss\nlearning_rate: 0.03\n"

def global_pool():
    # global pooling before the Linear: every image size fits the layers, so the guess is [1, any, any]
    return nn.Sequential(nn.Conv2d(1, 4, 3, stride=2), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 3)), (1, 12, 12), "model.pt", ADAM_NLL

def conv1d():
    return nn.Sequential(nn.Conv1d(2, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 6, 2)), (2, 8), "model.pt", ADAM_NLL

MODELS = dict(guide_sequential=guide_sequential, flatten_mlp=flatten_mlp, conv32=conv32, depthwise_pools=depthwise_pools,
              gelu_adaptive=gelu_adaptive, mlp_bn1d_softmax=mlp_bn1d_softmax)
# Loader checks only (no spec.yml: not trained in the corpus test): shapes/ and unsupported/.
SHAPES = dict(global_pool=global_pool)
UNSUPPORTED = dict(conv1d=conv1d)

def write(out, name, make):
    torch.manual_seed(1234)
    model, shape, file, spec = make()
    if name == "guide_sequential":
        with torch.no_grad():
            for p in model.parameters():
                p.copy_(p.to(torch.bfloat16).to(torch.float32))
    model.train()  # non-trivial batch-norm running statistics
    with torch.no_grad():
        for _ in range(3):
            model(torch.randn(16, *shape))
    model.eval()
    d = os.path.join(out, name)
    os.makedirs(d, exist_ok=True)
    torch.save(model, os.path.join(d, file))
    x = np.random.default_rng(7).random((4, *shape), dtype=np.float32)
    with torch.no_grad():
        y = model(torch.from_numpy(x)).numpy().astype(np.float32)
    np.save(os.path.join(d, "input.npy"), x)
    np.save(os.path.join(d, "expected.npy"), y)
    if not spec.startswith("model_name"):
        spec = f"model_name: {name}\nmodel_definition: {file}\n" + spec
    if name in MODELS:
        with open(os.path.join(d, "spec.yml"), "w") as f:
            f.write(spec)
    print(name, shape, "->", y.shape, f"{os.path.getsize(os.path.join(d, file))} B")

def main(names):
    here = os.path.dirname(os.path.abspath(__file__))
    print("torch", torch.__version__)
    for name in names or [*MODELS, *SHAPES, *UNSUPPORTED]:
        if name in MODELS:
            write(here, name, MODELS[name])
        else:
            folder = "shapes" if name in SHAPES else "unsupported"
            write(os.path.join(here, folder), name, {**SHAPES, **UNSUPPORTED}[name])

if __name__ == "__main__":
    main(sys.argv[1:])
