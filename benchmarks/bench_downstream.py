"""Calibration of downstream predictions: two-stage metric bands and compute multipliers, known truth.

    python benchmarks/bench_downstream.py                   # 100 studies per cell, appends to RESULTS.md
    python benchmarks/bench_downstream.py --quick           # 10 studies, 200 resamples, prints only
    python benchmarks/bench_downstream.py --studies 20 --resamples 400 --no-append

Every simulated study trains the same grid of 28 runs: 7 model sizes from 1e7 to 1e9 parameters
(evenly in log N) times 4 ratios of 10, 20, 40 and 80 tokens per parameter. The true loss law is
Chinchilla with Epoch AI's estimate (E 1.82, A 482, B 2085, alpha 0.348, beta 0.366), observed
with log-normal noise exp(N(0, 0.01^2)) (about the Chinchilla fit's residual scale). Losses run
from 2.4 to 6.0.

Two-stage cells (`jscale.two_stage`). A task metric (an error, lower is better) follows a link
law of the loss: Gadre et al.'s exponential link Err(L) = 0.857 - 2.2 exp(-0.715 L), or a sigmoid
from a chance-level error of 0.75 down to 0.2 with slope 3 and midpoint at L0 = 2.6. Each run's
metric is the link of that run's *observed* loss plus its own benchmark noise N(0, 0.007^2): the
loss noise stands for the run's actual quality (seed, data order), which the benchmark sees too,
and the benchmark adds its own (finite test sets). (`--metric-from true` uses the true loss
instead, so the link's input carries measurement error.) Both stages are fitted as a user would
(`jscale.fit(Chinchilla(), data)`, 4,500 starts, Huber; the link with `target="metric"`,
`residual="raw"`, `loss="squared"`), then `jscale.two_stage(..., key=study, n_resamples=R)`
bands the metric and the loss at two points beyond the grid, 4x and 10x the largest model at 20
tokens per parameter. The truth is the law's mean there, link(L(N, D)), not a noisy observation.

Multiplier cells (`jscale.compare`). Recipe A follows the law above; recipe B has A and B 1.2x
larger and E 1.80 (worse at small budgets, catching up at large ones). Both train the same grid.
Each recipe is fitted and bootstrapped (`jscale.bootstrap`, R row resamples, warm starts), and
the 95% band of the multiplier m(C) at C = 1e21 and 1e23 FLOP (the grid's largest run is
4.8e20) is checked against the truth, `jscale.compare((law, A), (law, B), C).multiplier`.
"independent": the two recipes' noises are independent and bootstrapped with different keys.
"paired": runs of A and B at one configuration share half their noise variance (same seed and
data order, correlation 0.5); bootstrapped with one key over the same rows, the draws are paired
(`Comparison.paired`); the same data bootstrapped with different keys is shown beside.

Coverage is the share of studies whose 95% interval holds the truth, with a Wilson 95% interval
for that share; a study that raised is counted apart and left out. Width is the interval's width
over the true value, median over the studies. Misses say on which side the truth fell: "below"
means the whole interval lay above the truth. A band with a NaN end (`Comparison.interval` gives
one when over 2.5% of the draws have m = inf: B never reaches A) covers nothing; the column
beside gives the coverage with such an end read as infinite. Warnings (jscale's diagnostics and numpy's
RuntimeWarning) are silenced in the loop and counted per kind (studies that raised each kind at
least once).
"""

from __future__ import annotations

import argparse
import collections
import time
import warnings

import numpy as np
from bench_chinchilla_grid import append_results, command_line, commit  # same folder

import jscale

EPOCH = dict(E=1.82, A=482.0, B=2085.0, alpha=0.348, beta=0.366)
RECIPE_B = dict(EPOCH, E=1.80, A=1.2 * 482.0, B=1.2 * 2085.0)
SIZES = np.geomspace(1e7, 1e9, 7)
RATIOS = np.array([10.0, 20.0, 40.0, 80.0])
N_GRID = np.repeat(SIZES, len(RATIOS))
D_GRID = N_GRID * np.tile(RATIOS, len(SIZES))
AHEAD = np.array([4.0, 10.0])  # x the largest model, at 20 tokens per parameter
N_AHEAD = SIZES[-1] * AHEAD
D_AHEAD = 20.0 * N_AHEAD
BUDGETS = np.array([1e21, 1e23])
SIGMA_LOSS = 0.01
SIGMA_METRIC = 0.007
RHO = 0.5  # correlation of A's and B's log-loss noise at one configuration in the paired cell
LEVEL = 0.95

