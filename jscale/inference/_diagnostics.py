"""Diagnostics: the quiet ways a scaling-law fit fails, each found, named and warned about.

One pipeline: `diagnose_fit` and `diagnose_bootstrap` return `Diagnostic` records (see
`jscale.base._warnings` for the kinds and their classes, all subclasses of `DiagnosticWarning`); the
function that made the result warns with each finding once (`warn_all`); properties never warn.
The extrapolation check runs where a prediction or allocation is made.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from jscale.base._warnings import (
    BoundWarning,
    ComputeWarning,
    ConfigurationsWarning,
    ConvergenceWarning,
    CorrelationWarning,
    CurvatureWarning,
    Diagnostic,
    DrawsWarning,
    ExtrapolationWarning,
    IrreducibleLossWarning,
    RepetitionWarning,
    ResamplesWarning,
    StartsWarning,
)
from jscale.data._data import weighted_rows
from jscale.engine._solve import SUCCESS
from jscale.inference._uncertainty import (
    at_bound,
    bound_messages,
    correlation,
    correlation_messages,
    few_configurations,
    free_covariance,
    natural_jacobian,
)

# Fewer starts than this within 1e-8 of the best objective is reported (`StartsWarning`).
FEW_AT_BEST = 3
# C / (6 N D) outside this range is reported (`ComputeWarning`).
COMPUTE_RATIO = (0.8, 1.25)
# Points further than this (in decades) outside the fitted range count as extrapolation; it
# absorbs the rounding of 6ND against a stored range.
EXTRAPOLATION_TOL = 1e-6


@dataclasses.dataclass(frozen=True)
class DataSummary:
    """What the diagnostics need to know of the fitted data (rows of positive weight only).

    Attributes:
        ranges: (column, low, high) of every column the law reads, and ("compute", low, high)
            of the compute the extrapolation check compares with (6ND where the law reads N and
            D, else the compute column if the law reads it).
        min_loss: the lowest observed value of the fitted column (the loss, by default).
        max_epochs: the largest D/U, or None without both columns.
        compute_ratio: (low, high) of C/(6ND) over the rows, or None unless all three were given.
        levels: (column, labels) of every categorical column the law reads: code k is labels[k].
    """

    ranges: tuple = ()
    min_loss: float = float("nan")
    max_epochs: float | None = None
    compute_ratio: tuple | None = None
    levels: tuple = ()

    def range_of(self, column: str):
        for name, low, high in self.ranges:
            if name == column:
                return low, high
        return None

    def levels_of(self, column: str):
        for name, labels in self.levels:
            if name == column:
                return labels
        return None

    def to_dict(self) -> dict:
        return {"ranges": [list(r) for r in self.ranges], "min_loss": self.min_loss, "max_epochs": self.max_epochs,
                "compute_ratio": None if self.compute_ratio is None else list(self.compute_ratio),
                "levels": [[name, list(labels)] for name, labels in self.levels]}

    @classmethod
    def from_dict(cls, d: dict) -> DataSummary:
        ratio = d.get("compute_ratio")
        return cls(ranges=tuple((str(n), float(lo), float(hi)) for n, lo, hi in d["ranges"]),
                   min_loss=float(d["min_loss"]),
                   max_epochs=None if d.get("max_epochs") is None else float(d["max_epochs"]),
                   compute_ratio=None if ratio is None else (float(ratio[0]), float(ratio[1])),
                   levels=tuple((str(n), tuple(labels)) for n, labels in d.get("levels", ())))


def _law_compute(law, columns: dict):
    """Compute of points: given as `compute`, else from the law's columns (6ND, or its compute column)."""
    if "compute" in columns:
        return np.asarray(columns["compute"])
    if "n_params" in law.columns and "n_tokens" in law.columns:
        return 6.0 * np.asarray(columns["n_params"]) * np.asarray(columns["n_tokens"])
    if "compute" in law.columns:
        return np.asarray(columns["compute"])
    return None


