"""Keras side of the tensorflow-backend profile (bench/README.md, issue 15): ms per batch of the seed CNN's forward +
backward alone (tf.function, no optimizer) and of its Adam step alone. Usage: /work/venv/bin/python bench/keras_split.py"""
import os, time, json
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "2"
import numpy as np
import tensorflow as tf
tf.config.threading.set_intra_op_parallelism_threads(2)
tf.config.threading.set_inter_op_parallelism_threads(1)
import keras
from keras import layers
keras.utils.set_random_seed(0)
model = keras.Sequential([keras.Input((28, 28, 1)), layers.Conv2D(32, 3, activation="relu"), layers.Conv2D(64, 3, activation="relu"),
    layers.MaxPooling2D(2), layers.Dropout(0.25), layers.Flatten(), layers.Dense(128, activation="relu"), layers.Dropout(0.5), layers.Dense(10, activation="softmax")])
opt = keras.optimizers.Adam(1e-3); opt.build(model.trainable_variables)
rng = np.random.default_rng(0)
x = tf.constant(rng.random((64, 28, 28, 1), dtype=np.float32)); y = tf.constant(np.eye(10, dtype=np.float32)[rng.integers(0, 10, 64)])
lossf = keras.losses.CategoricalCrossentropy()
@tf.function
def grads():
    with tf.GradientTape() as tape:
        loss = lossf(y, model(x, training=True))
    return tape.gradient(loss, model.trainable_variables)
g = grads()
@tf.function
def apply():
    opt.apply_gradients(zip(g, model.trainable_variables))
def ms(f, n=20):
    for _ in range(3): f()
    t = time.perf_counter()
    for _ in range(n): f()
    return round((time.perf_counter() - t) * 1000 / n, 1)
print(json.dumps({"fwd_bwd_ms": ms(grads), "adam_ms": ms(apply)}))
