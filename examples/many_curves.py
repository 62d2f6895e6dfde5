"""Fit every curve of a scaling benchmark at once and compare two laws on held-out points.

    python examples/many_curves.py [PATH/benchmark.lang.csv]

The language benchmark of Alabdulmohsin, Neyshabur & Zhai (2022, arXiv:2209.06640): 20 learning
curves (NMT, LM, BIG-bench) of loss against examples or tokens seen. Duplicated (curve, x) rows
are dropped. Each curve is fitted on its `Training == 1` points with `PowerLaw` (L = E + A x^-alpha)
and with a one-break `BrokenPowerLaw` (Caballero et al. 2022), all 20 curves in one batched call
per law, and scored by the RMSE of log loss on its held-out (`Training == 0`) points.

The data file is not bundled (shared/data/revisiting_scaling_benchmark in the project's work area,
from google-research/revisiting_neural_scaling_laws, Apache-2.0); pass its path.
"""

import csv
import sys
import warnings
from pathlib import Path

import numpy as np

import jscale

DEFAULT = (
    Path(__file__).resolve().parents[2] / "shared" / "data" / "revisiting_scaling_benchmark" / "benchmark.lang.csv"
)


def read_curves(path):
    """(name -> (x, loss, training mask)), duplicates of (curve, x) dropped (first kept)."""
    curves, seen = {}, set()
    with open(path, newline="") as fh:
        for row in csv.DictReader(fh):
            name = f"{row['Domain']} {row['Task']} {row['Model']}"
            key = (name, row["Seen Examples"])
            if key in seen:
                continue
            seen.add(key)
            curves.setdefault(name, []).append(
                (float(row["Seen Examples"]), float(row["Loss"]), row["Training"] == "1")
            )
    return {k: tuple(np.array(c) for c in zip(*sorted(v))) for k, v in curves.items()}


def main(path=DEFAULT):
    curves = read_curves(path)
    train = [jscale.ScalingData.from_arrays(n_tokens=x[m], loss=y[m]) for x, y, m in curves.values()]
    laws = {
        "power law": jscale.laws.PowerLaw("n_tokens"),
        "broken power law": jscale.laws.BrokenPowerLaw(1, "n_tokens"),
    }
    scores = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", jscale.warnings.ConvergenceWarning)
        for label, law in laws.items():
            results = jscale.fit_many(law, train)  # every curve in one call
            scores[label] = [
                float(np.sqrt(np.mean((np.log(r.predict(n_tokens=x[~m])) - np.log(y[~m])) ** 2)))
                for r, (x, y, m) in zip(results, curves.values())
            ]
    print(f"{'curve':<34} {'train':>5} {'test':>4}   " + "   ".join(f"{k:>16}" for k in laws))
    for k, (name, (_x, _y, m)) in enumerate(curves.items()):
        print(f"{name:<34} {m.sum():>5} {(~m).sum():>4}   " + "   ".join(f"{scores[lab][k]:>16.4f}" for lab in laws))
    print(f"{'mean RMSE of log loss (held out)':<46}" + "   ".join(f"{np.mean(scores[lab]):>16.4f}" for lab in laws))
    wins = np.sum(np.array(scores["broken power law"]) < np.array(scores["power law"]))
    print(f"broken power law better on {wins} of {len(curves)} curves")
    return scores


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else DEFAULT)
