"""Checks that an .h5 written by Cohort's saveKerasH5 has the layout Keras' HDF5 loader reads.
Not run in CI. Needs numpy + h5py (Debian: apt-get install python3-h5py).

usage: /usr/bin/python3 check_keras_h5_export.py EXPORTED.h5 INPUT.npy TFJS_OUTPUT.npy FIXTURES_TOOLS_DIR

1. walks the file the way keras.saving.hdf5_format.load_weights_from_hdf5_group does:
   root attrs keras_version/backend/model_config, model_weights.attrs['layer_names'], each
   group's attrs['weight_names'] (decoded from bytes), datasets at those names;
2. runs the fixtures' independent numpy forward pass (tools/keras_numpy.py, which reads
   model_config + model_weights exactly as Keras lays them out) on INPUT.npy and compares
   with the TF.js prediction.
"""
import json
import sys

import h5py
import numpy as np

path, x_path, y_path, tools = sys.argv[1:5]
sys.path.insert(0, tools)
import keras_numpy  # noqa: E402

with h5py.File(path, 'r') as f:
    for key in ('keras_version', 'backend', 'model_config'):
        assert key in f.attrs, 'missing root attr %s' % key
    cfg = json.loads(f.attrs['model_config'])
    assert cfg['class_name'] in ('Sequential', 'Functional', 'Model'), cfg['class_name']
    print('keras_version', f.attrs['keras_version'], 'backend', f.attrs['backend'])
    if 'training_config' in f.attrs:
        print('training_config', json.loads(f.attrs['training_config']))
    mw = f['model_weights']
    names = [n.decode('utf8') for n in mw.attrs['layer_names']]  # Keras 2.2.4 decodes bytes like this
    print('layer_names', names)
    for n in names:
        g = mw[n]
        wn = [w.decode('utf8') for w in g.attrs['weight_names']]
        shapes = [g[w].shape for w in wn]
        assert all(g[w].dtype == np.float32 for w in wn)
        print('  %-20s %s' % (n, list(zip(wn, shapes))))

y = keras_numpy.predict(path, np.load(x_path))
ref = np.load(y_path)
err = np.abs(y - ref).max() / np.abs(y).max()
print('numpy forward pass vs TF.js: max rel diff %.2e' % err)
assert err < 1e-5, err
print('OK')
