"""`backtest`: fit a law on the smaller runs and score its predictions of the larger ones."""

from __future__ import annotations

import dataclasses
import numbers
import warnings

import numpy as np

from jscale._data import ScalingData, closest
from jscale._fit import check_law_and_data, check_objective, fit
from jscale._laws import Law
from jscale._results import FitResult
from jscale._warnings import ExtrapolationWarning

SCALE_COLUMNS = ("compute", "n_params", "n_tokens", "unique_tokens")


@dataclasses.dataclass(frozen=True, eq=False)
class Backtest:
    """A law fitted on the runs below a cutoff and its predictions of the runs at or above it.

    Attributes:
        fit: the `FitResult` on the training runs.
        by: the column that orders the runs ("compute", "n_params", ...).
        cutoff: runs with `by` >= cutoff were held out.
        train, test: the training and held-out runs.
        predicted, observed: the fitted column (the loss, or the fit's `target`) of the held-out
            runs, predicted and measured, (T,).
    """

    fit: FitResult
    by: str
    cutoff: float
    train: ScalingData
    test: ScalingData
    predicted: np.ndarray
    observed: np.ndarray

    @property
    def relative_error(self) -> np.ndarray:
        """predicted / observed - 1 for every held-out run, (T,)."""
        return self.predicted / self.observed - 1

    @property
    def decades(self) -> np.ndarray:
        """How far each held-out run lies beyond the largest training run, in decades of `by`."""
        return np.log10(getattr(self.test, self.by) / np.max(getattr(self.train, self.by)))

    def summary(self) -> str:
        """A few lines: the split, and the relative errors overall and by decade of extrapolation."""
        err = np.abs(self.relative_error)
        lines = [
            f"Backtest of {self.fit.law.name} by {self.by}: fitted on {len(self.train)} runs with {self.by} < "
            f"{self.cutoff:.3g}, predicting {len(self.test)} held-out runs up to {self.decades.max():.2f} decades "
            f"beyond the largest training run.",
            f"|relative error|: median {np.median(err):.2%}, mean {np.mean(err):.2%}, max {np.max(err):.2%}; "
            f"mean signed error {np.mean(self.relative_error):+.2%}.",
        ]
        edges = np.arange(0.0, np.ceil(self.decades.max()) + 1.0)
        for lo, hi in zip(edges[:-1], edges[1:]):
            inside = (self.decades >= lo) & (self.decades < hi)
            if inside.any():
                lines.append(f"  {lo:.0f}-{hi:.0f} decades beyond: {inside.sum()} runs, median |error| "
                             f"{np.median(err[inside]):.2%}, max {np.max(err[inside]):.2%}")
        return "\n".join(lines)

    def to_dict(self) -> dict:
        return {
            "law": self.fit.law.name, "by": self.by, "cutoff": float(self.cutoff), "n_train": len(self.train),
            "n_test": len(self.test), "params": {k: float(v) for k, v in self.fit.params.items()},
            "predicted": self.predicted.tolist(), "observed": self.observed.tolist(),
            "relative_error": self.relative_error.tolist(), "decades": self.decades.tolist(),
        }


def backtest(law: Law, data: ScalingData, *, by: str = "compute", holdout: float = 0.25, cutoff=None,
             **fit_kwargs) -> Backtest:
    """Fits `law` on the smaller runs and predicts the larger, held-out ones.

    The question a scaling law is for: does a fit to the runs one can afford predict the runs one
    cannot? Runs are ordered by `by`; those at or above the cutoff are held out, the law is fitted
    to the rest with `jscale.fit`, and the held-out losses are predicted.

    Args:
        law: a law object, e.g. `jscale.laws.Chinchilla()`.
        data: a `ScalingData` with the law's columns and `by`.
        by: the column that orders the runs: "compute" (default), "n_params", "n_tokens" or
            "unique_tokens".
        holdout: without `cutoff`, the share of the distinct values of `by` held out, largest
            first (default 0.25: the top quarter of model sizes or budgets).
        cutoff: instead of `holdout`, the value of `by` from which runs are held out.
        **fit_kwargs: passed to `jscale.fit` (target, residual, starts, loss, delta, solver, ...).

    Returns:
        A `Backtest` with the fit, the split, the predictions, `relative_error`, `decades` of
        extrapolation and `summary()`.

    Raises:
        TypeError, ValueError: bad arguments, or a split that leaves no held-out runs or fewer
            training runs than the law has parameters.

    Example:
        >>> import jscale
        >>> data = jscale.datasets.load("chinchilla")
        >>> bt = jscale.backtest(jscale.laws.Chinchilla(), data, by="compute", holdout=0.2)  # doctest: +SKIP
        >>> print(bt.summary())  # doctest: +SKIP
    """
    objective = check_objective(fit_kwargs.get("target", "loss"), fit_kwargs.get("residual", "log"),
                                fit_kwargs.get("loss", "huber"), fit_kwargs.get("delta"))
    check_law_and_data(law, data, objective)
    if not isinstance(by, str) or by not in SCALE_COLUMNS:
        raise ValueError(f"backtest: by must be one of {', '.join(SCALE_COLUMNS)}; got {by!r}"
                         f"{closest(by, SCALE_COLUMNS)}.")
    data.require(by, who=f"backtest(by={by!r})")
    values = getattr(data, by)
    if cutoff is None:
        if isinstance(holdout, bool) or not isinstance(holdout, numbers.Real) or not 0 < holdout < 1:
            raise ValueError(f"backtest: holdout must be a share in (0, 1); got {holdout!r}.")
        distinct = np.unique(values)
        if len(distinct) < 2:
            raise ValueError(f"backtest: every run has the same {by} ({distinct[0]:.3g}); nothing to extrapolate to.")
        n_out = min(len(distinct) - 1, max(1, int(round(holdout * len(distinct)))))
        cutoff = float(distinct[-n_out])
    else:
        if isinstance(cutoff, bool) or not isinstance(cutoff, numbers.Real) or not np.isfinite(cutoff):
            raise ValueError(f"backtest: cutoff must be a finite number; got {cutoff!r}.")
        cutoff = float(cutoff)
    held = values >= cutoff
    if not held.any():
        raise ValueError(f"backtest: no run has {by} >= {cutoff:.3g} (the largest is {values.max():.3g}); lower the "
                         "cutoff.")
    if held.sum() == len(data) or (~held).sum() < law.n_free:
        raise ValueError(
            f"backtest: only {(~held).sum()} runs have {by} < {cutoff:.3g}, but the {law.name} law has "
            f"{law.n_free} parameters; raise the cutoff or hold out less."
        )
    train, test = data.subset(~held), data.subset(held)
    result = fit(law, train, **fit_kwargs)
    with warnings.catch_warnings():
        # Extrapolating is the point here; its distance is reported as `decades`.
        warnings.simplefilter("ignore", ExtrapolationWarning)
        predicted = result.predict(test)
    return Backtest(fit=result, by=by, cutoff=cutoff, train=train, test=test, predicted=predicted,
                    observed=np.asarray(test[objective.target]))
