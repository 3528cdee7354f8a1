"""Writes the Keras corpus: real files saved by Keras 3 (keras 3.15.1 on TensorFlow 2.21),
each beside `input.npy` (a seeded input) and `expected.npy` (Keras' own `model.predict` of it).

Run from the repository root:  /work/venv/bin/python test/corpus/keras/gen_keras_corpus.py

Every model is tiny (the corpus stays a few MB) except the seed guide's first CNN, written as
the guide writes it. Layer names are made non-default on purpose (models are built after
throwaway layers, as in a notebook), since Keras 3 stores weights by object path, not by name.
`corpus.json` lists each model: its spec (IBM FL keys) and the input it takes.

Keras 2 (keras 2.x / tf_keras) is not installable from the local wheel index: the Keras 2
files of the corpus are the guide's examples saved with Keras 3's legacy HDF5 writer
(`model.save("x.h5")`, the Keras 2 layout) and the fixtures in ../shared/fixtures.
"""
import json
import os
import shutil

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import keras
from keras import layers
from keras.src.legacy.saving import legacy_h5_format
import h5py

HERE = os.path.dirname(os.path.abspath(__file__))
keras.utils.set_random_seed(1234)
entries = []


def out_dir(name):
    d = os.path.join(HERE, name)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    return d


def write_io(d, model, x):
    np.save(os.path.join(d, "input.npy"), x.astype(np.float32))
    y = model.predict(x, verbose=0)
    np.save(os.path.join(d, "expected.npy"), np.asarray(y, dtype=np.float32))


def images(n=4, shape=(28, 28, 1)):
    return np.random.default_rng(7).random((n, *shape), dtype=np.float32)


def tokens(n=4, length=12, vocab=50):
    return np.random.default_rng(7).integers(1, vocab, (n, length)).astype(np.float32)


def add(name, spec, what, task="mnist", **extra):
    entries.append({"name": name, "spec": spec, "model": what, "task": task, **extra})


def waste(*kinds):
    """Layers built and thrown away, so that the next ones get suffixed names (dense_3, ...)."""
    for k in kinds:
        k()


def loss_test(y_true, y_pred):
    return keras.ops.mean(keras.ops.square(y_true - y_pred))


loss_test.__name__ = "test_loss"


def guide_models():
    # Seed guide, "Keras 2.2.4": Sequential CNN, Adadelta, categorical_crossentropy, model.save(h5).
    model = keras.Sequential()
    model.add(layers.Conv2D(32, kernel_size=(3, 3), activation="relu", input_shape=(28, 28, 1)))
    model.add(layers.Conv2D(64, (3, 3), activation="relu"))
    model.add(layers.MaxPooling2D(pool_size=(2, 2)))
    model.add(layers.Dropout(0.25))
    model.add(layers.Flatten())
    model.add(layers.Dense(128, activation="relu"))
    model.add(layers.Dropout(0.5))
    model.add(layers.Dense(10, activation="softmax"))
    model.compile(loss=keras.losses.categorical_crossentropy, optimizer=keras.optimizers.Adadelta(), metrics=["accuracy"])
    d = out_dir("guide-keras-cnn")
    model.save(os.path.join(d, "compiled_keras.h5"))
    write_io(d, model, images())
    add("guide-keras-cnn", {"model_name": "keras-cnn", "model_definition": "compiled_keras.h5"}, "seed guide Keras CNN (Conv2D 32/64, Dropout, Dense 128), legacy h5 writer")

    # Seed guide, "TensorFlow 2.1 HDF5": keras.Input + Conv/Pool x2 + Dropout + Dense, Adam.
    def tf_cnn():
        m = keras.Sequential([
            keras.Input(shape=(28, 28, 1)),
            layers.Conv2D(32, kernel_size=(3, 3), activation="relu"),
            layers.MaxPooling2D(pool_size=(2, 2)),
            layers.Conv2D(64, kernel_size=(3, 3), activation="relu"),
            layers.MaxPooling2D(pool_size=(2, 2)),
            layers.Flatten(),
            layers.Dropout(0.5),
            layers.Dense(10, activation="softmax"),
        ])
        m.compile(loss="categorical_crossentropy", optimizer="adam", metrics=["accuracy"])
        return m

    model = tf_cnn()
    d = out_dir("guide-tf-cnn-h5")
    model.save(os.path.join(d, "compiled_tf_keras.h5"))
    write_io(d, model, images())
    add("guide-tf-cnn-h5", {"model_name": "tf-cnn", "model_definition": "compiled_tf_keras.h5"}, "seed guide TF 2 CNN, model.save(h5)")

    # The split form: model.to_json() + weights. Keras 3's save_weights needs `.weights.h5`
    # (its own layout); the Keras 2 layout (what Keras 2's save_weights wrote) is also written.
    d = out_dir("guide-split")
    with open(os.path.join(d, "model_architecture.json"), "w") as f:
        f.write(model.to_json())
    model.save_weights(os.path.join(d, "model.weights.h5"))
    with h5py.File(os.path.join(d, "model_weights.h5"), "w") as f:
        legacy_h5_format.save_weights_to_hdf5_group(f, model)
    write_io(d, model, images())
    compile_opts = {"loss": "categorical_crossentropy", "optimizer": "adam", "metrics": ["accuracy"]}
    add("guide-split", {"model_name": "tf-cnn", "model_architecture": "model_architecture.json", "model_weights": "model.weights.h5", "compile_model_options": compile_opts}, "split form, Keras 3 save_weights (.weights.h5)")
    add("guide-split-legacy", {"model_name": "tf-cnn", "model_architecture": "model_architecture.json", "model_weights": "model_weights.h5", "compile_model_options": compile_opts}, "split form, Keras 2 save_weights layout", dir="guide-split")

    # custom_objects: a custom loss, saved in the h5's training_config.
    m = keras.Sequential([keras.Input(shape=(28, 28, 1)), layers.Flatten(), layers.Dense(16, activation="relu"), layers.Dense(10, activation="softmax")])
    m.compile(loss=loss_test, optimizer="adam", metrics=["accuracy"])
    d = out_dir("guide-custom-loss")
    m.save(os.path.join(d, "model.h5"))
    with open(os.path.join(d, "loss.mjs"), "w") as f:
        f.write("// The custom loss the model was compiled with (mean squared error), as a JS module for custom_objects.\n"
                "export function test_loss(yTrue, yPred) {\n  return yTrue.sub(yPred).square().mean();\n}\n")
    write_io(d, m, images())
    add("guide-custom-loss", {"model_name": "keras-mlp", "model_definition": "model.h5", "custom_objects": [{"key": "test_loss", "value": "test_loss", "path": "loss.mjs"}]}, "custom loss through custom_objects")


