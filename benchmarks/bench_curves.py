"""The multi-power law fitted to Luo et al.'s training curves, both sizes in one call (issue 35).

    python benchmarks/bench_curves.py [--keep 8]

On the three training curves per size (cosine_24000, constant_24000, wsdcon_9; SOURCES.md
section 6, rows with step >= T dropped), `jscale.curves.fit_curves` screens 1,080 starts by the
objective and runs Gauss-Newton from the best `--keep` of each size, both sizes in one batched
call; Luo et al.'s objective is the sum of Huber(1e-3) losses of log residuals (jscale's
default). Printed per size: the objective of the fit and of the published parameters, PredE
(the mean over the six test curves of the mean relative error) of both, and the fit's wall time
(first call, with compilation, and a repeat), and the sd and lag-one correlation of each training
curve's log residuals around the fit (the noise bench_curve_bands.py simulates). Appends the
tables to RESULTS.md.
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
from bench_chinchilla_grid import append_results, command_line, commit  # same folder
from bench_curve_kernel import DATA, LUO2025, PUBLISHED  # same folder

import jscale
from jscale.curves import MULTIPOWER_PARAMS, fit_curves, parse_schedule, predict_curves
from jscale.curves._luo import LUO2025_TRAIN

TRAIN = LUO2025_TRAIN


def curves(size: str) -> dict:
    out = {}
    for name, spec in LUO2025.items():
        schedule = parse_schedule(spec)
        table = np.loadtxt(DATA / f"csv_{size}" / f"{name}.csv", delimiter=",", skiprows=1)
        table = table[table[:, 0] < schedule.steps]
        out[name] = (schedule, table[:, 0].astype(np.int64), table[:, 2])
    return out


def objective(params, chosen: dict) -> float:
    predicted = predict_curves(params, [(s, steps) for s, steps, _ in chosen.values()])["loss"]
    r = np.log(np.concatenate([loss for *_, loss in chosen.values()])) - np.log(predicted)
    return float(np.sum(np.where(np.abs(r) <= 1e-3, 0.5 * r ** 2, 1e-3 * (np.abs(r) - 5e-4))))


def pred_e(params, chosen: dict) -> float:
    predicted = predict_curves(params, [(s, steps) for s, steps, _ in chosen.values()]).split()
    return float(np.mean([np.mean(np.abs(p - loss) / loss) for p, (*_, loss) in zip(predicted, chosen.values())]))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--keep", type=int, default=8, help="starts kept from the screening per size (8)")
    parser.add_argument("--no-append", action="store_true", help="print only")
    args = parser.parse_args(argv)
    if not DATA.is_dir():
        raise SystemExit(f"{DATA} is absent: this benchmark needs ../shared/data/multipower_curves.")
    sizes = {size: curves(size) for size in PUBLISHED}
    train = [{n: c[n] for n in TRAIN} for c in sizes.values()]
    times = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", jscale.warnings.DiagnosticWarning)
        for _ in range(2):
            start = time.perf_counter()
            fits = fit_curves(train, keep=args.keep)
            times.append(time.perf_counter() - start)
    lines = ["| size | fit objective | published objective | fit PredE | published PredE | fit status |",
             "|---|---|---|---|---|---|"]
    for (size, chosen), fit in zip(sizes.items(), fits):
        published = dict(zip(MULTIPOWER_PARAMS, PUBLISHED[size]))
        training = {n: chosen[n] for n in TRAIN}
        test = {n: v for n, v in chosen.items() if n not in TRAIN}
        lines.append(f"| {size} | {objective(fit.params, training):.6g} | {objective(published, training):.6g} | "
                     f"{pred_e(fit.params, test):.6f} | {pred_e(published, test):.6f} | {fit.best_status} |")
    params = ["| size | " + " | ".join(MULTIPOWER_PARAMS) + " |", "|---" * (len(MULTIPOWER_PARAMS) + 1) + "|"]
    params += [f"| {size} fit | " + " | ".join(f"{fit.params[k]:.4g}" for k in MULTIPOWER_PARAMS) + " |"
               for size, fit in zip(sizes, fits)]
    params += [f"| {size} published | " + " | ".join(f"{v:.4g}" for v in PUBLISHED[size]) + " |" for size in sizes]
    noise = ["| size | training curve | sd of log residuals | lag-one correlation |", "|---|---|---|---|"]
    for (size, chosen), fit in zip(sizes.items(), fits):
        for name in TRAIN:
            schedule, steps, loss = chosen[name]
            r = np.log(loss) - np.log(predict_curves(fit, [(schedule, steps)])["loss"])
            noise.append(f"| {size} | {name} | {np.std(r):.5f} | {np.corrcoef(r[:-1], r[1:])[0, 1]:.2f} |")
    body = "\n".join(lines) + "\n\n" + "\n".join(params) + "\n\n" + "\n".join(noise) + \
        f"\n\nFit of both sizes in one call: {times[0]:.1f} s first (with compilation), {times[1]:.1f} s repeat."
    print(body)
    if not args.no_append:
        append_results("Multi-power law fitted to Luo et al.'s training curves", command_line("bench_curves.py", argv),
                       commit(), f"{len(fits[0].objectives)} starts after screening 1,080 by the objective; "
                       "PredE on the six test curves", body)


if __name__ == "__main__":
    main()
