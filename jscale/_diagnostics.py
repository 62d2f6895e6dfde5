"""Diagnostics: the quiet ways a scaling-law fit fails, each found, named and warned about.

Every kind has its own warning class, so users can filter one kind and keep the others
(`warnings.simplefilter("ignore", jscale.CorrelationWarning)`); all derive from
`DiagnosticWarning`. The kinds that concern intervals (bound, correlation, configurations) also
derive from `IntervalWarning`.

| kind | class | when |
|---|---|---|
| convergence | ConvergenceWarning | the best start stopped before its convergence test held |
| starts | StartsWarning | fewer than 3 starts reached the best objective |
| bound | BoundWarning | a parameter at (or within 1e-6 of) a bound of its domain |
| correlation | CorrelationWarning | two parameters with abs. correlation above 0.99 (sandwich) |
| configurations | ConfigurationsWarning | fewer distinct configurations than twice the parameters |
| irreducible_loss | IrreducibleLossWarning | the fitted E above the lowest observed loss |
| compute | ComputeWarning | given compute outside 0.8-1.25 times 6ND |
| repetition | RepetitionWarning | data repeated (D/U > 1) under a law without unique_tokens |
| extrapolation | ExtrapolationWarning | predictions or allocations outside the fitted data |

`FitResult.diagnostics()` returns the first eight as `Diagnostic` records and `jscale.fit` warns
with them; the extrapolation check runs where a prediction or allocation is made.
"""

from __future__ import annotations

import dataclasses
import warnings

import numpy as np

from jscale._data import weighted_rows


class DiagnosticWarning(UserWarning):
    """Base class of every jscale diagnostic: something about a fit or a prediction to check."""


class IntervalWarning(UserWarning):
    """Intervals may not be trustworthy: too few configurations, failed draws, a parameter at a
    bound, strongly correlated parameters, or a singular curvature matrix."""


class ConvergenceWarning(DiagnosticWarning):
    """The best start of a fit stopped before its convergence test held (the gradient norm there
    is reported)."""


class StartsWarning(DiagnosticWarning):
    """Only a few starts reached the best objective: a lower basin may have been missed."""


class BoundWarning(DiagnosticWarning, IntervalWarning):
    """A parameter is at or near a bound of its domain."""


class CorrelationWarning(DiagnosticWarning, IntervalWarning):
    """Two parameters are strongly correlated: each is poorly determined alone."""


class ConfigurationsWarning(DiagnosticWarning, IntervalWarning):
    """The data has fewer distinct configurations than twice the law's parameters."""


class IrreducibleLossWarning(DiagnosticWarning):
    """The fitted irreducible loss E lies above the lowest loss observed."""


class ComputeWarning(DiagnosticWarning):
    """The given compute column is not about 6ND (ratio outside 0.8-1.25)."""


class RepetitionWarning(DiagnosticWarning):
    """The data repeats tokens (epochs above 1) but the law ignores repetition."""


class ExtrapolationWarning(DiagnosticWarning):
    """A prediction or allocation lies outside the range of the fitted data."""


# Fewer starts than this within 1e-8 of the best objective is reported (`StartsWarning`).
FEW_AT_BEST = 3
# C / (6 N D) outside this range is reported (`ComputeWarning`).
COMPUTE_RATIO = (0.8, 1.25)
# Points further than this (in decades) outside the fitted range count as extrapolation; it
# absorbs the rounding of 6ND against a stored range.
EXTRAPOLATION_TOL = 1e-6


@dataclasses.dataclass(frozen=True)
class Diagnostic:
    """One finding: its `kind` (see the module table), a plain-words `message`, the warning
    `category` and the figures behind it (`values`: name -> number or array)."""

    kind: str
    message: str
    category: type
    values: dict = dataclasses.field(default_factory=dict, compare=False, hash=False)

    def warn(self, stacklevel: int = 2) -> None:
        warnings.warn(self.message, self.category, stacklevel=stacklevel + 1)

    def __str__(self) -> str:
        return f"{self.category.__name__}: {self.message}"


