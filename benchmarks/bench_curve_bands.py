"""Coverage of the curve bootstrap's bands over simulated studies (issue 35, acceptance item 3).

    python benchmarks/bench_curve_bands.py [--studies 100] [--resamples 200] [--block 16]

Each study simulates three training curves (cosine, constant and two-stage schedules of 6,000
steps after a 500-step warmup, 90 logged checkpoints each) from a known multi-power law, with
correlated noise along each curve: AR(1) in log loss with sd `--noise` (0.1%) and lag-one
correlation `--rho` (0.8), as in the residuals of Luo et al.'s 25M training curves around the fit
of bench_curves.py (sd 0.0007 to 0.0012, lag-one correlation 0.77 to 0.92; it prints them). It
fits the law (`fit_curves`), bootstraps it (`bootstrap_curves`, by default its autoregressive
residual bootstrap; `--block` applies to unit "block" only) with `--resamples` resamples, and
predicts, with 95% percentile bands, the final loss of two schedules no training curve follows:
warmup-stable-decay with a linear decay over the last 20% of 6,000 steps (the training horizon)
and of 9,000 steps (1.5 times it). Printed per schedule: the share of studies whose band holds
the true final loss (target at least 90%), the bands' median width, the median absolute and the
mean (signed) error of the point prediction; and the time per study. Appends to RESULTS.md.
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
from bench_chinchilla_grid import append_results, command_line, commit  # same folder

import jscale
from jscale.curves import MULTIPOWER_PARAMS, Schedule, bootstrap_curves, fit_curves, predict_curves

TRUTH = dict(zip(MULTIPOWER_PARAMS, (2.9, 0.55, 0.5, 380.0, 2.0, 0.6, 0.6)))
PEAK, FLOOR, WARMUP, STEPS = 3e-4, 3e-5, 500, 6000
CHECKPOINTS = np.arange(600, STEPS, 60)
# Two schedules no training curve follows: warmup-stable-decay with a linear decay over the last
# 20% of the training horizon, and of 1.5 times it.
UNSEEN = {"WSD, 6,000 steps": Schedule.wsd(steps=STEPS, peak=PEAK, decay_start=4800, floor=FLOOR, decay="linear",
                                           warmup=WARMUP),
          "WSD, 9,000 steps": Schedule.wsd(steps=9000, peak=PEAK, decay_start=7200, floor=FLOOR, decay="linear",
                                           warmup=WARMUP)}
FINALS = [(s, [s.steps - 1]) for s in UNSEEN.values()]


def schedules() -> dict:
    return {"cosine": Schedule.cosine(steps=STEPS, peak=PEAK, floor=FLOOR, warmup=WARMUP),
            "constant": Schedule.constant(steps=STEPS, peak=PEAK, warmup=WARMUP),
            "two_stage": Schedule.two_stage(steps=STEPS, peak=PEAK, switch=STEPS // 2, value=9e-5, warmup=WARMUP)}


def simulate(rng, clean: list, noise: float, rho: float) -> dict:
    """The truth's curves with AR(1) noise of sd `noise` in log loss along each curve."""
    out = {}
    for (name, schedule), loss in zip(schedules().items(), clean):
        e = np.zeros(CHECKPOINTS.size)
        shocks = noise * np.sqrt(1 - rho ** 2) * rng.standard_normal(CHECKPOINTS.size)
        e[0] = noise * rng.standard_normal()
        for i in range(1, CHECKPOINTS.size):
            e[i] = rho * e[i - 1] + shocks[i]
        out[name] = (schedule, CHECKPOINTS, loss * np.exp(e))
    return out


def study(rng, clean, truth, args) -> tuple:
    """(covered, band width, error of the point prediction) per unseen schedule, and the seconds,
    of one simulated study."""
    curves = simulate(rng, clean, args.noise, args.rho)
    start = time.perf_counter()
    fit = fit_curves(curves)
    boot = bootstrap_curves(curves, fit, n_resamples=args.resamples, block=args.block,
                            key=int(rng.integers(2 ** 31)))
    seconds = time.perf_counter() - start
    if not np.any(boot.draw_ok):  # no band: counted as not covering
        statuses = dict(zip(*np.unique(np.asarray(boot.status), return_counts=True)))
        print(f"no usable draw (statuses {statuses}); the fit: {fit.best_status}, "
              + ", ".join(f"{k} {v:.4g}" for k, v in fit.params.items()), flush=True)
        return np.zeros(truth.size, bool), np.full(truth.size, np.nan), np.full(truth.size, np.nan), seconds
    prediction = predict_curves(boot, FINALS)
    low, high = prediction.interval("loss", 0.95)
    return (low <= truth) & (truth <= high), high - low, prediction["loss"] - truth, seconds


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--studies", type=int, default=100, help="simulated studies (100)")
    parser.add_argument("--resamples", type=int, default=200, help="bootstrap resamples per study (200)")
    parser.add_argument("--block", type=int, default=16, help="checkpoints per resampled block (16)")
    parser.add_argument("--noise", type=float, default=0.001, help="sd of the noise in log loss (0.001)")
    parser.add_argument("--rho", type=float, default=0.8, help="lag-one correlation of the noise (0.8)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the simulations (0)")
    parser.add_argument("--no-append", action="store_true", help="print only")
    args = parser.parse_args(argv)
    rng = np.random.default_rng(args.seed)
    clean = predict_curves(TRUTH, [(s, CHECKPOINTS) for s in schedules().values()]).split()
    truth = predict_curves(TRUTH, FINALS)["loss"]
    rows = []
    with warnings.catch_warnings():  # correlated parameters, other basins, rough bands: expected here
        warnings.simplefilter("ignore", jscale.warnings.DiagnosticWarning)
        for k in range(args.studies):
            rows.append(study(rng, clean, truth, args))
            if (k + 1) % 10 == 0:
                print(f"{k + 1} studies: coverage " + ", ".join(
                    f"{c:.2f}" for c in np.mean([r[0] for r in rows], axis=0)), flush=True)
    covered, width, error = (np.array([r[i] for r in rows], dtype=float) for i in range(3))
    seconds = np.array([r[3] for r in rows])
    body = ("| unseen schedule | true final loss | coverage of 95% bands | median width | median abs. error | "
            "mean error |\n|---|---|---|---|---|---|\n")
    body += "".join(f"| {name} | {truth[j]:.5f} | {covered[:, j].mean():.2f} | {np.nanmedian(width[:, j]):.4f} | "
                    f"{np.nanmedian(np.abs(error[:, j])):.4f} | {np.nanmean(error[:, j]):+.4f} |\n"
                    for j, name in enumerate(UNSEEN))
    body += (f"\n{args.studies} studies; {args.resamples} resamples; noise sd {args.noise}, rho {args.rho}; "
             f"{np.median(seconds):.1f} s per study (median; the first {seconds[0]:.1f} s, with compilation).")
    print(body)
    if not args.no_append:
        append_results("Coverage of curve bands for an unseen schedule's final loss", command_line(
            "bench_curve_bands.py", argv), commit(), "three simulated training curves per study; unseen WSD schedules "
            "at the training horizon and 1.5x it; target coverage at least 0.90", body)


if __name__ == "__main__":
    main()
