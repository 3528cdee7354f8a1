"""Writes Cohort's own PyTorch fixtures: small nn.Sequential models covering every module the
PytorchFLModel loader converts, saved whole with torch.save (zip format; one in the legacy
format), their ONNX export, a seeded input and PyTorch's output for it. Follows
../shared/fixtures/tools/gen_pytorch_fixtures.py. Needs Debian's python3-torch (torch 1.13).
usage: /usr/bin/python3 gen.py [NAME...]   (writes beside this file)"""
import os, sys
import numpy as np
import torch
from torch import nn

def conv_pad_stride():
    # int padding with stride 2, string 'same' padding with dilation, tuple padding without bias
    return nn.Sequential(nn.Conv2d(3, 4, 3, stride=2, padding=1), nn.ReLU6(),
                         nn.Conv2d(4, 4, (3, 2), padding='same', dilation=2), nn.LeakyReLU(0.2),
                         nn.Conv2d(4, 6, 3, padding=(1, 2), bias=False), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Flatten(), nn.Linear(6 * 3 * 4, 10), nn.Softmax(dim=1)), (3, 12, 12)

def bn_pools():
    return nn.Sequential(nn.Conv2d(2, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ELU(alpha=0.5), nn.AvgPool2d(2),
                         nn.Conv2d(4, 4, 3), nn.Tanh(), nn.AvgPool2d(3, stride=1, padding=1),
                         nn.MaxPool2d(3, stride=1, padding=1), nn.Dropout2d(0.2), nn.AdaptiveAvgPool2d(1),
                         nn.Flatten(), nn.Linear(4, 3), nn.Sigmoid()), (2, 16, 16)

def mlp_bn1d():
    return nn.Sequential(nn.Linear(8, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Dropout(0.3), nn.Linear(16, 8),
                         nn.Identity(), nn.ELU(), nn.Linear(8, 4), nn.LogSoftmax(dim=-1)), (8,)

def channel_softmax():
    # softmax / log-softmax over channels of an image output: the output stays NCHW
    return nn.Sequential(nn.Conv2d(3, 5, 1), nn.LogSoftmax(dim=1), nn.Conv2d(5, 4, 3, stride=(1, 2)),
                         nn.Softmax(dim=1)), (3, 6, 8)

def nested_strided():
    # nested Sequential; a transposed (non-contiguous) weight and a bias at a storage offset
    inner = nn.Sequential(nn.Linear(6, 4), nn.Tanh())
    base = torch.randn(12)
    inner[0].weight = nn.Parameter(torch.randn(6, 4).t())
    inner[0].bias = nn.Parameter(base[5:9])
    assert not inner[0].weight.is_contiguous() and inner[0].bias.storage_offset() == 5
    return nn.Sequential(nn.Linear(5, 6), nn.Sigmoid(), inner, nn.Linear(4, 2)), (5,)

def mnist_cnn():
    # untrained MNIST classifier for the federation test (test/federation-formats.test.ts):
    # 28 -> conv5 24 -> pool 12 -> conv5 8 -> pool 4, so Flatten gives 16*4*4 = 256
    return nn.Sequential(nn.Conv2d(1, 8, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(8, 16, 5), nn.ReLU(),
                         nn.MaxPool2d(2), nn.Flatten(), nn.Linear(256, 10), nn.LogSoftmax(dim=1)), (1, 28, 28)

def legacy_mlp():
    return nn.Sequential(nn.Linear(3, 5), nn.ReLU(), nn.Linear(5, 2)), (3,)

MODELS = dict(conv_pad_stride=conv_pad_stride, bn_pools=bn_pools, mlp_bn1d=mlp_bn1d,
              channel_softmax=channel_softmax, nested_strided=nested_strided, legacy_mlp=legacy_mlp,
              mnist_cnn=mnist_cnn)
# a classifier trains with its own criterion and rate, as the IBM FL guide's PyTorch spec says
TRAINING = dict(mnist_cnn="optimizer: optim.Adam\nloss_criterion: nn.NLLLoss\nlearning_rate: 0.003\n")

def main(names):
    out = os.path.dirname(os.path.abspath(__file__))
    for name in names:
        torch.manual_seed(1234)
        model, shape = MODELS[name]()
        model.train()  # non-trivial batch-norm running statistics
        with torch.no_grad():
            for _ in range(3):
                model(torch.randn(16, *shape))
        model.eval()
        d = os.path.join(out, name)
        os.makedirs(d, exist_ok=True)
        torch.save(model, os.path.join(d, 'model.pt'), _use_new_zipfile_serialization=(name != 'legacy_mlp'))
        x = np.random.default_rng(7).random((4, *shape), dtype=np.float32)
        with torch.no_grad():
            y = model(torch.from_numpy(x)).numpy().astype(np.float32)
        np.save(os.path.join(d, 'input.npy'), x)
        np.save(os.path.join(d, 'expected.npy'), y)
        try:
            torch.onnx.export(model, torch.from_numpy(x), os.path.join(d, 'model.onnx'), input_names=['input'],
                              output_names=['output'], dynamic_axes={'input': {0: 'batch'}, 'output': {0: 'batch'}},
                              opset_version=13)
        except Exception as e:  # not every module exports; the .pt fixture stands alone
            print(name, 'no ONNX:', e)
        with open(os.path.join(d, 'spec.yml'), 'w') as f:
            training = TRAINING.get(name, "optimizer: optim.Adam\nloss_criterion: nn.MSELoss\n")
            f.write(f"model_name: {name}\nmodel_definition: model.pt\n{training}"
                    f"input_shape: [{', '.join(map(str, shape))}]\n")
        print(name, shape, '->', y.shape)

if __name__ == '__main__':
    main(sys.argv[1:] or list(MODELS))