def keras3_models():
    # Functional: residual adds, batch norm, non-default names (conv2d_3, ...).
    waste(lambda: layers.Conv2D(2, 3), lambda: layers.Conv2D(2, 3), lambda: layers.BatchNormalization(), lambda: layers.Dense(2), lambda: layers.Add())
    inp = keras.Input(shape=(28, 28, 1))
    x = layers.Conv2D(8, 3, strides=2, padding="same", use_bias=False)(inp)
    # momentum 0.9: the moving statistics follow a short federated round (Keras' 0.99 lags for hundreds of steps).
    x = layers.BatchNormalization(momentum=0.9)(x)
    x = layers.Activation("relu")(x)
    y = layers.Conv2D(8, 3, padding="same")(x)
    y = layers.BatchNormalization(momentum=0.9)(y)
    x = layers.Add()([x, layers.Activation("relu")(y)])
    x = layers.MaxPooling2D(2)(x)
    x = layers.Flatten()(x)
    x = layers.Dense(16, activation="relu")(x)
    out = layers.Dense(10, activation="softmax")(x)
    model = keras.Model(inp, out)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    # Moving statistics other than the initial ones, so that a wrong mapping shows.
    model.fit(images(64), np.random.default_rng(3).integers(0, 10, 64), epochs=1, batch_size=16, verbose=0)
    d = out_dir("k3-functional-resnet")
    model.save(os.path.join(d, "model.keras"))
    model.save(os.path.join(d, "model.h5"))
    with open(os.path.join(d, "model_architecture.json"), "w") as f:
        f.write(model.to_json())
    model.save_weights(os.path.join(d, "model.weights.h5"))
    write_io(d, model, images())
    add("k3-functional-resnet", {"model_definition": "model.keras"}, "functional, BN + residual Add, suffixed layer names (conv2d_6, ...), .keras")
    add("k3-functional-resnet-h5", {"model_definition": "model.h5"}, "same, Keras 3 legacy h5 writer", dir="k3-functional-resnet")
    add("k3-functional-resnet-split", {"model_architecture": "model_architecture.json", "model_weights": "model.weights.h5", "compile_model_options": {"loss": "sparse_categorical_crossentropy", "optimizer": "adam", "metrics": ["accuracy"]}}, "same, to_json + .weights.h5", dir="k3-functional-resnet")

    # Sequential with suffixed names and a nested functional block.
    waste(lambda: layers.Dense(2), lambda: layers.Dense(2), lambda: layers.Dense(2))
    block_in = keras.Input(shape=(32,))
    block = keras.Model(block_in, layers.Dense(16, activation="relu")(layers.Dense(32, activation="relu")(block_in)), name="block")
    model = keras.Sequential([keras.Input(shape=(28, 28, 1)), layers.Flatten(), layers.Dense(32, activation="relu"), block,
                              layers.Dense(10, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    d = out_dir("k3-sequential-nested")
    model.save(os.path.join(d, "model.keras"))
    model.save(os.path.join(d, "model.h5"))
    write_io(d, model, images())
    add("k3-sequential-nested", {"model_definition": "model.keras"}, "sequential, suffixed layer names (dense_13, ...) + nested functional, .keras")
    add("k3-sequential-nested-h5", {"model_definition": "model.h5"}, "same, legacy h5", dir="k3-sequential-nested")


def sequence_models():
    rows = lambda: layers.Reshape((28, 28))  # MNIST rows as 28 steps of 28 features

    def save_all(name, model, x, what, task="mnist", h5=True, fit=None):
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        if fit is not None:
            model.fit(*fit, epochs=5, batch_size=16, verbose=0)
        d = out_dir(name)
        model.save(os.path.join(d, "model.keras"))
        add(name, {"model_definition": "model.keras"}, what + ", .keras", task=task)
        if h5:
            model.save(os.path.join(d, "model.h5"))
            add(name + "-h5", {"model_definition": "model.h5"}, what + ", legacy h5", task=task, dir=name)
        write_io(d, model, x)

    waste(lambda: layers.LSTM(2), lambda: layers.Dense(2))
    save_all("seq-lstm", keras.Sequential([keras.Input(shape=(28, 28, 1)), rows(), layers.LSTM(16), layers.Dense(10, activation="softmax")]), images(), "LSTM over MNIST rows")
    save_all("seq-gru", keras.Sequential([keras.Input(shape=(28, 28, 1)), rows(), layers.GRU(16), layers.Dense(10, activation="softmax")]), images(), "GRU (reset_after) over MNIST rows")
    save_all("seq-simplernn", keras.Sequential([keras.Input(shape=(28, 28, 1)), rows(), layers.SimpleRNN(16), layers.Dense(10, activation="softmax")]), images(), "SimpleRNN over MNIST rows")
    save_all("seq-bilstm", keras.Sequential([keras.Input(shape=(28, 28, 1)), rows(), layers.Bidirectional(layers.LSTM(8, return_sequences=True)),
                                             layers.GlobalMaxPooling1D(), layers.Dense(10, activation="softmax")]), images(), "Bidirectional LSTM over MNIST rows")
    save_all("seq-conv1d", keras.Sequential([keras.Input(shape=(28, 28, 1)), rows(), layers.Conv1D(16, 3, activation="relu"), layers.MaxPooling1D(2),
                                             layers.LayerNormalization(), layers.Conv1D(16, 3, padding="same", activation="relu"),
                                             layers.AveragePooling1D(2), layers.GlobalAveragePooling1D(), layers.Dense(10, activation="softmax")]),
             images(), "Conv1D + Max/AveragePooling1D + LayerNormalization + GlobalAveragePooling1D over MNIST rows")
    # Text classifier: token ids (float input, as numpy gives them) -> Embedding -> BiGRU / LSTM.
    inp = keras.Input(shape=(12,))
    e = layers.Embedding(50, 8)(inp)
    a = layers.Bidirectional(layers.GRU(8))(e)
    b = layers.LSTM(8)(e)
    out = layers.Dense(2, activation="softmax")(layers.Concatenate()([a, b]))
    # A few epochs on a toy rule (first token above 25), so that outputs are far from 0.5 and a wrong mapping shows.
    train_x = np.random.default_rng(5).integers(1, 50, (256, 12)).astype(np.float32)
    save_all("seq-text-embedding", keras.Model(inp, out), tokens(), "text classifier: Embedding + Bidirectional(GRU) + LSTM, functional", task="tokens",
             fit=(train_x, (train_x[:, 0] > 25).astype(np.int32)))

    # Padded token ids (0 = padding) with mask_zero: the mask flows through LSTM and TimeDistributed.
    padded = tokens()
    padded[:, 8:] = 0
    padded[1, 5:] = 0
    inp = keras.Input(shape=(12,))
    e = layers.Embedding(50, 8, mask_zero=True)(inp)
    h = layers.LSTM(8, return_sequences=True)(e)
    h = layers.TimeDistributed(layers.Dense(4, activation="tanh"))(h)
    out = layers.Dense(2, activation="softmax")(layers.LSTM(4)(h))
    train_p = train_x.copy()
    train_p[:, 9:] = 0
    save_all("seq-text-masked", keras.Model(inp, out), padded, "text classifier with mask_zero padding: Embedding + LSTM + TimeDistributed(Dense) + LSTM", task="tokens",
             fit=(train_p, (train_p[:, 0] > 25).astype(np.int32)))


guide_models()
keras3_models()
sequence_models()
with open(os.path.join(HERE, "corpus.json"), "w") as f:
    json.dump({"keras_version": keras.__version__, "models": entries}, f, indent=1)
print(f"wrote {len(entries)} corpus entries with keras {keras.__version__}")
