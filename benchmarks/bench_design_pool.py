"""Run design on a pool of real runs: `suggest_runs`' budgeted selection against random selection at equal cost.

    python benchmarks/bench_design_pool.py             # every pool, 20 random draws, appends to RESULTS.md
    python benchmarks/bench_design_pool.py --quick     # the routing pools, 5 random draws, prints only
    python benchmarks/bench_design_pool.py --pools routing,simulated --draws 50 --no-append

Needs ../shared/data (SOURCES.md section 5, the routing runs); the datablations pool is bundled.

A study has trained a few cheap seed runs and may train more from a pool of candidate runs, each
with its cost, to predict a target region: the largest runs, which it will not train. Each pool
is real published data, so every candidate's loss is known and a selection can be scored:

* routing (Clark et al. 2022, arXiv:2202.01169; shared/data/routing_moe, CC-BY-4.0): the
  standard runs of one router (S-Base, RL-R or Hash; k = 1, routing frequency 0.5, seed 42)
  with the Dense runs as E = 1, as in the reference fits of SOURCES.md section 5. Law: their
  bilinear form log L = d + a log N + b log E + c log N log E (a custom law over n_params and
  n_experts; N = dense parameters, E = experts), least squares on log L. Cost of a run: its
  flops_per_step x steps. Target region: the 1.3B runs (10 per router). Seeds: the Dense runs at
  15M, 25M and 55M and the 15M runs at E = 8 and 64 (5 runs for 4 parameters: E varies at one
  size only, so the curvature is singular and suggest_runs completes it with its prior).
* routing, simulated: the same configurations, costs, seeds and targets, with every loss
  replaced by the law fitted to all of that router's runs times exp(s z), z standard normal and
  s the fit's residual sd: a pool where the law holds, so what a selection buys is not hidden by
  the law's own error at 1.3B (its fit to all runs misses the real 1.3B losses by 0.01-0.035 in
  log loss, every one too low). `--replicates` noise draws (5 by default), merged in one row per
  router.
* datablations (Muennighoff et al. 2023, arXiv:2305.16264; the 182 rows of the paper's fit,
  `jscale.datasets.load("datablations")`): the data-constrained law, all 7 parameters fitted
  (Huber, delta 1e-3; every 32nd of its 6,400 default starts). Cost 6ND. Target region: the 18
  runs of largest compute (the top 10%: N 0.57B-8.7B). Seeds: the 10 cheapest runs. (With the
  paper's C4 base law held fixed and only R_D*, R_N* fitted, more runs made the targets' fit
  worse: that base misses them.)

The pool is every other run. For a budget of 1%, 5% or 10% of the pool's total cost:

* jscale: up to 3 batches, each `jscale.suggest_runs(fit, candidates=<the untrained pool>,
  region=<the target configurations, no losses>, cost=<their costs>, budget=<all that is
  left>, n=None, max_repeats=1, cost_exponent=e)` on a `jscale.fit` (curvature) of the seeds
  and the runs chosen so far, of whose plan the first runs up to a third of what is left are
  trained (at least one; the last batch trains the whole plan), for e = 1 (the default,
  variance removed per unit cost), 0.4 (a softer weighting), 0 (variance removed alone, the
  budget binding) and (1, 0.4, 0) (the plan of the three that removes the most variance).
* random: a random order of the pool, taking every run that still fits the budget (so it
  spends about as much), `--draws` orders per budget, fitted together with `jscale.fit_many`.

Every selection is scored by a fit to the seeds and the selected runs: R^2 of its log-loss
predictions of the target runs (1 - SSE / SS around their mean) and their RMSE in log loss;
for jscale, the share of the random draws (of the same pool and budget) whose R^2 is lower. Rows
"seeds only" and "whole pool" bound what any selection can reach. Warnings of the fits are
silenced and counted by kind.
"""

from __future__ import annotations

import argparse
import collections
import time
import warnings
from pathlib import Path

