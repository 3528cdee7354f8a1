"""Writes the SavedModel corpus: SavedModels without a Keras config, as TensorFlow 2.21 and
Keras 3.15 write them, each with input.npy (seeded) and expected.npy (TensorFlow's output).

    /work/venv/bin/python packages/models/test-fixtures/savedmodel/gen_savedmodel_corpus.py [folder ...]

Every expected.npy is computed by TensorFlow itself from the directory as written: the
SavedModel is loaded back with tf.saved_model.load and its serving_default signature is called
on input.npy (and checked against the in-memory model's own output).
"""
import json
import os
import shutil
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
import numpy as np
import tensorflow as tf
import keras

from tf24_metadata import subclassed_model_metadata, write_root_metadata

HERE = os.path.dirname(os.path.abspath(__file__))


def seeded_input(shape):
    return np.random.default_rng(7).random(shape, dtype=np.float32)


def finish(name, x, in_memory):
    """Reloads the SavedModel, runs serving_default on x, writes input/expected .npy."""
    d = os.path.join(HERE, name)
    loaded = tf.saved_model.load(d)
    fn = loaded.signatures["serving_default"]
    (arg,) = fn.structured_input_signature[1].keys()
    outs = fn(**{arg: tf.constant(x)})
    assert len(outs) == 1, f"{name}: {len(outs)} outputs"
    y = next(iter(outs.values())).numpy().astype(np.float32)
    ref = np.asarray(in_memory).astype(np.float32)
    err = np.abs(y - ref).max() / np.abs(ref).max()
    assert err < 1e-6, f"{name}: reloaded SavedModel differs from the in-memory model ({err})"
    np.save(os.path.join(d, "input.npy"), x)
    np.save(os.path.join(d, "expected.npy"), y)
    sgd_step(d, fn, arg, x)
    # fingerprint.pb changes on every write and Cohort does not read it.
    fp = os.path.join(d, "fingerprint.pb")
    if os.path.exists(fp):
        os.remove(fp)
    print(f"{name}: input {x.shape} -> expected {y.shape}, max|y| {np.abs(y).max():.4g}")


SGD_LR = 0.1


def sgd_step(d, fn, arg, x):
    """Gradients reference: one plain SGD step (lr 0.1) on loss = sum(output * probe) over the
    signature function's trainable variables, then the output again (sgd_expected.npy).
    Cohort takes the same step through its TF.js graph; the outputs agree only if gradients
    reach every variable, each bound to the right checkpoint entry."""
    probe = np.random.default_rng(11).standard_normal(fn.structured_outputs[next(iter(fn.structured_outputs))].shape.as_list()[1:], dtype=np.float32)
    probe = np.broadcast_to(probe, (x.shape[0],) + probe.shape).copy()
    variables = fn.trainable_variables
    with tf.GradientTape() as tape:
        out = next(iter(fn(**{arg: tf.constant(x)}).values()))
        loss = tf.reduce_sum(out * probe)
    grads = tape.gradient(loss, variables)
    assert all(g is not None for g in grads), f"{d}: a variable gets no gradient"
    for v, g in zip(variables, grads):
        v.assign_sub(SGD_LR * g)
    after = next(iter(fn(**{arg: tf.constant(x)}).values())).numpy().astype(np.float32)
    np.save(os.path.join(d, "sgd_probe.npy"), probe)
    np.save(os.path.join(d, "sgd_expected.npy"), after)


def fresh(name):
    d = os.path.join(HERE, name)
    shutil.rmtree(d, ignore_errors=True)
    return d


def guide_subclassed():
    """The seed guide's TF 2 example: a subclassed tf.keras Model with call(), saved as a
    SavedModel. Keras 3 (tf.keras in TF 2.21) refuses model.save(dir) and has no
    _set_inputs, so it is built by calling it and written with tf.saved_model.save, which is
    what TF 2.1's model.save(dir) did. Widths are reduced (Conv2D 4, Dense 32 instead of 32 and
    128) to keep the corpus small; the structure is the guide's."""
    from tensorflow.keras import Model
    from tensorflow.keras.layers import Conv2D, Dense, Flatten

    class MyModel(Model):
        def __init__(self):
            super().__init__()
            self.conv1 = Conv2D(4, 3, activation="relu")
            self.flatten = Flatten()
            self.d1 = Dense(32, activation="relu")
            self.d2 = Dense(10)

        def call(self, x):
            x = self.conv1(x)
            x = self.flatten(x)
            x = self.d1(x)
            return self.d2(x)

    keras.utils.set_random_seed(1)
    model = MyModel()
    model.compile(optimizer=tf.keras.optimizers.Adam(), loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=[tf.keras.metrics.SparseCategoricalAccuracy(name="accuracy")])
    x = seeded_input((4, 28, 28, 1))
    y = model(x)
    d = fresh("guide-subclassed")
    sig = tf.function(lambda x: model(x), input_signature=[tf.TensorSpec([None, 28, 28, 1], tf.float32, name="x")])
    tf.saved_model.save(model, d, signatures={"serving_default": sig})
    # TF 2.1-2.4's model.save(dir) also kept the training config in the root object's metadata
    # (SYNTHESIZED here following TF 2.4's saver: see tf24_metadata.py).
    write_root_metadata(d, subclassed_model_metadata(model, "x", x.shape))
    finish("guide-subclassed", x, y)
    # Keras' own value of the compiled loss on labels 0..3 for input.npy: Cohort's loss from the
    # saved training_config must give the same.
    np.save(os.path.join(d, "loss_expected.npy"), np.float32(model.loss(np.arange(4), y)))


