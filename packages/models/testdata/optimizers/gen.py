"""Reference training trajectories for Cohort's optimizers and losses, computed by the frameworks
themselves (torch 2.13, Keras 3.15 on TensorFlow 2.21): a small model, its initial weights, a few
batches, and the weights after each step. packages/models/src/optimizers/reference.spec.ts
replays the same batches in Cohort and compares.

usage: /work/venv/bin/python gen.py [torch] [keras]   (writes beside this file; deterministic)

Writes:
  torch/<model>.pt            nn.Sequential saved whole (what a PytorchFLModel spec points at)
  torch/cases.json            one entry per case: model, optimizer {name, params}, loss, steps
  torch/<case>.npz            x{i}, y{i} (batch i), w{i}__<state_dict key> (weights after step i), loss{i}
  keras/<case>.keras          a compiled Keras 3 model (its compile_config names optimizer and loss)
  keras/cases.json, keras/<case>.npz   as above; w{i}__<j> is model.get_weights()[j]
"""
import json, os
import numpy as np

OUT = os.path.dirname(os.path.abspath(__file__))
STEPS, BATCH, FEATURES, HIDDEN, CLASSES = 4, 5, 6, 8, 4


def batches(rng, kind):
    xs, ys = [], []
    for _ in range(STEPS):
        xs.append(rng.standard_normal((BATCH, FEATURES)).astype(np.float32))
        if kind == "class":
            ys.append(rng.integers(0, CLASSES, BATCH).astype(np.int32))
        elif kind == "binary":
            ys.append(rng.integers(0, 2, (BATCH, CLASSES)).astype(np.float32))
        else:
            ys.append(rng.standard_normal((BATCH, CLASSES)).astype(np.float32))
    return xs, ys


# ---------------------------------------------------------------- PyTorch
TORCH_CASES = [
    # (case, head, optimizer name, params, loss, label kind)
    ("sgd_plain", "logits", "SGD", {"lr": 0.1}, "CrossEntropyLoss", "class"),
    ("sgd_momentum_dampening_wd", "logits", "SGD", {"lr": 0.05, "momentum": 0.9, "dampening": 0.1, "weight_decay": 0.01}, "CrossEntropyLoss", "class"),
    ("sgd_nesterov", "logits", "SGD", {"lr": 0.05, "momentum": 0.8, "nesterov": True}, "MSELoss", "real"),
    ("adam_default", "logsoftmax", "Adam", {}, "NLLLoss", "class"),
    ("adam_amsgrad_wd", "logits", "Adam", {"lr": 0.01, "amsgrad": True, "weight_decay": 0.05}, "CrossEntropyLoss", "class"),
    ("adamw_default", "logits", "AdamW", {"lr": 0.01}, "L1Loss", "real"),
    ("rmsprop_default", "logits", "RMSprop", {}, "MSELoss", "real"),
    ("rmsprop_momentum_centered", "sigmoid", "RMSprop", {"lr": 0.005, "momentum": 0.5, "centered": True, "weight_decay": 0.01}, "BCELoss", "binary"),
    ("adagrad_default", "logits", "Adagrad", {}, "BCEWithLogitsLoss", "binary"),
    ("adagrad_decay_init", "logsoftmax", "Adagrad", {"lr": 0.05, "lr_decay": 0.1, "initial_accumulator_value": 0.2, "eps": 1e-8}, "NLLLoss", "class"),
    ("adadelta_ibmfl", "logsoftmax", "Adadelta", {"lr": 1.0}, "NLLLoss", "class"),
    ("adadelta_rho_wd", "logits", "Adadelta", {"lr": 0.5, "rho": 0.8, "eps": 1e-5, "weight_decay": 0.02}, "CrossEntropyLoss", "class"),
]


def torch_models():
    import torch
    from torch import nn
    heads = {"logits": [], "logsoftmax": [nn.LogSoftmax(dim=1)], "sigmoid": [nn.Sigmoid()]}
    out = {}
    for head, extra in heads.items():
        torch.manual_seed(7)
        out[head] = nn.Sequential(nn.Linear(FEATURES, HIDDEN), nn.Tanh(), nn.Linear(HIDDEN, CLASSES), *extra)
    return out


def gen_torch():
    import copy
    import torch
    from torch import nn
    d = os.path.join(OUT, "torch")
    os.makedirs(d, exist_ok=True)
    models = torch_models()
    for head, m in models.items():
        torch.save(m, os.path.join(d, f"mlp_{head}.pt"))
    cases = []
    for i, (case, head, opt, params, loss, kind) in enumerate(TORCH_CASES):
        model = copy.deepcopy(models[head])
        optimizer = getattr(torch.optim, opt)(model.parameters(), **params)
        criterion = getattr(nn, loss)()
        xs, ys = batches(np.random.default_rng(100 + i), kind)
        arrays = {}
        for s, (x, y) in enumerate(zip(xs, ys)):
            optimizer.zero_grad()
            target = torch.from_numpy(y).long() if kind == "class" else torch.from_numpy(y)
            value = criterion(model(torch.from_numpy(x)), target)
            value.backward()
            optimizer.step()
            arrays[f"x{s}"], arrays[f"y{s}"], arrays[f"loss{s}"] = x, y, np.float32(value.item())
            for k, v in model.state_dict().items():
                arrays[f"w{s}__{k}"] = v.detach().numpy().astype(np.float32)
        np.savez(os.path.join(d, f"{case}.npz"), **arrays)
        cases.append({"case": case, "model": f"mlp_{head}.pt", "optimizer": {"name": f"optim.{opt}", **params},
                      "loss_criterion": f"nn.{loss}", "labels": kind, "steps": STEPS})
    with open(os.path.join(d, "cases.json"), "w") as f:
        json.dump({"generator": "gen.py", "torch": torch.__version__, "cases": cases}, f, indent=1)