def summarize(law, data, target: str = "loss") -> DataSummary:
    """The `DataSummary` of `data` (a ScalingData) for `law` fitted to the column `target`."""
    keep = weighted_rows(data)
    numeric = [c for c in law.columns if c not in data.categorical]
    columns = {c: np.asarray(data[c])[keep] for c in numeric}
    levels = tuple((c, tuple(data.codes(c)[0].tolist())) for c in law.columns if c in data.categorical)
    ranges = [(c, float(v.min()), float(v.max())) for c, v in columns.items()]
    compute = _law_compute(law, columns)
    if compute is not None and "compute" not in law.columns:
        ranges.append(("compute", float(compute.min()), float(compute.max())))
    max_epochs = None
    if data.n_tokens is not None and data.unique_tokens is not None:
        max_epochs = float(np.max(data.n_tokens[keep] / data.unique_tokens[keep]))
    ratio = None
    if all(getattr(data, c) is not None for c in ("n_params", "n_tokens", "compute")) and not data.derived:
        r = data.compute[keep] / (6.0 * data.n_params[keep] * data.n_tokens[keep])
        ratio = (float(r.min()), float(r.max()))
    return DataSummary(ranges=tuple(ranges), min_loss=float(np.min(np.asarray(data[target])[keep])),
                       max_epochs=max_epochs, compute_ratio=ratio, levels=levels)


# --- the checks ------------------------------------------------------------------------------------


def convergence(result) -> list[Diagnostic]:
    """The best start did not meet its convergence test: its status, steps and gradient norm.

    Not reported when a start that did converge ends within rounding of the best objective: the
    best start then stalled at the same stationary point (no step can lower it further).
    """
    if result.best_status == "success" or np.any((np.asarray(result.status) == SUCCESS) & result.at_best()):
        return []
    k = result.best_index
    grad = None if result.curvature is None else result.curvature.get("gradient")
    norm = float(np.linalg.norm(np.asarray(grad))) if grad is not None else float("nan")
    where = f"; the gradient norm of the objective there is {norm:.3g}" if np.isfinite(norm) else ""
    message = (
        f"The optimiser stopped early: the best of {result.n_starts} starts ended with status '{result.best_status}' "
        f"after {int(result.n_steps[k])} objective evaluations (objective {result.objective:.6g}){where}; "
        f"{result.n_converged} starts converged. Try more starts or a larger solver max_steps."
    )
    return [Diagnostic("convergence", message, ConvergenceWarning,
                       {"gradient_norm": norm, "status": result.best_status, "n_steps": int(result.n_steps[k])})]


def starts(result) -> list[Diagnostic]:
    n_at_best = result.n_at_best
    if n_at_best >= min(FEW_AT_BEST, result.n_starts):
        return []
    message = (
        f"Only {n_at_best} of {result.n_starts} starts reached the best objective (within 1e-8): the objective has "
        "other basins, and a start the grid missed may reach a lower one. Try more or other starts "
        "(e.g. a finer grid) and compare."
    )
    return [Diagnostic("starts", message, StartsWarning, {"n_at_best": n_at_best, "n_starts": result.n_starts})]


def bounds(result) -> list[Diagnostic]:
    values = list(result.params.values())
    hit = [n for n, b in zip(result.law.param_names, at_bound(result.law, values)) if b]
    return [Diagnostic("bound", m, BoundWarning, {"params": hit}) for m in bound_messages(result.law, values)]


def correlations(result, cov=None) -> list[Diagnostic]:
    """Pairs of natural parameters with |correlation| above 0.99, from the natural covariance `cov`
    or, by default, the sandwich one (nothing where the curvature is singular: see `curvature`)."""
    if cov is None:
        if result.curvature is None or float(result.curvature["sum_w"]) <= result.law.n_free:
            return []
        free = free_covariance(result.curvature, "sandwich")
        if free is None:
            return []
        jac = natural_jacobian(result.law, result.end_params[result.best_index])
        cov = jac @ free @ jac.T
    corr = correlation(cov)
    return [Diagnostic("correlation", m, CorrelationWarning, {"corr": corr})
            for m in correlation_messages(result.law.param_names, corr)]


def curvature(result) -> list[Diagnostic]:
    """The Hessian at the optimum is not positive definite: curvature intervals are undefined."""
    terms = result.curvature
    if terms is None or float(terms["sum_w"]) <= result.law.n_free or free_covariance(terms, "sandwich") is not None:
        return []
    message = (
        f"The Hessian of the objective at the optimum is not positive definite (weight {float(terms['sum_dpsi']):.3g} "
        f"of rows inside the loss's quadratic zone for {result.law.n_free} parameters): curvature intervals are "
        "undefined (NaN); use jscale.bootstrap."
    )
    return [Diagnostic("curvature", message, CurvatureWarning, {"sum_dpsi": float(terms["sum_dpsi"])})]


