"""A scaling law of your own, written as a plain JAX function, with every jscale capability.

    python examples/custom_law.py

The law here is Chinchilla's form written by hand, L = E + A/N^alpha + B/D^beta, with alpha and
beta bounded to (0, 1) (fitted through a logistic map) and a small start grid. jscale fits it to
the bundled Chinchilla runs, bootstraps it, solves the compute-optimal allocation, and
saves and reloads the result (the function is passed back on load).
"""

import tempfile
import warnings
from pathlib import Path

import jscale
from jscale.laws import Param


def chinchilla_form(p, x):
    """Predicted loss from natural parameters `p` and inputs `x` (jax.numpy arrays)."""
    return p["E"] + p["A"] / x["n_params"] ** p["alpha"] + p["B"] / x["n_tokens"] ** p["beta"]


LAW = jscale.laws.custom(
    chinchilla_form,
    {"E": Param("positive", (1.0, 2.0)), "A": Param("positive", (1e2, 1e3)), "B": Param("positive", (1e2, 1e4)),
     "alpha": Param((0.0, 1.0), (0.2, 0.4)), "beta": Param((0.0, 1.0), (0.2, 0.4))},
    columns=("n_params", "n_tokens"), name="my-chinchilla",
)


def main(n_resamples: int = 1000):
    data = jscale.datasets.load("chinchilla")
    fit = jscale.fit(LAW, data)  # the grid of every parameter's starts: 2 x 2 x 2 x 2 x 2 = 32
    print(fit.summary())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", jscale.warnings.IntervalWarning)
        boot = jscale.bootstrap(LAW, data, n_resamples=n_resamples, key=0, full_fit=fit, starts="optimum")
        print()
        print(boot.summary())
        print()
        print(jscale.compute_optimal(boot, [1e21, 5.76e23, 1e24]).table())
    with tempfile.TemporaryDirectory() as tmp:
        path = jscale.save(boot, Path(tmp) / "custom.jscale")
        again = jscale.load(path, law=LAW)
    print(f"\nsaved and reloaded: alpha interval {again.interval('alpha')}")
    return boot


if __name__ == "__main__":
    main()