# ---------------------------------------------------------------- Keras 3
KERAS_CASES = [
    # (case, output activation, optimizer config (class, kwargs), loss (name or class + kwargs), label kind)
    ("sgd_momentum", "softmax", ("SGD", {"learning_rate": 0.1, "momentum": 0.9}), "categorical_crossentropy", "onehot"),
    ("sgd_nesterov_wd", "linear", ("SGD", {"learning_rate": 0.05, "momentum": 0.7, "nesterov": True, "weight_decay": 0.01}), "mse", "real"),
    ("adam_default", "softmax", ("Adam", {}), "sparse_categorical_crossentropy", "class"),
    ("adam_amsgrad_clipnorm", "linear", ("Adam", {"learning_rate": 0.01, "amsgrad": True, "clipnorm": 0.5}), ("CategoricalCrossentropy", {"from_logits": True, "label_smoothing": 0.1}), "onehot"),
    ("adamw_default", "linear", ("AdamW", {"learning_rate": 0.01}), "mae", "real"),
    ("rmsprop_default", "sigmoid", ("RMSprop", {}), "binary_crossentropy", "binary"),
    ("rmsprop_momentum_centered", "linear", ("RMSprop", {"learning_rate": 0.01, "momentum": 0.5, "centered": True}), ("BinaryCrossentropy", {"from_logits": True, "label_smoothing": 0.2}), "binary"),
    ("adagrad_default", "linear", ("Adagrad", {"learning_rate": 0.05}), ("SparseCategoricalCrossentropy", {"from_logits": True}), "class"),
    ("adadelta_default", "softmax", ("Adadelta", {}), "categorical_crossentropy", "onehot"),
    # Keras 2.2.4's Adadelta defaults (lr 1.0, rho 0.95, epsilon 1e-7), whose rule Keras 3 keeps:
    # the spec replays it with compile options naming only "adadelta" on a Keras 2.2.4 model.
    ("adadelta_keras2_defaults", "softmax", ("Adadelta", {"learning_rate": 1.0, "rho": 0.95, "epsilon": 1e-7}), "categorical_crossentropy", "onehot"),
    ("adamax_clipvalue", "softmax", ("Adamax", {"learning_rate": 0.02, "clipvalue": 0.05}), "categorical_crossentropy", "onehot"),
]


def gen_keras():
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    import keras
    d = os.path.join(OUT, "keras")
    os.makedirs(d, exist_ok=True)
    cases = []
    for i, (case, activation, (opt, kwargs), loss, kind) in enumerate(KERAS_CASES):
        # A fresh session per case: layers get the names a new Python process gives them.
        keras.backend.clear_session()
        keras.utils.set_random_seed(11)
        model = keras.Sequential([keras.Input((FEATURES,)), keras.layers.Dense(HIDDEN, activation="tanh"),
                                  keras.layers.Dense(CLASSES, activation=activation)], name=case)
        loss_obj = loss if isinstance(loss, str) else getattr(keras.losses, loss[0])(**loss[1])
        model.compile(optimizer=getattr(keras.optimizers, opt)(**kwargs), loss=loss_obj)
        model.save(os.path.join(d, f"{case}.keras"))
        xs, ys = batches(np.random.default_rng(200 + i), "class" if kind == "onehot" else kind)
        if kind == "onehot":
            ys = [np.eye(CLASSES, dtype=np.float32)[y] for y in ys]
        arrays = {}
        for s, (x, y) in enumerate(zip(xs, ys)):
            value = model.train_on_batch(x, y)
            arrays[f"x{s}"], arrays[f"y{s}"], arrays[f"loss{s}"] = x, y, np.float32(value)
            for j, w in enumerate(model.get_weights()):
                arrays[f"w{s}__{j}"] = w.astype(np.float32)
        np.savez(os.path.join(d, f"{case}.npz"), **arrays)
        cases.append({"case": case, "model": f"{case}.keras", "optimizer": opt, "config": kwargs, "loss": loss, "labels": kind, "steps": STEPS})
    with open(os.path.join(d, "cases.json"), "w") as f:
        json.dump({"generator": "gen.py", "keras": keras.__version__, "cases": cases}, f, indent=1)


if __name__ == "__main__":
    import sys
    which = sys.argv[1:] or ["torch", "keras"]
    if "torch" in which:
        gen_torch()
    if "keras" in which:
        gen_keras()