def configurations(result) -> list[Diagnostic]:
    if not result.n_configs:
        return []
    return [Diagnostic("configurations", m, ConfigurationsWarning, {"n_configs": result.n_configs})
            for m in few_configurations(result.law, result.n_configs)]


def irreducible_loss(result) -> list[Diagnostic]:
    summary = result.data_summary
    if summary is None or "E" not in result.law.param_names:
        return []
    e = result.params["E"]
    if not e > summary.min_loss:
        return []
    message = (
        f"The fitted irreducible loss E = {e:.6g} lies above the lowest observed loss {summary.min_loss:.6g}: the "
        "law says no run can go below E, yet one did. The fit is likely off in its largest runs (check the "
        "residuals, outliers and the loss's delta) or the law's form does not suit the data."
    )
    return [Diagnostic("irreducible_loss", message, IrreducibleLossWarning, {"E": e, "min_loss": summary.min_loss})]


def compute_ratio(result) -> list[Diagnostic]:
    summary = result.data_summary
    if summary is None or summary.compute_ratio is None:
        return []
    low, high = summary.compute_ratio
    # The ends are accepted with rounding: 0.8 * 6ND / (6ND) may come out as 0.7999999999999999.
    if COMPUTE_RATIO[0] * (1 - 1e-12) <= low and high <= COMPUTE_RATIO[1] * (1 + 1e-12):
        return []
    message = (
        f"The compute column is {low:.3g} to {high:.3g} times 6·N·D, outside {COMPUTE_RATIO[0]}-{COMPUTE_RATIO[1]}: "
        "it counts FLOP another way (embeddings, attention, recomputation) or is in other units. Allocations and "
        "extrapolation in jscale assume C = 6ND; convert the column, or leave it out so it is derived."
    )
    return [Diagnostic("compute", message, ComputeWarning, {"ratio_low": low, "ratio_high": high})]


def repetition(result) -> list[Diagnostic]:
    summary = result.data_summary
    if summary is None or summary.max_epochs is None or "unique_tokens" in result.law.columns:
        return []
    if not summary.max_epochs > 1.0 + 1e-9:
        return []
    message = (
        f"The data repeats its tokens (up to {summary.max_epochs:.3g} epochs, D/U) but the {result.law.name} law "
        "ignores repetition and counts a repeated token as a fresh one: fit a data-constrained law "
        "(jscale.laws.DataConstrained) or keep the single-epoch runs."
    )
    return [Diagnostic("repetition", message, RepetitionWarning, {"max_epochs": summary.max_epochs})]


FIT_CHECKS = (convergence, starts, bounds, correlations, curvature, configurations, irreducible_loss, compute_ratio,
              repetition)


def diagnose_fit(result) -> list[Diagnostic]:
    """Every finding of `FIT_CHECKS` on a FitResult, in that order."""
    return [d for check in FIT_CHECKS for d in check(result)]


# Fewer bootstrap resamples than this give rough percentile intervals (their 2.5% and 97.5%
# quantiles rest on two or three draws each); the diagnostics say so.
FEW_RESAMPLES = 100


def resamples(boot) -> list[Diagnostic]:
    if boot.n_resamples >= FEW_RESAMPLES:
        return []
    message = (f"The bootstrap has only {boot.n_resamples} resamples: its standard errors and percentile intervals "
               f"are rough; use n_resamples=1000 or more for results to report.")
    return [Diagnostic("resamples", message, ResamplesWarning, {"n_resamples": boot.n_resamples})]


def draws(boot) -> list[Diagnostic]:
    failed = boot.n_resamples - boot.n_converged
    if not failed:
        return []
    message = (
        f"{failed} of {boot.n_resamples} bootstrap draws ({100 * failed / boot.n_resamples:.1f}%) did not converge and "
        "are left out of the statistics; if they are many, the intervals are biased. Try starts='grid' or a larger "
        "solver max_steps."
    )
    return [Diagnostic("draws", message, DrawsWarning, {"n_failed": failed})]