LINKS = {
    "exponential": (jscale.laws.ExponentialLink(), dict(eps=0.857, k=2.2, gamma=0.715),
                    lambda p, loss: p["eps"] - p["k"] * np.exp(-p["gamma"] * loss)),
    "sigmoid": (jscale.laws.SigmoidLink(), dict(floor=0.75, ceiling=0.2, s=3.0, L0=2.6),
                lambda p, loss: p["floor"] + (p["ceiling"] - p["floor"]) / (1 + np.exp(p["s"] * (loss - p["L0"])))),
}


def true_loss(p, n, d):
    return p["E"] + p["A"] / n ** p["alpha"] + p["B"] / d ** p["beta"]


def wilson(hits: int, n: int, z: float = 1.959964) -> tuple[float, float]:
    """Wilson score interval of a binomial share."""
    if n == 0:
        return float("nan"), float("nan")
    p = hits / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return centre - half, centre + half


class Tally:
    """Coverage, widths, misses per quantity; failures and warning kinds per cell."""

    def __init__(self, names):
        self.names = names
        self.low = {q: [] for q in names}
        self.high = {q: [] for q in names}
        self.truth = {q: [] for q in names}
        self.estimate = {q: [] for q in names}
        self.failures = []
        self.kinds = collections.Counter()
        self.dropped = []  # share of bootstrap draws left out, per study
        self.seconds = []

    def add(self, q, low, high, truth, estimate):
        self.low[q].append(float(low))
        self.high[q].append(float(high))
        self.truth[q].append(float(truth))
        self.estimate[q].append(float(estimate))

    def row(self, q):
        low, high, truth = (np.array(v[q]) for v in (self.low, self.high, self.truth))
        n = len(truth)
        hits = int(np.sum((low <= truth) & (truth <= high)))  # a NaN end covers nothing
        lo, hi = wilson(hits, n)
        # A NaN end makes the width NaN; the median then reads it as wider than any finite one.
        width = np.median(np.nan_to_num((high - low) / np.abs(truth), nan=np.inf)) if n else float("nan")
        below, above = int(np.sum(truth < low)), int(np.sum(truth > high))
        undefined = int(np.sum(np.isnan(low) | np.isnan(high)))
        # Reading a NaN end as the infinite end of its side (what the percentile of draws that hold
        # m = inf is): the coverage the band would have.
        as_inf = int(np.sum((np.nan_to_num(low, nan=-np.inf) <= truth) & (truth <= np.nan_to_num(high, nan=np.inf))))
        return n, hits, lo, hi, width, below, above, undefined, as_inf

    def warnings_text(self):
        kinds = ", ".join(f"{k.removesuffix('Warning')} {v}" for k, v in sorted(self.kinds.items()))
        return kinds or "none"


def run_guarded(tally: Tally, study: int, fn):
    """Runs one study with diagnostics silenced but counted; a study that raises is recorded."""
    start = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            fn()
        except (ValueError, RuntimeError, FloatingPointError) as err:  # ConvergenceError is a RuntimeError
            tally.failures.append(f"study {study}: {type(err).__name__}: {str(err)[:120]}")
    for kind in {w.category.__name__ for w in caught}:
        tally.kinds[kind] += 1
    tally.seconds.append(time.perf_counter() - start)


