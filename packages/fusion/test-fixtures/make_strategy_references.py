"""Float64 numpy references for Cohort's fusion strategies (packages/fusion/src/strategies.spec.ts).

Run: /work/venv/bin/python packages/fusion/test-fixtures/make_strategy_references.py
Writes strategy-references.json next to this file. Every input is a float32 value (exact in
JSON); every expected value is computed in float64 by numpy from the formulas of the papers
(McMahan et al.; Yin et al. for median and trimmed mean; Blanchard et al. for Krum; Reddi et al.,
Algorithm 2, for FedAdam/FedYogi/FedAdagrad; Hsu et al. for FedAvgM), independently of the
TypeScript code. Server optimizers run two rounds; the global model between rounds is float32,
as on the wire.
"""
import json
import pathlib

import numpy as np

SHAPES = [[13, 5], [17], [3, 2, 2]]


def flat_size():
    return sum(int(np.prod(s)) for s in SHAPES)


def fedavg(updates, weights):
    w = np.asarray(weights, dtype=np.float64)
    return (w[:, None] * updates).sum(axis=0) / w.sum()


def median(updates):
    return np.median(updates, axis=0)


def trimmed_mean(updates, beta):
    n = updates.shape[0]
    cut = int(np.floor(beta * n))
    s = np.sort(updates, axis=0)
    return s[cut:n - cut].mean(axis=0)


def krum(updates, f, m):
    n = updates.shape[0]
    d = ((updates[:, None, :] - updates[None, :, :]) ** 2).sum(axis=2)
    nearest = max(1, n - f - 2)
    scores = np.array([np.sort(np.delete(d[i], i))[:nearest].sum() for i in range(n)])
    order = np.argsort(scores, kind="stable")
    chosen = order[:m]
    return updates[chosen].mean(axis=0), [int(c) for c in chosen]


def server_opt(name, rounds, prev0, p):
    x = prev0.astype(np.float64)
    m = np.zeros_like(x)
    v = np.full_like(x, p["tau"] ** 2)
    outs = []
    for updates, weights in rounds:
        delta = fedavg(updates, weights) - x
        if name == "fedavgm":
            m = p["momentum"] * m + delta
            x = x + p["eta"] * m
        else:
            m = p["beta1"] * m + (1 - p["beta1"]) * delta
            d2 = delta * delta
            if name == "fedadagrad":
                v = v + d2
            elif name == "fedadam":
                v = p["beta2"] * v + (1 - p["beta2"]) * d2
            else:
                v = v - (1 - p["beta2"]) * d2 * np.sign(v - d2)
            x = x + p["eta"] * m / (np.sqrt(v) + p["tau"])
        outs.append(x.copy())
        x = x.astype(np.float32).astype(np.float64)  # the global model is stored as float32
    return outs


OPT_PARAMS = {
    "fedadam": {"eta": 0.05, "beta1": 0.9, "beta2": 0.99, "tau": 1e-3, "momentum": 0},
    "fedyogi": {"eta": 0.05, "beta1": 0.9, "beta2": 0.99, "tau": 1e-3, "momentum": 0},
    "fedadagrad": {"eta": 0.05, "beta1": 0.9, "beta2": 0.99, "tau": 1e-3, "momentum": 0},
    "fedavgm": {"eta": 1.0, "beta1": 0, "beta2": 0, "tau": 0, "momentum": 0.9},
}


def case(name, rng, n, sampler, with_optimizers=True):
    size = flat_size()
    prev = sampler((size,)).astype(np.float32)
    rounds = []
    for _ in range(2):
        updates = sampler((n, size)).astype(np.float32)
        weights = [int(w) for w in rng.integers(1, 1000, size=n)]
        rounds.append((updates, weights))
    u, w = rounds[0][0].astype(np.float64), rounds[0][1]
    expected = {
        "fedavg": fedavg(u, w),
        "iteravg": fedavg(u, [1] * n),
        "coordinate-median": median(u),
        "trimmed-mean": trimmed_mean(u, 0.2),
    }
    krum_out, krum_chosen = krum(u, 1, 1)
    mk_out, mk_chosen = krum(u, 1, n - 1)
    mk3_out, mk3_chosen = krum(u, 2, 3)
    expected["krum"] = krum_out
    expected["multi-krum"] = mk_out
    expected["multi-krum-f2-m3"] = mk3_out
    chosen = {"krum": krum_chosen, "multi-krum": mk_chosen, "multi-krum-f2-m3": mk3_chosen}
    optimizers = {}
    # Server optimizers step by eta * m / sqrt(v): on the extremes case they leave float32's range (no reference there).
    for opt, p in (OPT_PARAMS.items() if with_optimizers else []):
        outs = server_opt(opt, [(r[0].astype(np.float64), r[1]) for r in rounds], prev, p)
        optimizers[opt] = {"params": p, "rounds": [o.tolist() for o in outs]}
    return {
        "name": name,
        "shapes": SHAPES,
        "previous": prev.astype(np.float64).tolist(),
        "rounds": [{"updates": r[0].astype(np.float64).tolist(), "weights": r[1]} for r in rounds],
        "expected": {k: v.tolist() for k, v in expected.items()},
        "chosen": chosen,
        "optimizers": optimizers,
    }


def main():
    rng = np.random.default_rng(20261206)
    cases = [
        case("random normal, 7 parties", rng, 7, lambda shape: rng.normal(0, 1, size=shape)),
        # Few distinct values: medians and trimmed means fall on ties; two parties send the same update (a Krum tie).
        case("ties, 6 parties", rng, 6, lambda shape: rng.choice([-1.0, 0.0, 0.5, 2.0], size=shape)),
        # Finite extremes: magnitudes near float32's largest and smallest normal values, both signs.
        case("finite extremes, 5 parties", rng, 5, lambda shape: rng.choice([-3e38, -1e-30, 0.0, 1e-30, 1.5e38, 3e38], size=shape), with_optimizers=False),
    ]
    ties = cases[1]
    ties["rounds"][0]["updates"][3] = list(ties["rounds"][0]["updates"][1])
    # Recompute the ties case's expectations after making two updates equal.
    u = np.array(ties["rounds"][0]["updates"])
    w = ties["rounds"][0]["weights"]
    n = u.shape[0]
    ties["expected"]["fedavg"] = fedavg(u, w).tolist()
    ties["expected"]["iteravg"] = fedavg(u, [1] * n).tolist()
    ties["expected"]["coordinate-median"] = median(u).tolist()
    ties["expected"]["trimmed-mean"] = trimmed_mean(u, 0.2).tolist()
    for key, f, m in [("krum", 1, 1), ("multi-krum", 1, n - 1), ("multi-krum-f2-m3", 2, 3)]:
        out, chosen = krum(u, f, m)
        ties["expected"][key] = out.tolist()
        ties["chosen"][key] = chosen
    prev = np.array(ties["previous"])
    rounds = [(np.array(r["updates"]), r["weights"]) for r in ties["rounds"]]
    for opt, p in OPT_PARAMS.items():
        ties["optimizers"][opt]["rounds"] = [o.tolist() for o in server_opt(opt, rounds, prev, p)]
    out = pathlib.Path(__file__).with_name("strategy-references.json")
    out.write_text(json.dumps({"generator": "make_strategy_references.py", "numpy": np.__version__, "cases": cases}) + "\n")
    print(f"wrote {out} ({out.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
