"""From loss to downstream error, and which training set wins by how much compute.

Reproduces Gadre et al. 2024's two-stage prediction (arXiv:2403.08540) on the bundled runs for
all three training sets: a loss law L = E + A/N^a + B/D^a fitted by least squares to 5 small
runs, an error law Err(L) = eps - k exp(-gamma L) fitted to those and a 1.4B run, and the
predicted 17-task error of the held-out 1.4B (over-trained) and 6.9B runs. Then the same chain on
all runs of each set with a joint bootstrap, and the compute multiplier between the sets from one
law with a shared irreducible loss.

    python examples/downstream.py
"""

import warnings

import numpy as np

import jscale
from jscale import laws


def gadre(runs) -> None:
    print("Gadre et al. 2024, 17-task top-1 error of the held-out runs:")
    print(f"{'training set':>12} {'N':>9} {'M':>5} {'predicted':>10} {'measured':>9} {'rel. error':>10}")
    for name, part in runs.split("dataset").items():
        role = np.asarray(part["fit_role"])
        small = role == "loss_and_error_fit"
        link_rows = small | (role == "error_fit_only")
        loss_fit = jscale.fit(laws.Chinchilla().tie(beta="alpha"), part.subset(small), residual="raw",
                              loss="squared")
        link_fit = jscale.fit(laws.ExponentialLink(), part.subset(link_rows), target="err_avg_subset17",
                              residual="raw", loss="squared")
        two = jscale.two_stage(loss_fit, link_fit, part, loss_rows=small, link_rows=link_rows)
        far = part.subset(role == "extrapolation_target")
        predicted = two.predict(far).metric
        measured = np.asarray(far["err_avg_subset17"])
        for n, m, p, y in zip(far.n_params, far["tokens_per_param"], predicted, measured):
            print(f"{name:>12} {n:>9.3g} {m:>5.0f} {p:>10.4f} {y:>9.4f} {100 * abs(p - y) / y:>9.4f}%")


def bands(runs) -> None:
    rpj = runs.split("dataset")["rpj"]
    loss_fit = jscale.fit(laws.Chinchilla(), rpj)
    link_fit = jscale.fit(laws.ExponentialLink(), rpj, target="err_avg_subset17", residual="raw", loss="squared")
    two = jscale.two_stage(loss_fit, link_fit, rpj, key=0, n_resamples=1000)
    print("\nRedPajama, all 35 runs, joint bootstrap of both stages (1,000 resamples):")
    print(two.predict_optimal([1e21, 1e22, 1e23, 1e24]).table())


def recipes(runs) -> None:
    law = laws.shared(laws.Chinchilla(), runs, by="dataset", shared=("E",))
    fit = jscale.fit(law, runs)
    boot = jscale.bootstrap(law, runs, key=0, n_resamples=1000, full_fit=fit)
    print("\nRefinedWeb (B) against RedPajama (A), C4 eval loss, one E for all three sets:")
    print(jscale.compare((boot, "rpj"), (boot, "rw_original"), [1e20, 1e21, 1e22, 1e23, 1e24]).summary())


if __name__ == "__main__":
    data = jscale.datasets.load("gadre2024")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", jscale.warnings.DiagnosticWarning)
        gadre(data)
        bands(data)
        recipes(data)