class DenseConvModule(tf.Module):
    """A plain tf.Module (no Keras): conv -> relu -> max pool -> dense -> softmax, MNIST-shaped."""

    def __init__(self):
        super().__init__(name="dense_conv")
        rng = np.random.default_rng(3)
        self.conv_w = tf.Variable(rng.normal(0, 0.3, (3, 3, 1, 6)).astype(np.float32), name="conv_w")
        self.conv_b = tf.Variable(np.zeros(6, np.float32) + 0.01, name="conv_b")
        self.dense_w = tf.Variable(rng.normal(0, 0.05, (13 * 13 * 6, 10)).astype(np.float32), name="dense_w")
        self.dense_b = tf.Variable(np.zeros(10, np.float32), name="dense_b")

    @tf.function(input_signature=[tf.TensorSpec([None, 28, 28, 1], tf.float32, name="images")])
    def __call__(self, images):
        y = tf.nn.relu(tf.nn.conv2d(images, self.conv_w, strides=1, padding="VALID") + self.conv_b)
        y = tf.nn.max_pool2d(y, ksize=2, strides=2, padding="VALID")
        y = tf.reshape(y, [-1, 13 * 13 * 6])
        return tf.nn.softmax(tf.matmul(y, self.dense_w) + self.dense_b)


def tf_module():
    m = DenseConvModule()
    x = seeded_input((4, 28, 28, 1))
    y = m(x)
    d = fresh("tf-module")
    tf.saved_model.save(m, d, signatures={"serving_default": m.__call__})
    finish("tf-module", x, y)


def keras3_export():
    """Keras 3 model.export() of a functional CNN with batch normalization and a residual add."""
    keras.utils.set_random_seed(2)
    inp = keras.Input((28, 28, 1), name="digits")
    h = keras.layers.Conv2D(8, 3, padding="same", name="stem")(inp)
    h = keras.layers.BatchNormalization(name="stem_bn")(h)
    h = keras.layers.ReLU()(h)
    r = keras.layers.Conv2D(8, 3, padding="same", use_bias=False, name="res_conv")(h)
    r = keras.layers.BatchNormalization(name="res_bn")(r)
    h = keras.layers.Add()([h, r])
    h = keras.layers.MaxPooling2D(2)(h)
    h = keras.layers.Flatten()(h)
    out = keras.layers.Dense(10, activation="softmax", name="head")(h)
    model = keras.Model(inp, out, name="bn_cnn")
    # Non-trivial moving statistics, as a trained model has them.
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            rng = np.random.default_rng(len(layer.name))
            n = layer.moving_mean.shape[0]
            layer.moving_mean.assign(rng.normal(0, 0.2, n).astype(np.float32))
            layer.moving_variance.assign(rng.uniform(0.5, 1.5, n).astype(np.float32))
            layer.gamma.assign(rng.uniform(0.8, 1.2, n).astype(np.float32))
            layer.beta.assign(rng.normal(0, 0.1, n).astype(np.float32))
    x = seeded_input((4, 28, 28, 1))
    y = model.predict(x, verbose=0)
    d = fresh("keras3-export")
    model.export(d, verbose=False)
    finish("keras3-export", x, y)


