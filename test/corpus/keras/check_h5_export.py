"""Loads the HDF5 and .keras files Cohort exported from the Keras corpus with Keras itself and checks that
they predict the corpus' expected.npy (within 1e-5 of the largest output).

  KERAS_CORPUS_EXPORT_DIR=/tmp/k3export npx vitest run packages/models/src/keras/keras-corpus.spec.ts
  /work/venv/bin/python test/corpus/keras/check_h5_export.py /tmp/k3export
"""
import json
import os
import sys

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import numpy as np
import keras

HERE = os.path.dirname(os.path.abspath(__file__))
exported = sys.argv[1]
corpus = json.load(open(os.path.join(HERE, "corpus.json")))
files = [(e, os.path.join(exported, e["name"] + ".h5")) for e in corpus["models"]]
files += [(e, os.path.join(exported, e["name"] + ".keras")) for e in corpus["models"] if str(e["spec"].get("model_definition", "")).endswith(".keras")]
failed = 0
for entry, file in files:
    name = os.path.basename(file)
    if not os.path.exists(file):
        print(f"{name}: no export"); failed += 1; continue
    d = os.path.join(HERE, entry.get("dir", entry["name"]))
    x, expected = np.load(os.path.join(d, "input.npy")), np.load(os.path.join(d, "expected.npy"))
    try:
        model = keras.models.load_model(file, compile=False, custom_objects={"test_loss": lambda a, b: a})
        err = float(np.max(np.abs(model.predict(x, verbose=0) - expected)) / np.max(np.abs(expected)))
    except Exception as e:  # report every file, not only the first failure
        print(f"{name}: keras.models.load_model failed: {str(e).splitlines()[0][:300]}"); failed += 1; continue
    ok = err <= 1e-5
    failed += not ok
    print(f"{name}: max rel err {err:.2e} {'ok' if ok else 'FAIL'}")
print(f"{len(files) - failed}/{len(files)} exports load in Keras {keras.__version__} and predict as the original")
sys.exit(1 if failed else 0)
