"""Keras baseline for train_vs_keras: the seed guide's Keras MNIST CNN (createKerasMnistCnn's twin:
Conv32-Conv64-MaxPool-Dropout-Flatten-Dense128-Dropout-Dense10, softmax, categorical cross-entropy)
trained with Adam(1e-3) by train_on_batch on batches of 64, timed over N steps after 3 warm-up steps,
on `threads` intra-op threads (inter-op 1), as TF.js's trainOnBatch is timed.
Usage: /work/venv/bin/python bench/keras_cnn.py [steps=20] [threads=all cores]. Prints one JSON line."""
import json
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
steps = int(sys.argv[1]) if len(sys.argv) > 1 else 20
threads = int(sys.argv[2]) if len(sys.argv) > 2 else (os.cpu_count() or 1)

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

tf.config.threading.set_intra_op_parallelism_threads(threads)
tf.config.threading.set_inter_op_parallelism_threads(1)
import keras  # noqa: E402
from keras import layers  # noqa: E402

BATCH = 64
keras.utils.set_random_seed(0)
model = keras.Sequential([
    keras.Input((28, 28, 1)),
    layers.Conv2D(32, 3, activation="relu"),
    layers.Conv2D(64, 3, activation="relu"),
    layers.MaxPooling2D(2),
    layers.Dropout(0.25),
    layers.Flatten(),
    layers.Dense(128, activation="relu"),
    layers.Dropout(0.5),
    layers.Dense(10, activation="softmax"),
])
model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="categorical_crossentropy", metrics=["accuracy"])
rng = np.random.default_rng(0)
xs = [rng.random((BATCH, 28, 28, 1), dtype=np.float32) for _ in range(4)]
ys = [np.eye(10, dtype=np.float32)[rng.integers(0, 10, BATCH)] for _ in range(4)]

for i in range(3):
    model.train_on_batch(xs[i % 4], ys[i % 4])
start = time.perf_counter()
for i in range(steps):
    model.train_on_batch(xs[i % 4], ys[i % 4])
seconds = time.perf_counter() - start
print(json.dumps({"samples_per_second": steps * BATCH / seconds, "ms_per_batch": seconds * 1000 / steps,
                  "steps": steps, "threads": threads, "framework": f"Keras {keras.__version__} on TensorFlow {tf.__version__}"}))
