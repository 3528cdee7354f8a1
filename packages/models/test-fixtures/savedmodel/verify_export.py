"""Development check (tests cannot run Python): loads each SavedModel Cohort exported with
tf.saved_model.load and compares its serving_default output on the corpus input with the
output Cohort computed before writing it (cohort_output.npy).

    SAVEDMODEL_EXPORT_DIR=/tmp/sm-export npx vitest run packages/models/src/savedmodel/savedmodel-export.spec.ts
    /work/venv/bin/python packages/models/test-fixtures/savedmodel/verify_export.py /tmp/sm-export
"""
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import numpy as np
import tensorflow as tf

HERE = os.path.dirname(os.path.abspath(__file__))
root = sys.argv[1]
worst = 0.0
for name in sorted(os.listdir(root)):
    d = os.path.join(root, name)
    fn = tf.saved_model.load(d).signatures["serving_default"]
    (arg,) = fn.structured_input_signature[1].keys()
    x = np.load(os.path.join(HERE, name, "input.npy"))
    y = next(iter(fn(**{arg: tf.constant(x)}).values())).numpy()
    cohort = np.load(os.path.join(d, "cohort_output.npy"))
    original = np.load(os.path.join(HERE, name, "expected.npy"))
    err = np.abs(y - cohort).max() / np.abs(cohort).max()
    moved = np.abs(y - original).max() / np.abs(original).max()
    worst = max(worst, err)
    print(f"{name}: tf.saved_model.load output vs Cohort's {err:.2e} (relative); differs from the original model by {moved:.2e}")
sys.exit(0 if worst <= 1e-5 else 1)