def tf24_layout():
    """TF 2.1-2.4 wrote no keras_metadata.pb: the Keras config sat in saved_model.pb's object
    graph (SavedUserObject.metadata of the root). Neither TF <= 2.4 nor tf_keras is installable
    here, so this file is SYNTHETIC in that one respect: a tf.Module laid out as tf.keras 2.4 lays
    out a Sequential (children layer_with_weights-N holding kernel/bias variables named
    dense/kernel, dense_1/kernel, ...) is saved by tf.saved_model.save, then this generator writes
    a tf.keras 2.4-style root metadata JSON (Sequential: InputLayer, Flatten, Dense relu, Dense
    softmax, with a training_config) into the root node's user_object. The variables, graph and
    expected.npy are TensorFlow's own."""
    rng = np.random.default_rng(5)

    class Dense(tf.Module):
        def __init__(self, name, n_in, n_out):
            super().__init__(name=name)
            self.kernel = tf.Variable(rng.normal(0, 0.05, (n_in, n_out)).astype(np.float32), name=f"{name}/kernel")
            self.bias = tf.Variable(rng.normal(0, 0.01, n_out).astype(np.float32), name=f"{name}/bias")

    class Sequential(tf.Module):
        def __init__(self):
            super().__init__(name="sequential")
            setattr(self, "layer_with_weights-0", Dense("dense", 784, 32))
            setattr(self, "layer_with_weights-1", Dense("dense_1", 32, 10))

        @tf.function(input_signature=[tf.TensorSpec([None, 28, 28, 1], tf.float32, name="flatten_input")])
        def __call__(self, x):
            l0, l1 = getattr(self, "layer_with_weights-0"), getattr(self, "layer_with_weights-1")
            h = tf.nn.relu(tf.matmul(tf.reshape(x, [-1, 784]), l0.kernel) + l0.bias)
            return tf.nn.softmax(tf.matmul(h, l1.kernel) + l1.bias)

    def dense_config(name, units, activation):
        return {"class_name": "Dense", "config": {
            "name": name, "trainable": True, "dtype": "float32", "units": units, "activation": activation, "use_bias": True,
            "kernel_initializer": {"class_name": "GlorotUniform", "config": {"seed": None}}, "bias_initializer": {"class_name": "Zeros", "config": {}},
            "kernel_regularizer": None, "bias_regularizer": None, "activity_regularizer": None, "kernel_constraint": None, "bias_constraint": None}}

    metadata = {
        "class_name": "Sequential", "name": "sequential", "trainable": True, "expects_training_arg": True, "dtype": "float32",
        "batch_input_shape": None, "must_restore_from_config": False,
        "config": {"name": "sequential", "layers": [
            {"class_name": "InputLayer", "config": {"batch_input_shape": [None, 28, 28, 1], "dtype": "float32", "sparse": False, "ragged": False, "name": "flatten_input"}},
            {"class_name": "Flatten", "config": {"name": "flatten", "trainable": True, "dtype": "float32", "data_format": "channels_last"}},
            dense_config("dense", 32, "relu"), dense_config("dense_1", 10, "softmax")]},
        "build_input_shape": {"class_name": "TensorShape", "items": [None, 28, 28, 1]}, "is_graph_network": True,
        "keras_version": "2.4.0", "backend": "tensorflow",
        "training_config": {"loss": "categorical_crossentropy", "metrics": ["accuracy"], "weighted_metrics": None, "loss_weights": None, "sample_weight_mode": None,
                            "optimizer_config": {"class_name": "Adam", "config": {"name": "Adam", "learning_rate": 0.001, "decay": 0.0, "beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-07, "amsgrad": False}}},
    }
    m = Sequential()
    x = seeded_input((4, 28, 28, 1))
    y = m(x)
    d = fresh("tf24-layout-mlp")
    tf.saved_model.save(m, d, signatures={"serving_default": m.__call__})
    from tensorflow.core.protobuf import saved_model_pb2
    sm = saved_model_pb2.SavedModel()
    with open(os.path.join(d, "saved_model.pb"), "rb") as f:
        sm.ParseFromString(f.read())
    root = sm.meta_graphs[0].object_graph_def.nodes[0]
    root.user_object.identifier = "_tf_keras_sequential"
    root.user_object.metadata = json.dumps(metadata)
    with open(os.path.join(d, "saved_model.pb"), "wb") as f:
        f.write(sm.SerializeToString())
    finish("tf24-layout-mlp", x, y)


def unsupported_op():
    """Refused on purpose: its serving function uses Lgamma, which is not in Cohort's op allow-list."""

    class Lgamma(tf.Module):
        def __init__(self):
            super().__init__()
            self.w = tf.Variable(np.ones(3, np.float32), name="w")

        @tf.function(input_signature=[tf.TensorSpec([None, 3], tf.float32, name="x")])
        def __call__(self, x):
            return tf.math.lgamma(x * self.w + 2.0)

    m = Lgamma()
    d = os.path.join(HERE, "..", "savedmodel-refused", "unsupported-op")
    shutil.rmtree(d, ignore_errors=True)
    tf.saved_model.save(m, d, signatures={"serving_default": m.__call__})
    fp = os.path.join(d, "fingerprint.pb")
    if os.path.exists(fp):
        os.remove(fp)
    print("savedmodel-refused/unsupported-op: Lgamma")


if __name__ == "__main__":
    print(f"TensorFlow {tf.__version__}, Keras {keras.__version__}", file=sys.stderr)
    cases = {"guide-subclassed": guide_subclassed, "tf-module": tf_module, "keras3-export": keras3_export,
             "tf24-layout-mlp": tf24_layout, "unsupported-op": unsupported_op}
    # Folder names on the command line regenerate only those (the others keep their bytes).
    for name in sys.argv[1:] or cases:
        cases[name]()
