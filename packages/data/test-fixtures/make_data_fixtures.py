"""Writes the small .npz files packages/data tests read (IBM FL's x_train/y_train/x_test/y_test).

Run with any python3 that has numpy: python3 make_data_fixtures.py. Tests read only the outputs.
Pixel values are deterministic functions of the index so tests can recompute them.
"""
import os

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))


def images(n, offset):
    # image i, pixel p = (offset + i * 16 + p) % 256, as uint8 like the real MNIST npz
    return ((offset + np.arange(n)[:, None] * 16 + np.arange(16)[None, :]) % 256).astype(np.uint8).reshape(n, 4, 4)


x_train, x_test = images(8, 0), images(3, 7)
y_train = np.array([0, 1, 2, 3, 0, 1, 2, 3], dtype=np.int64)
y_test = np.array([3, 2, 1], dtype=np.int64)
np.savez_compressed(os.path.join(HERE, "tiny_mnist.npz"), x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)
# One-hot float labels, float64 features, stored (not deflated).
eye = np.eye(4, dtype=np.float32)
np.savez(os.path.join(HERE, "onehot.npz"), x_train=x_train.astype(np.float64) / 255, y_train=eye[y_train],
         x_test=x_test.astype(np.float64) / 255, y_test=eye[y_test])
# Broken on purpose: no test arrays; and 8 images for 7 labels.
np.savez(os.path.join(HERE, "no_test.npz"), x_train=x_train, y_train=y_train)
np.savez(os.path.join(HERE, "mismatch.npz"), x_train=x_train, y_train=y_train[:7], x_test=x_test, y_test=y_test)
# Two-file layout with plain x / y names.
np.savez(os.path.join(HERE, "train_xy.npz"), x=x_train, y=y_train.astype(np.int32))
np.savez(os.path.join(HERE, "test_xy.npz"), x=x_test, y=y_test.astype(np.uint8))