def two_stage_cell(link: str, n_studies: int, n_resamples: int, metric_from: str, seed: int) -> Tally:
    link_law, link_params, link_fn = LINKS[link]
    mean_loss = true_loss(EPOCH, N_GRID, D_GRID)
    loss_ahead = true_loss(EPOCH, N_AHEAD, D_AHEAD)
    metric_ahead = link_fn(link_params, loss_ahead)
    names = [f"{what} at {a:g}x" for a in AHEAD for what in ("metric", "loss")]
    tally = Tally(names)
    law = jscale.laws.Chinchilla()
    for study in range(n_studies):
        def one(study=study):
            rng = np.random.default_rng([seed, study])
            observed = mean_loss * np.exp(SIGMA_LOSS * rng.normal(size=mean_loss.size))
            base = observed if metric_from == "observed" else mean_loss
            metric = link_fn(link_params, base) + SIGMA_METRIC * rng.normal(size=mean_loss.size)
            data = jscale.ScalingData.from_arrays(n_params=N_GRID, n_tokens=D_GRID, loss=observed, metric=metric)
            loss_fit = jscale.fit(law, data)
            link_fit = jscale.fit(link_law, data, target="metric", residual="raw", loss="squared")
            joint = jscale.two_stage(loss_fit, link_fit, data, key=study, n_resamples=n_resamples)
            pred = joint.predict(n_params=N_AHEAD, n_tokens=D_AHEAD)
            bands = {"metric": pred.interval("metric", LEVEL), "loss": pred.interval("loss", LEVEL)}
            truths = {"metric": metric_ahead, "loss": loss_ahead}
            for j, a in enumerate(AHEAD):
                for what in ("metric", "loss"):
                    tally.add(f"{what} at {a:g}x", bands[what][0][j], bands[what][1][j], truths[what][j],
                              getattr(pred, what)[j])
            tally.dropped.append(1 - float(np.mean(pred.draw_ok)) + joint.n_dropped / n_resamples)

        run_guarded(tally, study, one)
    return tally