@dataclasses.dataclass(frozen=True)
class DataSummary:
    """What the diagnostics need to know of the fitted data (rows of positive weight only).

    Attributes:
        ranges: (column, low, high) of every column the law reads, and ("compute", low, high)
            of the compute the extrapolation check compares with (6ND where the law reads N and
            D, else the compute column if the law reads it).
        min_loss: the lowest observed loss.
        max_epochs: the largest D/U, or None without both columns.
        compute_ratio: (low, high) of C/(6ND) over the rows, or None unless all three were given.
    """

    ranges: tuple = ()
    min_loss: float = float("nan")
    max_epochs: float | None = None
    compute_ratio: tuple | None = None

    def range_of(self, column: str):
        for name, low, high in self.ranges:
            if name == column:
                return low, high
        return None

    def to_dict(self) -> dict:
        return {"ranges": [list(r) for r in self.ranges], "min_loss": self.min_loss, "max_epochs": self.max_epochs,
                "compute_ratio": None if self.compute_ratio is None else list(self.compute_ratio)}

    @classmethod
    def from_dict(cls, d: dict) -> DataSummary:
        ratio = d.get("compute_ratio")
        return cls(ranges=tuple((str(n), float(lo), float(hi)) for n, lo, hi in d["ranges"]),
                   min_loss=float(d["min_loss"]),
                   max_epochs=None if d.get("max_epochs") is None else float(d["max_epochs"]),
                   compute_ratio=None if ratio is None else (float(ratio[0]), float(ratio[1])))


def _law_compute(law, columns: dict):
    """Compute of points given by the law's columns (name -> array): 6ND, or the compute column."""
    if "n_params" in law.columns and "n_tokens" in law.columns:
        return 6.0 * np.asarray(columns["n_params"]) * np.asarray(columns["n_tokens"])
    if "compute" in law.columns:
        return np.asarray(columns["compute"])
    return None


def summarize(law, data) -> DataSummary:
    """The `DataSummary` of `data` (a ScalingData) for `law`."""
    keep = weighted_rows(data)
    columns = {c: np.asarray(getattr(data, c))[keep] for c in law.columns}
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
    return DataSummary(ranges=tuple(ranges), min_loss=float(np.min(data.loss[keep])), max_epochs=max_epochs,
                       compute_ratio=ratio)


# --- the checks ------------------------------------------------------------------------------------


def convergence(result) -> list[Diagnostic]:
    """The best start did not meet its convergence test: its status, steps and gradient norm."""
    if result.best_status == "success":
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
    from jscale._uncertainty import at_bound, bound_messages

    values = list(result.params.values())
    hit = [n for n, b in zip(result.law.param_names, at_bound(result.law, values)) if b]
    return [Diagnostic("bound", m, BoundWarning, {"params": hit}) for m in bound_messages(result.law, values)]


def correlations(result, cov=None) -> list[Diagnostic]:
    """Pairs of natural parameters with |correlation| above 0.99, from the natural covariance `cov`
    or, by default, the sandwich one (nothing where the curvature is singular:
    `FitResult.covariance` says so when asked)."""
    from jscale._uncertainty import (
        correlation,
        correlation_messages,
        free_covariance,
        natural_jacobian,
    )

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


def configurations(result) -> list[Diagnostic]:
    from jscale._uncertainty import few_configurations

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


CHECKS = (convergence, starts, bounds, correlations, configurations, irreducible_loss, compute_ratio, repetition)


def diagnose(result) -> list[Diagnostic]:
    """Every finding of `CHECKS` on a FitResult, in that order."""
    return [d for check in CHECKS for d in check(result)]


def warn_many(found: list[list[Diagnostic]], stacklevel: int = 3) -> None:
    """One warning per kind for a list fit, naming how many datasets and the first one's message."""
    kinds: dict = {}
    for k, items in enumerate(found):
        for d in items:
            kinds.setdefault((d.kind, d.category), []).append((k, d))
    n = len(found)
    for (_, category), items in kinds.items():
        k, first = items[0]
        others = "" if len(items) == 1 else f" (and {len(items) - 1} more of the {n} datasets: " + ", ".join(
            str(i) for i, _ in items[1:11]) + (" ..." if len(items) > 11 else "") + ")"
        warnings.warn(f"Dataset {k}{others}: {first.message}", category, stacklevel=stacklevel)


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
