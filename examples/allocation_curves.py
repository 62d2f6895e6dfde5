"""Compute-optimal allocation curves N*(C), D*(C) for Chinchilla, with 95% bootstrap bands.

    python examples/allocation_curves.py      # prints the table, writes examples/allocation.png

Fits the Chinchilla law to the 240 runs Epoch AI keeps, bootstraps it (row resamples from the
full-data optimum), solves the compute-optimal allocation under C = 6ND on every draw at 60
budgets, prints N*, D*, D*/N* and L* with bands at 1e21, 5.76e23 (Chinchilla) and 1e24 FLOP,
and, where matplotlib is installed (`pip install jscale[plot]`), draws the curves with bands.
"""

import sys
import warnings
from pathlib import Path

import numpy as np

import jscale

TABLE_BUDGETS = [1e21, 5.76e23, 1e24]
FIGURE = str(Path(__file__).with_name("allocation.png"))


def main(n_resamples: int = 4000, every: int = 1, out: str | None = FIGURE):
    data = jscale.datasets.load("chinchilla")
    law = jscale.laws.Chinchilla()
    fit = jscale.fit(law, data, starts=law.default_starts()[::every])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", jscale.warnings.IntervalWarning)
        boot = jscale.bootstrap(law, data, n_resamples=n_resamples, key=0, starts="optimum", full_fit=fit)
    print(jscale.compute_optimal(boot, TABLE_BUDGETS).table())

    budgets = np.logspace(19, 26, 60)
    curves = jscale.compute_optimal(boot, budgets)
    if out is None:
        return curves
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed (pip install 'jscale[plot]'); no figure drawn.", file=sys.stderr)
        return curves
    fig, ax = plt.subplots(figsize=(6, 4))
    for name, label, color in [("n_params", "parameters N*", "C0"), ("n_tokens", "tokens D*", "C1")]:
        low, high = curves.interval(name)
        ax.plot(budgets, getattr(curves, name), color=color, label=label)
        ax.fill_between(budgets, low, high, color=color, alpha=0.25, linewidth=0)
    ax.scatter(data.compute, data.n_params, s=6, color="0.5", label="runs (N)")
    ax.set(xscale="log", yscale="log", xlabel="training compute C = 6ND (FLOP)", ylabel="count",
           title=f"Compute-optimal allocation, 95% bands ({boot.n_resamples} resamples)")
    ax.legend(frameon=False)
    fig.tight_layout()
    fig.savefig(out, dpi=120)
    print(f"wrote {out}")
    return curves


if __name__ == "__main__":
    main()
