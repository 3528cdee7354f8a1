"""Checks that a state_dict written by saveTorchStateDict loads into the original nn.Sequential
and reproduces expected.npy. Not run in CI (needs Debian's python3-torch).
usage: /usr/bin/python3 verify_state_dict.py FIXTURE_DIR STATE_DICT.pt"""
import sys, numpy as np, torch
d, sd_file = sys.argv[1], sys.argv[2]
model = torch.load(f"{d}/model.pt")
sd = torch.load(sd_file)
print("keys:", list(sd.keys()))
model.load_state_dict(sd, strict=True)
model.eval()
with torch.no_grad():
    y = model(torch.from_numpy(np.load(f"{d}/input.npy"))).numpy()
e = np.load(f"{d}/expected.npy")
err = np.abs(y - e).max() / np.abs(e).max()
print(f"max rel error {err:.2e}")
sys.exit(0 if err <= 1e-5 else 1)
