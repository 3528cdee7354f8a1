"""Reference training steps for the graph trainer (packages/models/src/native-graph): the seed
guide's Keras MNIST CNN's layer kinds (Conv-Conv-MaxPool-Dropout-Flatten-Dense-Dropout-Dense
softmax, categorical cross-entropy, Adam) on 12x12 inputs, trained by Keras 3 itself with
train_on_batch for a few steps. The Dropout layers have rate 0: Keras' masks come from its own
generator, which Cohort's graph does not reproduce, so masks are left out of the comparison.
The inputs and initial weights come from integer formulas that the spec repeats
exactly in TypeScript (native-graph/fit-graph-epoch.spec.ts), so only Keras' results are stored.

usage: /work/venv/bin/python gen.py   (writes keras_cnn_steps.json beside this file; deterministic)
"""
import json, os
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import numpy as np
import keras
from keras import layers

OUT = os.path.dirname(os.path.abspath(__file__))
SIDE, BATCH, STEPS, LR = 12, 16, 4, 0.01


def batch(n, seed):
    """The same LCG as the spec: x in [0, 1), one-hot labels i mod 10."""
    x = np.zeros(n * SIDE * SIDE, dtype=np.float32)
    s = seed
    for i in range(x.size):
        s = (s * 1664525 + 1013904223) % 2**32
        x[i] = s / 2**32
    y = np.zeros((n, 10), dtype=np.float32)
    y[np.arange(n), np.arange(n) % 10] = 1
    return x.reshape(n, SIDE, SIDE, 1), y


def initial(shape, k):
    """Weight k's initial values: ((i * 37 + k * 11) mod 101 - 50) / 400, exact in float32."""
    i = np.arange(int(np.prod(shape)), dtype=np.int64)
    return (((i * 37 + k * 11) % 101 - 50) / 400).astype(np.float32).reshape(shape)


model = keras.Sequential([
    keras.Input((SIDE, SIDE, 1)),
    layers.Conv2D(4, 3, activation="relu"),
    layers.Conv2D(8, 3, activation="relu"),
    layers.MaxPooling2D(2),
    layers.Dropout(0.0),
    layers.Flatten(),
    layers.Dense(16, activation="relu"),
    layers.Dropout(0.0),
    layers.Dense(10, activation="softmax"),
])
model.compile(optimizer=keras.optimizers.Adam(LR), loss="categorical_crossentropy")
model.set_weights([initial(w.shape, k) for k, w in enumerate(model.get_weights())])
losses = []
for step in range(STEPS):
    x, y = batch(BATCH, step + 1)
    losses.append(float(model.train_on_batch(x, y)))
out = {
    "framework": f"Keras {keras.__version__}",
    "side": SIDE, "batch": BATCH, "steps": STEPS, "lr": LR,
    "losses": losses,
    "weights": [{"shape": list(w.shape), "values": [float(v) for v in w.ravel()]} for w in model.get_weights()],
}
with open(os.path.join(OUT, "keras_cnn_steps.json"), "w") as f:
    json.dump(out, f)
print("losses", losses)