import jax.numpy as jnp
import numpy as np
from bench_chinchilla_grid import append_results, command_line, commit  # same folder

import jscale

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
ROUTING_CSV = DATA / "routing_moe" / "clark2022_routing_final_step.csv"
ROUTERS = ("S-Base", "RL-R", "Hash")
SHARES = (0.01, 0.05, 0.10)
# suggest_runs' cost_exponent: the default, the issue's softer one, the variance alone, the best of the three.
EXPONENTS = (1.0, 0.4, 0.0, (1.0, 0.4, 0.0))
BATCHES = 3
POOLS = ("routing", "simulated", "datablations")


def _bilinear(p, x):
    log_n, log_e = jnp.log(x["n_params"]), jnp.log(x["n_experts"])
    return p["d"] + p["a"] * log_n + p["b"] * log_e + p["c"] * log_n * log_e


ROUTING_LAW = jscale.laws.custom(_bilinear, {k: "free" for k in "abcd"}, columns=("n_params", "n_experts"),
                                 name="routing-bilinear", log=True)
DATABLATIONS_LAW = jscale.laws.DataConstrained()
DATABLATIONS_STARTS = DATABLATIONS_LAW.default_starts()[::32]


class Pool:
    """A pool of runs: `data`, per-run `cost`, the `seeds`, `targets` and `pool` row indices, the
    law and how it is fitted."""

    def __init__(self, name, data, cost, seeds, targets, law, fit_options):
        self.name, self.data, self.cost, self.law, self.fit_options = name, data, np.asarray(cost), law, fit_options
        self.seeds, self.targets = np.asarray(seeds), np.asarray(targets)
        self.pool = np.setdiff1d(np.arange(len(data)), np.concatenate([self.seeds, self.targets]))
        self.region = {c: np.asarray(data[c])[self.targets] for c in law.columns}

    def fit(self, rows):
        return jscale.fit(self.law, self.data.subset(np.sort(rows)), **self.fit_options)

    def score(self, fit) -> tuple[float, float]:
        """(R^2, RMSE) of the fit's log-loss predictions of the target runs."""
        y = np.log(np.asarray(self.data.loss)[self.targets])
        pred = np.log(np.asarray(fit.predict(**self.region)))
        sse = float(np.sum((y - pred) ** 2))
        return 1.0 - sse / float(np.sum((y - y.mean()) ** 2)), float(np.sqrt(sse / y.size))


def routing_pools(simulated: bool = False, seed=0) -> list[Pool]:
    columns = {"n_params": "n_params", "n_experts": "n_experts", "loss": "loss_validation", "router": "router",
               "flops_per_step": "flops_per_step", "steps": "steps", "is_standard_config": "is_standard_config"}
    every = jscale.ScalingData.from_csv(str(ROUTING_CSV), columns=columns)
    standard = np.flatnonzero(np.asarray(every["is_standard_config"]) == 1)
    pools = []
    for router in ROUTERS:
        label = np.asarray(every["router"])[standard]
        data = every.subset(standard[(label == router) | (label == "Dense")])
        n, e = np.asarray(data.n_params), np.asarray(data["n_experts"])
        sizes = np.unique(n)
        seeds = np.flatnonzero(((e == 1) & np.isin(n, sizes[:3])) | ((n == sizes[0]) & np.isin(e, (8, 64))))
        targets = np.flatnonzero(n == sizes[-1])
        cost = np.asarray(data["flops_per_step"]) * np.asarray(data["steps"])
        options = dict(loss="squared", starts=np.zeros((1, 4)))
        name = f"routing {router}"
        if simulated:
            truth = jscale.fit(ROUTING_LAW, data, **options)
            log_l = np.log(np.asarray(truth.predict(data)))
            sd = float(np.std(np.log(np.asarray(data.loss)) - log_l, ddof=4))
            loss = np.exp(log_l + sd * np.random.default_rng([*np.atleast_1d(seed), len(pools)]).standard_normal(
                len(data)))
            data = jscale.ScalingData.from_arrays(n_params=data.n_params, n_experts=data["n_experts"], loss=loss)
            name += f", simulated (s = {sd:.4f})"
        pools.append(Pool(name, data, cost, seeds, targets, ROUTING_LAW, options))
    return pools


