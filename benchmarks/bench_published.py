"""Published fits over other columns, targets and residuals: the figures, and the time each takes.

Runs the three reproductions of tests/test_published.py and prints (and appends to RESULTS.md) the
figures the README quotes:

* Gadre et al. 2024: the over-training law over tokens_per_param, least squares on the raw C4
  loss, 5 points, 128 starts, per training set; held-out relative errors on RedPajama.
* Clark et al. 2022: log10 L bilinear in log10 N and log10 E, the three routers in one call.
* kyo-takano's asymmetric absolute error (weight 10 on over-prediction, smoothed within 1e-4) on
  the 234 bundled Chinchilla runs with N < D, from Hoffmann's full 4,500-start grid.

Needs ../shared/data (SOURCES.md sections 4 and 5).
"""

from __future__ import annotations

import argparse
import itertools
import time
import warnings
from pathlib import Path

import jax.numpy as jnp
import numpy as np
from bench_chinchilla_grid import append_results, commit

import jscale
from jscale.laws import custom

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def _overtraining(p, x):
    n, m = x["n_params"], x["tokens_per_param"]
    return p["alpha"] * n ** p["b"] + p["beta"] * 6 ** (p["b"] / 2) * (m * n) ** p["b"] + p["E"]


def _bilinear(p, x):
    log_n, log_e = jnp.log10(x["n_params"]), jnp.log10(x["n_experts"])
    return jnp.log(10.0) * (p["a"] * log_n + p["b"] * log_e + p["c"] * log_n * log_e + p["d"])


def _timed(fn, *args, **kwargs):
    start = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - start


def gadre() -> list[str]:
    data = jscale.ScalingData.from_csv(DATA / "gadre2024_downstream" / "gadre2024_downstream_104_models.csv")
    law = custom(_overtraining, dict.fromkeys(("alpha", "beta", "b", "E"), "free"), ("n_params", "tokens_per_param"))
    starts = np.array(list(itertools.product([1e2, 3e2, 1e3, 3e3], [1e2, 3e2, 1e3, 3e3], [-0.1, -0.3],
                                             [0.0, 1.0, 2.0, 10.0])))
    names = ("rpj", "c4_original", "rw_original")
    sets = [data.subset(np.asarray(data["dataset"]) == n) for n in names]
    train = [d.subset(np.asarray(d["fit_role"]) == "loss_and_error_fit") for d in sets]
    fits, seconds = _timed(jscale.fit_many, law, train, target="loss_c4_val", residual="raw", loss="squared",
                           starts=starts)
    rows = [f"Gadre et al. 2024, one `fit_many` call, 3 x 128 starts: {seconds:.1f} s (with compilation)", "",
            "| training set | alpha | beta | b | E | starts at the optimum |", "|---|---|---|---|---|---|"]
    for name, fit in zip(names, fits):
        p = fit.params
        rows.append(f"| {name} | {p['alpha']:.10g} | {p['beta']:.10g} | {p['b']:.10g} | {p['E']:.10g} | "
                    f"{fit.n_at_best} |")
    test = sets[0].subset(np.asarray(sets[0]["fit_role"]) == "extrapolation_target")
    predicted = fits[0].predict(test)
    relative = np.abs(predicted - test["loss_c4_val"]) / test["loss_c4_val"] * 100
    rows += ["", "| RedPajama held-out run | predicted | observed | relative error |", "|---|---|---|---|"]
    for k in np.argsort(test["n_params"]):
        rows.append(f"| N = {test['n_params'][k]:.3g}, M = {test['tokens_per_param'][k]:g} | {predicted[k]:.6f} | "
                    f"{test['loss_c4_val'][k]:.6f} | {relative[k]:.4f}% |")
    return rows


def clark() -> list[str]:
    data = jscale.ScalingData.from_csv(DATA / "routing_moe" / "clark2022_routing_final_step.csv")
    standard = data.subset(np.asarray(data["is_standard_config"]) == 1)
    router = np.asarray(standard["router"])
    names = ("S-Base", "RL-R", "Hash")
    sets = [standard.subset((router == "Dense") | (router == r)) for r in names]
    law = custom(_bilinear, dict.fromkeys("abcd", "free"), ("n_params", "n_experts"), log=True)
    fits, seconds = _timed(jscale.fit_many, law, sets, target="loss_validation", loss="squared")
    rows = [f"Clark et al. 2022, one `fit_many` call, 3 routers x 81 starts: {seconds:.1f} s (with compilation)", "",
            "| router | rows | a | b | c | d |", "|---|---|---|---|---|---|"]
    for name, d, fit in zip(names, sets, fits):
        p = fit.params
        rows.append(f"| {name} | {len(d)} | {p['a']:.10g} | {p['b']:.10g} | {p['c']:.10g} | {p['d']:.10g} |")
    return rows


def kyo() -> list[str]:
    data = jscale.datasets.load("chinchilla")
    data = data.subset(data.n_params < data.n_tokens)
    loss = jscale.losses.Asymmetric(over=10.0, delta=1e-4)
    fit, seconds = _timed(jscale.fit, jscale.laws.Chinchilla(), data, residual="raw", loss=loss)
    p = fit.params
    mean_error = fit.objective / len(data) / loss.delta
    return [f"kyo-takano's objective on {len(data)} runs with N < D, 4,500 starts: {seconds:.1f} s "
            "(with compilation)", "", "| | E | A | B | alpha | beta | mean asymmetric abs. error |",
            "|---|---|---|---|---|---|---|",
            f"| jscale | {p['E']:.6g} | {p['A']:.6g} | {p['B']:.6g} | {p['alpha']:.6g} | {p['beta']:.6g} | "
            f"{mean_error:.4f} |",
            "| the package's README | 1.70044 | 185.388 | 1627.00 | 0.289233 | 0.355602 | |"]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--no-append", action="store_true", help="print only; do not append to RESULTS.md")
    args = parser.parse_args(argv)
    measured = commit()
    warnings.simplefilter("ignore", jscale.warnings.DiagnosticWarning)
    body = "\n".join(gadre() + [""] + clark() + [""] + kyo())
    print(body)
    if not args.no_append:
        append_results("Published fits over any column, target and residual", "python benchmarks/bench_published.py",
                       measured, "Figures of tests/test_published.py; times include compilation (default batching).",
                       body)


if __name__ == "__main__":
    main()