def bootstrap_bounds(boot) -> list[Diagnostic]:
    law = boot.law
    nat = np.asarray(law.to_natural(np.asarray(boot.free_draws[boot.draw_ok])))
    estimate = list(boot.fit.params.values())
    hit = [n for n, b in zip(law.param_names, at_bound(law, estimate)) if b]
    return [Diagnostic("bound", m, BoundWarning, {"params": hit}) for m in bound_messages(law, estimate, nat)]


def bootstrap_correlations(boot) -> list[Diagnostic]:
    if boot.n_converged < 2:
        return []
    corr = boot.corr
    return [Diagnostic("correlation", m, CorrelationWarning, {"corr": corr})
            for m in correlation_messages(boot.law.param_names, corr)]


def diagnose_bootstrap(boot) -> list[Diagnostic]:
    """The findings on a BootstrapResult: those of its full-data fit that concern the estimate
    (convergence, starts, irreducible loss, compute, repetition), then the bootstrap's own
    (draws that failed; bounds and correlations among the draws; configurations)."""
    fit = boot.fit
    checks = (convergence, starts, irreducible_loss, compute_ratio, repetition)
    return ([d for check in checks for d in check(fit)] + resamples(boot) + draws(boot) + bootstrap_bounds(boot)
            + bootstrap_correlations(boot) + configurations(boot))


def merge(found: list[list[Diagnostic]]) -> list[Diagnostic]:
    """One finding per kind for a list of results, naming how many datasets and the first one's message."""
    kinds: dict = {}
    for k, items in enumerate(found):
        for d in items:
            kinds.setdefault(d.kind, []).append((k, d))
    n = len(found)
    out = []
    for items in kinds.values():
        k, first = items[0]
        others = "" if len(items) == 1 else f" (and {len(items) - 1} more of the {n} datasets: " + ", ".join(
            str(i) for i, _ in items[1:11]) + (" ..." if len(items) > 11 else "") + ")"
        out.append(dataclasses.replace(first, message=f"Dataset {k}{others}: {first.message}"))
    return out


def extrapolation(summary: DataSummary | None, law, columns: dict, what: str = "Predictions") -> Diagnostic | None:
    """Points (the law's columns, natural units, name -> (R,)) outside the fitted data, or None.

    The distance of a point is its largest distance, in decades, outside the fitted range of any
    of the law's columns and of compute; the message reports the largest distance in compute
    (6ND, or the compute column) and in each column that goes beyond its range.
    """
    if summary is None:
        return None
    columns = {c: np.atleast_1d(np.asarray(v, np.float64)) for c, v in columns.items()}
    c = _law_compute(law, columns)
    values = dict(columns) if c is None else {"compute": c, **columns}
    size = max(np.size(v) for v in values.values())
    total = np.zeros(size)
    beyond: dict = {}
    with np.errstate(divide="ignore", invalid="ignore"):
        for name, v in values.items():
            limits = summary.range_of(name)
            if limits is None:
                continue
            low, high = limits
            log_v = np.log10(v)
            dist = np.maximum(np.maximum(log_v - np.log10(high), np.log10(low) - log_v), 0.0)
            dist = np.broadcast_to(np.where(np.isfinite(dist), dist, 0.0), (size,))
            if np.max(dist) > EXTRAPOLATION_TOL:
                beyond[name] = (float(np.max(dist)), low, high)
            total = np.maximum(total, dist)
    outside = total > EXTRAPOLATION_TOL
    if not outside.any():
        return None
    parts = [f"{name} up to {d:.2f} decades beyond its fitted range {low:.3g}-{high:.3g}"
             for name, (d, low, high) in beyond.items()]
    message = (
        f"{what} at {int(outside.sum())} of {size} points extrapolate beyond the fitted data: "
        f"{'; '.join(parts)}. Extrapolation error grows with distance; jscale.backtest measures it on the data "
        "you have."
    )
    decades_compute = beyond.get("compute", (0.0,))[0]
    return Diagnostic("extrapolation", message, ExtrapolationWarning,
                      {"decades": total, "decades_compute": decades_compute, "n_outside": int(outside.sum())})