def datablations_pool() -> Pool:
    data = jscale.datasets.load("datablations")
    cost = 6.0 * np.asarray(data.n_params) * np.asarray(data.n_tokens)
    order = np.argsort(cost, kind="stable")
    n_targets = int(round(0.1 * len(data)))
    return Pool("datablations", data, cost, order[:10], order[-n_targets:], DATABLATIONS_LAW,
                dict(starts=DATABLATIONS_STARTS))


def _label(exponent) -> str:
    return f"e = {exponent:g}" if np.isscalar(exponent) else "e = best of " + ", ".join(f"{e:g}" for e in exponent)


def designed(pool: Pool, budget: float, exponent) -> tuple[np.ndarray, list]:
    """Up to 3 batches: plan the whole remaining budget on a fit of the seeds and the runs so far,
    train the plan's first runs up to a third of the remaining budget (at least one; the last
    batch all of them), refit, plan again."""
    chosen, notes = [], []
    for batch in range(BATCHES):
        left = np.setdiff1d(pool.pool, chosen)
        remaining = budget - pool.cost[chosen].sum()
        if not left.size or remaining < pool.cost[left].min():
            break
        fit = pool.fit(np.concatenate([pool.seeds, chosen]).astype(int))
        candidates = {c: np.asarray(pool.data[c])[left] for c in pool.law.columns}
        plan = jscale.suggest_runs(fit, candidates=candidates, region=pool.region, cost=pool.cost[left],
                                   budget=remaining, n=None, max_repeats=1, cost_exponent=exponent)
        notes += list(plan.notes)
        if not len(plan.indices):
            break
        take = len(plan.indices)
        if batch < BATCHES - 1:
            take = max(1, int(np.sum(plan.cumulative_cost <= remaining / (BATCHES - batch))))
        chosen += left[plan.indices[:take]].tolist()
    return np.asarray(chosen, int), notes


def random_orders(pool: Pool, budget: float, draws: int, rng) -> list[np.ndarray]:
    """`draws` random selections: a random order of the pool, keeping every run that still fits."""
    out = []
    for _ in range(draws):
        spent, keep = 0.0, []
        for k in rng.permutation(pool.pool):
            if spent + pool.cost[k] <= budget:
                keep.append(k)
                spent += pool.cost[k]
        out.append(np.asarray(keep, int))
    return out


def run_pool(pool: Pool, draws: int, seed: int, counts: collections.Counter) -> list[dict]:
    """Every selection of one pool, scored: one row per (budget, selection), the scores as arrays."""
    rows = []
    total = float(pool.cost[pool.pool].sum())

    def record(method, share, chosen_sets, fits, seconds, beats=None):
        scores = np.array([pool.score(f) for f in fits])
        rows.append(dict(pool=pool.name, share=share, method=method, runs=[len(c) for c in chosen_sets],
                         spent=[pool.cost[c].sum() / total for c in chosen_sets], r2=scores[:, 0].tolist(),
                         rmse=scores[:, 1].tolist(), seconds=seconds, beats=beats))

    t = time.perf_counter()
    record("seeds only", 0.0, [np.array([], int)], [pool.fit(pool.seeds)], time.perf_counter() - t)
    t = time.perf_counter()
    record("whole pool", 1.0, [pool.pool], [pool.fit(np.concatenate([pool.seeds, pool.pool]))],
           time.perf_counter() - t)
    rng = np.random.default_rng([seed, len(pool.pool)])
    for share in SHARES:
        budget = share * total
        t = time.perf_counter()
        sets = random_orders(pool, budget, draws, rng)
        fits = jscale.fit_many(pool.law, [pool.data.subset(np.sort(np.concatenate([pool.seeds, c]))) for c in sets],
                               **pool.fit_options)
        record(f"random ({draws} draws)", share, sets, fits, time.perf_counter() - t)
        random_r2 = np.asarray(rows[-1]["r2"])
        for exponent in EXPONENTS:
            t = time.perf_counter()
            chosen, notes = designed(pool, budget, exponent)
            final = pool.fit(np.concatenate([pool.seeds, chosen]))
            r2 = pool.score(final)[0]
            record(f"jscale ({_label(exponent)})", share, [chosen], [final], time.perf_counter() - t,
                   beats=[float(np.mean(random_r2 < r2))])
            counts["suggest_runs batches planned on a singular curvature (completed by the prior)"] += sum(
                "singular" in n for n in notes)
        print(f"{pool.name}: {100 * share:g}% done", flush=True)
    return rows


