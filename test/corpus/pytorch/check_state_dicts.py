"""Loads each state_dict that export_state_dicts.mjs wrote into its original nn.Sequential with
load_state_dict (strict) and compares PyTorch's output with Cohort's. Not run in CI.
usage: node export_state_dicts.mjs OUT > OUT/list.txt && /work/venv/bin/python check_state_dicts.py OUT"""
import sys
import numpy as np
import torch

out = sys.argv[1]
worst = 0.0
for line in open(f"{out}/list.txt"):
    name, original = line.split()
    model = torch.load(original, weights_only=False)
    model.load_state_dict(torch.load(f"{out}/{name}.pt"), strict=True)
    model.eval()
    x, y = np.load(f"{out}/{name}.x.npy"), np.load(f"{out}/{name}.y.npy")
    with torch.no_grad():
        err = float(np.abs(model(torch.from_numpy(x)).numpy() - y).max() / np.abs(y).max())
    worst = max(worst, err)
    print(f"{name}: load_state_dict ok, max rel error vs Cohort {err:.2e}")
sys.exit(0 if worst <= 1e-5 else 1)