def multiplier_cell(paired: bool, n_studies: int, n_resamples: int, seed: int) -> Tally:
    law = jscale.laws.Chinchilla()
    mean_a, mean_b = true_loss(EPOCH, N_GRID, D_GRID), true_loss(RECIPE_B, N_GRID, D_GRID)
    truth = np.asarray(jscale.compare((law, EPOCH), (law, RECIPE_B), BUDGETS).multiplier)
    draws = ("paired draws", "independent draws") if paired else ("independent draws",)
    names = [f"m at {c:.0e}, {how}" for how in draws for c in BUDGETS]
    tally = Tally(names)
    for study in range(n_studies):
        def one(study=study):
            rng = np.random.default_rng([seed, study])
            z = rng.normal(size=(3, mean_a.size))
            if paired:
                noise_a = np.sqrt(RHO) * z[0] + np.sqrt(1 - RHO) * z[1]
                noise_b = np.sqrt(RHO) * z[0] + np.sqrt(1 - RHO) * z[2]
            else:
                noise_a, noise_b = z[1], z[2]
            data_a = jscale.ScalingData.from_arrays(n_params=N_GRID, n_tokens=D_GRID,
                                                    loss=mean_a * np.exp(SIGMA_LOSS * noise_a))
            data_b = jscale.ScalingData.from_arrays(n_params=N_GRID, n_tokens=D_GRID,
                                                    loss=mean_b * np.exp(SIGMA_LOSS * noise_b))
            fit_a, fit_b = jscale.fit(law, data_a), jscale.fit(law, data_b)
            boot_a = jscale.bootstrap(law, data_a, key=2 * study, n_resamples=n_resamples, full_fit=fit_a)
            # paired: the same key over the same rows draws the same resamples, so draw b of A and B
            # refit the same configurations.
            keys_b = ((2 * study, 2 * study + 1) if paired else (2 * study + 1,))
            shares = []
            for how, key in zip(draws, keys_b):
                boot_b = jscale.bootstrap(law, data_b, key=key, n_resamples=n_resamples, full_fit=fit_b)
                comparison = jscale.compare(boot_a, boot_b, BUDGETS)
                if comparison.paired != (how == "paired draws"):
                    raise RuntimeError(f"Comparison.paired is {comparison.paired} for {how}.")
                low, high = comparison.interval("multiplier", LEVEL)
                for j, c in enumerate(BUDGETS):
                    tally.add(f"m at {c:.0e}, {how}", low[j], high[j], truth[j], comparison.multiplier[j])
                shares.append(1 - float(np.mean(comparison.draw_ok)))
            tally.dropped.append(max(shares))

        run_guarded(tally, study, one)
    return tally


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--studies", type=int, default=None, help="simulated studies per cell (default 100; 10 "
                                                                   "with --quick)")
    parser.add_argument("--resamples", type=int, default=None, help="bootstrap resamples per study (default 1000; "
                                                                    "200 with --quick)")
    parser.add_argument("--quick", action="store_true", help="10 studies, 200 resamples, print only")
    parser.add_argument("--cells", default="exponential,sigmoid,independent,paired",
                        help="comma-separated cells to run (default all four)")
    parser.add_argument("--metric-from", choices=("observed", "true"), default="observed",
                        help="the link's input when simulating the metric: the run's observed loss (default) or "
                             "the true loss")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-append", action="store_true", help="print only; do not append to RESULTS.md")
    args = parser.parse_args(argv)
    studies = args.studies if args.studies is not None else (10 if args.quick else 100)
    resamples = args.resamples if args.resamples is not None else (200 if args.quick else 1000)
    cells = [c.strip() for c in args.cells.split(",") if c.strip()]
    unknown = [c for c in cells if c not in ("exponential", "sigmoid", "independent", "paired")]
    if unknown:
        parser.error(f"unknown cell {unknown[0]!r}; choose from exponential, sigmoid, independent, paired")
    measured = commit()  # read before the run: the tree may change while it runs

    lines = ["| cell | quantity | studies | coverage (Wilson 95%) | misses below / above | median width / truth | "
             "NaN bands (coverage reading NaN as inf) | failed studies | warnings (studies) | "
             "draws left out (median) | s per study (median) | time (s) |",
             "|" + "---|" * 12]
    failures = []
    t_all = time.perf_counter()
    for k, cell in enumerate(cells):
        t0 = time.perf_counter()
        if cell in LINKS:
            tally = two_stage_cell(cell, studies, resamples, args.metric_from, seed=10 * args.seed + k)
            label = f"two-stage, {cell} link"
        else:
            tally = multiplier_cell(cell == "paired", studies, resamples, seed=10 * args.seed + k)
            label = f"multiplier, {cell}"
        seconds = time.perf_counter() - t0
        failures += [f"{label}: {f}" for f in tally.failures[:3]]
        for q in tally.names:
            n, hits, lo, hi, width, below, above, undefined, as_inf = tally.row(q)
            coverage = f"{100 * hits / n:.0f}% ({100 * lo:.0f}-{100 * hi:.0f})" if n else "-"
            nan_bands = f"{undefined} ({100 * as_inf / n:.0f}%)" if undefined else "0"
            lines.append(f"| {label} | {q} | {n} | {coverage} | {below} / {above} | {width:.3g} | {nan_bands} | "
                         f"{len(tally.failures)} | {tally.warnings_text()} | "
                         f"{100 * np.median(tally.dropped) if tally.dropped else float('nan'):.1f}% | "
                         f"{np.median(tally.seconds):.2f} | {seconds:.0f} |")
            print(lines[-1], flush=True)
    total = time.perf_counter() - t_all
    table = "\n".join(lines)
    if failures:
        table += "\n\nFirst failures: " + "; ".join(failures)
    table += f"\n\nTotal time {total:.0f} s (first study of each cell includes compilation)."
    print(table)
    if not (args.no_append or args.quick):
        command = command_line("bench_downstream.py", argv)
        note = (f"{studies} simulated studies per cell, {resamples} row resamples each; 28 runs (7 sizes 1e7-1e9 "
                "x 10, 20, 40, 80 tokens/param) from Chinchilla (E 1.82, A 482, B 2085, alpha 0.348, beta 0.366), "
                f"loss noise exp(N(0, {SIGMA_LOSS}^2)); metric = link({args.metric_from} loss) + "
                f"N(0, {SIGMA_METRIC}^2) with the exponential link (eps 0.857, k 2.2, gamma 0.715) or the sigmoid "
                "link (floor 0.75, ceiling 0.2, s 3, L0 2.6); two-stage points 4x and 10x the largest model at 20 "
                "tokens/param; recipe B: A and B x1.2, E 1.80, multiplier at 1e21 and 1e23 FLOP; paired cell: noise "
                f"correlation {RHO} between recipes at a configuration. Coverage of the true value by 95% percentile "
                "bands; 'misses below' = interval above the truth; a NaN band end (Comparison.interval over draws "
                "with m = inf) counts as a miss.")
        append_results("Downstream calibration: two-stage bands and compute multipliers (known truth)", command,
                       measured, note, table)


if __name__ == "__main__":
    main()