def merged(rows: list[dict]) -> list[dict]:
    """Rows of the same pool, budget and selection (replicates of a simulated pool) as one."""
    out = {}
    for r in rows:
        key = (r["pool"], r["share"], r["method"])
        if key not in out:
            out[key] = {**r, **{k: list(r[k]) for k in ("runs", "spent", "r2", "rmse")},
                        "beats": None if r["beats"] is None else list(r["beats"])}
            continue
        for k in ("runs", "spent", "r2", "rmse") + (("beats",) if r["beats"] is not None else ()):
            out[key][k] += r[k]
        out[key]["seconds"] += r["seconds"]
    order = {"seeds only": 0, "whole pool": 1}
    return sorted(out.values(), key=lambda r: (r["pool"], r["share"], order.get(r["method"], 2), r["method"]))


def _band(values) -> str:
    values = np.asarray(values)
    if values.size == 1:
        return f"{values[0]:.3f}"
    low, high = np.percentile(values, [10, 90])
    return f"{np.median(values):.3f} ({low:.3f} to {high:.3f})"


def _cell(r) -> str:
    """R^2 median (10-90%) / RMSE median [share of random draws with a lower R^2]."""
    beats = "" if r["beats"] is None else f" [{np.mean(r['beats']):.0%}]"
    return f"{_band(r['r2'])} / {np.median(r['rmse']):.4f}{beats}"


