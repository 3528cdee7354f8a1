"""Writes the .npy/.npz fixtures that packages/tensors tests read, plus expected.json.

numpy is the oracle: expected.json lists every fixture's dtype, shape and values in C order,
as numpy itself reads them back, so the TypeScript reader is checked against numpy and not
against numbers typed by hand. Run from anywhere: python3 make_npy_fixtures.py
(tests only read the committed outputs; they never need Python).
"""
import json
import os

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
expected = {}


def record(name, arr, dtype):
    flat = np.ascontiguousarray(arr).reshape(-1)
    if dtype == "int64":
        values = [str(int(v)) for v in flat]  # JSON numbers cannot hold every int64
    elif dtype == "float16":
        values = [int(v) for v in flat.view(np.uint16)]  # raw half bits, as the reader keeps them
    elif dtype == "bool":
        values = [int(v) for v in flat]
    else:
        values = [float(v) if np.issubdtype(flat.dtype, np.floating) else int(v) for v in flat]
    expected[name] = {"dtype": dtype, "shape": list(arr.shape), "values": values}


def save(name, arr, dtype, version=None):
    path = os.path.join(HERE, name)
    with open(path, "wb") as f:
        np.lib.format.write_array(f, arr, version=version, allow_pickle=False)
    back = np.load(path)
    record(name, back, dtype)


base = np.arange(12).reshape(3, 4)
save("f4_le.npy", (base * 0.5 - 1).astype("<f4"), "float32")
save("f4_be.npy", (base * 0.5 - 1).astype(">f4"), "float32")
save("f8_be.npy", (base / 3.0).astype(">f8"), "float64")
save("f2_le.npy", (base * 0.25 - 1).astype("<f2"), "float16")
save("i8_le.npy", np.array([-(2**62) - 3, -1, 0, 7, 2**62 + 1], dtype="<i8"), "int64")
save("i4_be.npy", (base * -1000 + 17).astype(">i4"), "int32")
save("i2_be.npy", np.array([-300, 0, 300, 32767], dtype=">i2"), "int16")
save("u2_le.npy", np.array([[0, 1, 65535], [256, 512, 1024]], dtype="<u2"), "uint16")
save("u4_be.npy", np.array([0, 1, 4000000000], dtype=">u4"), "uint32")
save("u1.npy", (np.arange(6) * 50).astype("|u1").reshape(2, 3), "uint8")
save("i1.npy", np.array([-128, -1, 0, 127], dtype="|i1"), "int8")
save("b1.npy", np.array([[True, False], [False, True], [True, True]]), "bool")
save("scalar_f8.npy", np.array(3.5, dtype="<f8"), "float64")
save("empty_f4.npy", np.zeros((0, 3), dtype="<f4"), "float32")
# Fortran order: numpy writes the transposed bytes and fortran_order: True in the header.
save("fortran_i4.npy", np.asfortranarray(np.arange(24).reshape(2, 3, 4).astype("<i4")), "int32")
save("fortran_f8_be.npy", np.asfortranarray((base / 7.0).astype(">f8")), "float64")
save("v2_f4.npy", (base * 2.0).astype("<f4"), "float32", version=(2, 0))
save("v3_f4.npy", (base * 3.0).astype("<f4"), "float32", version=(3, 0))

# A pickled object array: the reader must refuse it.
np.save(os.path.join(HERE, "object.npy"), np.array([{"a": 1}, None], dtype=object), allow_pickle=True)

arrays = {
    "weights": (base * 0.1).astype("<f4"),
    "labels": np.array([3, 1, 4, 1, 5], dtype="<i8"),
    "big_endian": (base + 0.5).astype(">f8"),
}
np.savez(os.path.join(HERE, "stored.npz"), **arrays)
np.savez_compressed(os.path.join(HERE, "deflated.npz"), **arrays)
dtypes = {"weights": "float32", "labels": "int64", "big_endian": "float64"}
for archive in ("stored.npz", "deflated.npz"):
    with np.load(os.path.join(HERE, archive)) as z:
        for key in z.files:
            record(f"{archive}:{key}", z[key], dtypes[key])

with open(os.path.join(HERE, "expected.json"), "w") as f:
    json.dump(expected, f, indent=1)
    f.write("\n")
