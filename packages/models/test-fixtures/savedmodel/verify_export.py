"""Development check (tests cannot run Python): loads each SavedModel Cohort exported with
tf.saved_model.load and compares its serving_default output on input.npy with the output
Cohort computed before writing it (cohort_output.npy); the spec leaves both beside each export.

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
    try:
        fn = tf.saved_model.load(d).signatures["serving_default"]
    except Exception as e:  # noqa: BLE001 - report, then see whether the source loads at all
        source = open(os.path.join(d, "source.txt")).read()
        try:
            tf.saved_model.load(source)
        except Exception as e2:  # noqa: BLE001
            print(f"{name}: not checked: TensorFlow {tf.__version__} cannot load the source SavedModel either ({type(e2).__name__}: {e2})")
            continue
        print(f"{name}: FAILED: the source loads but the export does not ({type(e).__name__}: {e})")
        worst = float("inf")
        continue
    (arg,) = fn.structured_input_signature[1].keys()
    x = np.load(os.path.join(d, "input.npy"))
    y = next(iter(fn(**{arg: tf.constant(x)}).values())).numpy()
    cohort = np.load(os.path.join(d, "cohort_output.npy"))
    err = np.abs(y - cohort).max() / np.abs(cohort).max()
    worst = max(worst, err)
    print(f"{name}: tf.saved_model.load output vs Cohort's {err:.2e} (relative to the largest output)")
sys.exit(0 if worst <= 1e-5 else 1)