def tables(rows: list[dict], replicates: int) -> str:
    rows = merged(rows)
    random = next(r["method"] for r in rows if r["method"].startswith("random"))
    methods = [random] + [f"jscale ({_label(e)})" for e in EXPONENTS]
    lines = ["| pool | budget | " + " | ".join(methods) + " | runs (mean, in the columns' order) |",
             "|" + "---|" * (len(methods) + 3)]
    for pool in dict.fromkeys(r["pool"] for r in rows):
        mine = {(r["share"], r["method"]): r for r in rows if r["pool"] == pool}
        ends = [f"{m}: {_cell(mine[(share, m)])}" for share, m in ((0.0, "seeds only"), (1.0, "whole pool"))]
        lines.append(f"| {pool} | 0% / 100% | " + "; ".join(ends) + " |" + " |" * len(methods))
        for share in SHARES:
            runs = ", ".join(f"{np.mean(mine[(share, m)]['runs']):.1f}" for m in methods)
            lines.append(f"| {pool} | {100 * share:g}% | " + " | ".join(_cell(mine[(share, m)]) for m in methods)
                         + f" | {runs} |")
    summary = ["| pools | budget | " + " | ".join(methods) + " |", "|" + "---|" * (len(methods) + 2)]
    kinds = {"real": lambda r: "simulated" not in r["pool"], "simulated": lambda r: "simulated" in r["pool"]}
    for kind, member in kinds.items():
        for share in SHARES:
            cells = []
            for m in methods:
                chosen = [r for r in rows if r["share"] == share and r["method"] == m and member(r)]
                if not chosen:
                    break
                beats = [b for r in chosen for b in (r["beats"] or [])]
                cells.append(f"{np.median([v for r in chosen for v in r['r2']]):.3f} / "
                             f"{np.mean([v for r in chosen for v in r['rmse']]):.4f}"
                             + (f" [{np.mean(beats):.0%}]" if beats else ""))
            if cells:
                summary.append(f"| {kind} | {100 * share:g}% | " + " | ".join(cells) + " |")
    simulated = (f" Simulated pools: {replicates} replicates (noise draws) each, merged in one row per router."
                 if any("simulated" in r["pool"] for r in rows) else "")
    return ("Cells: R^2 of the log-loss predictions of the target runs, median (10-90% over random draws and "
            "replicates) / RMSE of log loss, median [share of the random draws with a lower R^2]. Budgets are "
            "shares of the pool's total cost; every selection spends at most its budget." + simulated + "\n\n"
            + "\n".join(lines) + "\n\nBy kind of pool: median R^2 / mean RMSE [share of the random draws with a "
            "lower R^2], over every pool (and replicate, and draw) of the kind:\n\n" + "\n".join(summary))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pools", default=",".join(POOLS), help=f"some of {', '.join(POOLS)}, comma-separated")
    parser.add_argument("--draws", type=int, default=20, help="random selections per budget")
    parser.add_argument("--replicates", type=int, default=5, help="noise draws of each simulated pool")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="routing pools, 5 draws, print only")
    parser.add_argument("--no-append", action="store_true", help="print only; do not append to RESULTS.md")
    args = parser.parse_args(argv)
    names = ["routing"] if args.quick else [p.strip() for p in args.pools.split(",")]
    draws = 5 if args.quick else args.draws
    unknown = [n for n in names if n not in POOLS]
    if unknown or draws < 1 or args.replicates < 1:
        parser.error(f"unknown pool {unknown[0]!r}" if unknown else "--draws and --replicates must be at least 1")
    measured = commit()  # read before the run: the tree may change while it runs
    pools = (routing_pools() if "routing" in names else [])
    if "simulated" in names:
        pools += [p for k in range(args.replicates) for p in routing_pools(True, [args.seed, k])]
    pools += [datablations_pool()] if "datablations" in names else []
    for p in pools:
        print(f"{p.name}: {len(p.seeds)} seeds, {len(p.pool)} candidates costing {p.cost[p.pool].sum():.3g}, "
              f"{len(p.targets)} targets", flush=True)
    counts = collections.Counter()
    t_all = time.perf_counter()
    rows = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", jscale.warnings.DiagnosticWarning)
        for p in pools:
            rows += run_pool(p, draws, args.seed, counts)
    counts.update(type(w.message).__name__ for w in caught)
    table = tables(rows, args.replicates)
    table += ("\n\nWarnings and notes (count): " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items()) if v)
              + f".\n\nTotal time {time.perf_counter() - t_all:.0f} s.")
    print(table)
    if not (args.no_append or args.quick):
        note = ("Pools of real runs (see the docstring of benchmarks/bench_design_pool.py): routing, Clark et al. "
                "2022, one pool per router, bilinear law in log N, log E (least squares), cost flops_per_step x steps, "
                "targets the 1.3B runs, 5 seed runs; the same with losses simulated from the law fitted to all runs "
                "(log-normal noise at its residual sd); datablations, Muennighoff et al. 2023's 182 fit rows, the "
                "data-constrained law (7 parameters, 200 starts), cost 6ND, targets the 18 runs of largest compute, "
                "the 10 cheapest runs as seeds. jscale: up to 3 batches of suggest_runs(FitResult, "
                "candidates=untrained pool, region=target configurations, budget=all that is left, max_repeats=1, "
                "cost_exponent=e), training the plan's first third each time, refitted; random: "
                f"{draws} random orders per budget, every run that fits taken. Scores from a fit to the seeds and the "
                "selected runs.")
        append_results("Run design on a pool of real runs: suggest_runs vs random selection at equal cost",
                       command_line("bench_design_pool.py", argv), measured, note, table)


if __name__ == "__main__":
    main()
