"""`backtest`: fit a law on the smaller runs and score its predictions of the larger ones."""

from __future__ import annotations

import dataclasses
import numbers
import warnings

import jax
import numpy as np

from jscale.base._interval import Interval
from jscale.base._json import strict_json
from jscale.base._numerics import x64_scope
from jscale.base._text import closest
from jscale.base._warnings import Diagnostic, ExtrapolationWarning, FormWarning
from jscale.data._data import ScalingData, weighted_rows
from jscale.fitting._fit import check_law_and_data, check_objective, fit
from jscale.inference import _predict
from jscale.inference._results import FitResult
from jscale.inference._uncertainty import check_level, free_covariance, model_value_and_jacobian
from jscale.laws._laws import Law

SCALE_COLUMNS = ("compute", "n_params", "n_tokens", "unique_tokens")
# Each of a backtest's two form tests (`TrendTest`) fires below this p-value, so that with a right
# form the pair fires in at most 2.5% of studies (Bonferroni; measured by benchmarks/bench_forms.py).
TREND_P = 0.0125


def _chi2_sf(statistic: float, dof: int) -> float:
    """P(chi-square(dof) >= statistic)."""
    with x64_scope():
        return float(jax.scipy.special.gammaincc(dof / 2.0, max(statistic, 0.0) / 2.0))


@dataclasses.dataclass(frozen=True)
class TrendTest:
    """A test that a law's form is wrong: a Wald statistic, its p-value and the effect behind it.

    Two kinds (`jscale.backtest` runs both):

    * "held-out": are the held-out errors larger, or growing faster with distance, than the
      training fit allows? The errors e (residual space: log observed - log predicted for log
      residuals) are regressed on (1, decades beyond the training runs) by generalised least
      squares with the covariance the training fit implies, S = J V J^T + s^2 I (J the Jacobian
      of the predictions, V the fit's sandwich covariance, s^2 its residual variance). Under a
      right form e ~ N(0, S), and the statistic of (bias, slope) is about chi-square.
    * "residuals": do the training fit's residuals still follow a smooth trend in the law's
      columns? They are regressed on the fit's Jacobian (what the law can absorb) and the
      second-degree terms of its standardised log columns (squares and products; the square and
      cube for a law of one column); the statistic is that of the second-degree terms.

    Attributes:
        kind: "held-out" or "residuals".
        effect: held-out: the error at the training edge (0 decades) and its change per decade;
            residuals: the sd of the fitted trend over the runs. Residual units (about a
            relative error for log residuals).
        statistic, dof, p_value: the Wald statistic, its degrees of freedom and
            P(chi-square(dof) >= statistic).
        fires: p_value < `TREND_P` (0.0125 for each kind: 2.5% for the pair).
    """

    kind: str
    effect: tuple
    statistic: float
    dof: int
    p_value: float
    fires: bool

    def __str__(self) -> str:
        if self.kind == "held-out":
            what = f"held-out error {self.effect[0]:+.2%} at the training edge, {self.effect[1]:+.2%} per decade beyond"
        else:
            what = f"a trend in the residuals of sd {self.effect[0]:.2%} along the law's columns"
        return f"{what}; chi-square {self.statistic:.1f} on {self.dof} dof, p = {self.p_value:.2g}"


def _wald(design, target, cov_solve) -> tuple:
    """GLS of `target` on `design` with `cov_solve(M) = S^-1 M`: (coefficients, Wald statistic)."""
    solved = cov_solve(np.concatenate([design, target[:, None]], axis=1))
    info = design.T @ solved[:, :-1]
    coef = np.linalg.solve(info, design.T @ solved[:, -1])
    return coef, float(coef @ info @ coef)


def _at_rounding(result: FitResult, observed) -> bool:
    """Whether the fit's residuals are at the data's rounding level (exact data): no noise to test against."""
    scale = 1.0 if result.residual == "log" else max(1.0, float(np.mean(np.abs(observed))))
    return not result.residual_variance > (1e-10 * scale) ** 2


def _model(result: FitResult, data: ScalingData):
    """(value, Jacobian) of the fit's model (residual space) at the runs of `data`, and the observed
    values in residual space."""
    x = result.law.inputs(_predict.natural(result.law, result.data_summary, data))
    log = result.residual == "log"
    value, jac = model_value_and_jacobian(result.law.log_predict if log else result.law.predict, result.theta, x)
    observed = np.asarray(data[result.target], np.float64)
    return value, jac, (np.log(observed) if log else observed)


def residual_test(result: FitResult, data: ScalingData) -> TrendTest | None:
    """The "residuals" `TrendTest` of a fit on the data it was fitted to, or None where the law
    reads no log columns or the data has too few runs for the regression."""
    data = data.subset(weighted_rows(data))
    # The law's columns that are positive numbers, as logs (for a custom law too, which reads
    # natural values): scaling laws bend in log space.
    numeric = [np.asarray(data[c], np.float64) for c in result.law.columns if c not in data.categorical]
    columns = [np.log(c) for c in numeric if np.all(c > 0)]
    columns = [(c - c.mean()) / c.std() for c in columns if np.std(c) > 0]
    if not columns:
        return None
    terms = [columns[0] ** 2, columns[0] ** 3] if len(columns) == 1 else \
        [a * b for i, a in enumerate(columns) for b in columns[i:]]
    extra = np.stack(terms, axis=1)
    value, jac, observed = _model(result, data)
    # What the law can absorb: the range of its Jacobian (a parameter at a bound adds nothing).
    u, sv, _ = np.linalg.svd(jac, full_matrices=False)
    absorbed = u[:, sv > sv[0] * len(sv) * np.finfo(float).eps * 1e3] if sv.size and sv[0] > 0 else u[:, :0]
    design = np.concatenate([absorbed, extra - extra.mean(axis=0)], axis=1)
    if (len(data) <= design.shape[1] + 2 or np.linalg.matrix_rank(design) < design.shape[1]
            or _at_rounding(result, observed)):
        return None
    weight = np.ones(len(data)) if data.weight is None else np.asarray(data.weight, np.float64)
    residual = observed - value
    coef, _ = _wald(design, residual, lambda m: weight[:, None] * m)
    resid = residual - design @ coef
    s2 = float(np.sum(weight * resid**2) / (np.sum(weight) - design.shape[1]))
    q = extra.shape[1]
    info = design.T @ (weight[:, None] * design)
    cov = np.linalg.inv(info)[-q:, -q:] * s2
    statistic = float(coef[-q:] @ np.linalg.solve(cov, coef[-q:]))
    p = _chi2_sf(statistic, q)
    return TrendTest(kind="residuals", effect=(float(np.std(design[:, -q:] @ coef[-q:])),), statistic=statistic,
                     dof=q, p_value=p, fires=p < TREND_P)


def _free_covariance(result: FitResult) -> np.ndarray | None:
    """The fit's sandwich covariance; where its Hessian is singular (e.g. a parameter at a bound,
    which moves no prediction), the same with the Hessian's pseudo-inverse; None without terms."""
    free = result.free_covariance("sandwich")
    if np.all(np.isfinite(free)):
        return free
    return None if result.curvature is None else free_covariance(result.curvature, "sandwich", pseudo_inverse=True)


def trend_test(result: FitResult, test: ScalingData, decades: np.ndarray, spread=None) -> TrendTest | None:
    """The `TrendTest` of a training fit on held-out runs, or None where the fit has no usable
    curvature covariance (a singular Hessian) or no held-out run has positive weight.

    `spread`: instead of the curvature, the (T, T) covariance of the predictions at the held-out
    runs over a bootstrap of the training fit (what `jscale.bootstrap` of several forms passes;
    the sandwich covariance of a Huber fit understates it, see benchmarks/bench_forms.py)."""
    keep = weighted_rows(test)
    free = _free_covariance(result) if spread is None else None
    if not keep.any() or (spread is None and free is None):
        return None
    test, decades = test.subset(keep), np.asarray(decades, np.float64)[keep]
    value, jac, observed = _model(result, test)
    if _at_rounding(result, observed):
        return None
    spread = jac @ free @ jac.T if spread is None else np.asarray(spread, np.float64)[np.ix_(keep, keep)]
    cov = spread + result.residual_variance * np.eye(len(value))
    design = np.stack([np.ones_like(decades), decades], axis=1)
    if np.ptp(decades) <= 1e-9 * max(1.0, np.max(np.abs(decades))):
        design = design[:, :1]
    coef, statistic = _wald(design, observed - value, lambda m: np.linalg.solve(cov, m))
    dof = design.shape[1]
    p = _chi2_sf(statistic, dof)
    return TrendTest(kind="held-out", effect=(float(coef[0]), float(coef[1]) if dof == 2 else 0.0),
                     statistic=statistic, dof=dof, p_value=p, fires=p < TREND_P)


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
        trend: the "held-out" `TrendTest` (errors against the training fit's uncertainty), or
            None where the fit has no curvature covariance.
        residuals: the "residuals" `TrendTest` of the training fit, or None.
    """

    fit: FitResult
    by: str
    cutoff: float
    train: ScalingData
    test: ScalingData
    predicted: np.ndarray
    observed: np.ndarray
    trend: TrendTest | None = None
    residuals: TrendTest | None = None

    def diagnostics(self) -> list:
        """A `FormWarning` record when either form test fires (`jscale.backtest` warned with it)."""
        fired = [t for t in (self.trend, self.residuals) if t is not None and t.fires]
        if not fired:
            return []
        what = {"held-out": f"mispredicts the {len(self.test)} held-out larger runs by more than its uncertainty "
                            "allows", "residuals": "leaves a trend in its residuals"}
        message = (f"The {self.fit.law.name} law fitted below {self.by} = {self.cutoff:.3g} "
                   + " and ".join(f"{what[t.kind]} ({t})" for t in fired)
                   + ". Its form may be wrong beyond the data, and its intervals too narrow there; compare other "
                   "forms with jscale.bootstrap_forms([law, other, ...], data, key=...).")
        return [Diagnostic("form", message, FormWarning, {t.kind: t.p_value for t in fired})]

    @property
    def relative_error(self) -> np.ndarray:
        """predicted / observed - 1 for every held-out run, (T,)."""
        return self.predicted / self.observed - 1

    @property
    def decades(self) -> np.ndarray:
        """How far each held-out run lies beyond the largest training run, in decades of `by`."""
        return np.log10(getattr(self.test, self.by) / np.max(getattr(self.train, self.by)))

    def __repr__(self) -> str:
        fired = [t.kind for t in (self.trend, self.residuals) if t is not None and t.fires]
        return (f"Backtest({self.fit.law.name} by {self.by}: {len(self.train)} runs fitted, {len(self.test)} held out, "
                f"median |error| {np.median(np.abs(self.relative_error)):.2%}"
                + (f"; {' and '.join(fired)} test fires" if fired else "") + ")")

    def prediction_band(self, level: float = 0.95) -> Interval:
        """The training fit's curvature band at `level` for every held-out run, (T,) each, the spread
        of a new run around the law included: what the fit claimed about the runs it did not see."""
        level = check_level(level)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ExtrapolationWarning)  # held-out runs lie beyond: the point
            return Interval(*self.fit.predict_interval(self.test, level=level, observation=True))

    def summary(self, level: float | None = None) -> str:
        """A few lines: the split, and the relative errors overall and by decade of extrapolation;
        with `level`, how many held-out runs fall inside the fit's prediction band."""
        err = np.abs(self.relative_error)
        lines = [
            f"Backtest of {self.fit.law.name} by {self.by}: fitted on {len(self.train)} runs with {self.by} < "
            f"{self.cutoff:.3g}, predicting {len(self.test)} held-out runs up to {self.decades.max():.2f} decades "
            f"beyond the largest training run.",
            f"|relative error|: median {np.median(err):.2%}, mean {np.mean(err):.2%}, max {np.max(err):.2%}; "
            f"mean signed error {np.mean(self.relative_error):+.2%}.",
        ]
        for name, test in (("Held-out test", self.trend), ("Residual test", self.residuals)):
            if test is not None:
                lines.append(f"{name}: {test}" + (" <- beyond what the fit allows" if test.fires else "."))
        edges = np.arange(0.0, np.ceil(self.decades.max()) + 1.0)
        for lo, hi in zip(edges[:-1], edges[1:]):
            inside = (self.decades >= lo) & (self.decades < hi)
            if inside.any():
                lines.append(f"  {lo:.0f}-{hi:.0f} decades beyond: {inside.sum()} runs, median |error| "
                             f"{np.median(err[inside]):.2%}, max {np.max(err[inside]):.2%}")
        if level is not None:
            low, high = self.prediction_band(level)
            held = int(np.sum((self.observed >= low) & (self.observed <= high)))
            lines.append(f"{held} of {len(self.observed)} held-out runs inside the fit's {100 * level:g}% "
                         "prediction band (a new run's spread included).")
        return "\n".join(lines)

    def to_dict(self, level: float | None = None) -> dict:
        """Strict-JSON-ready: the split, the fit's parameters, every held-out run's prediction and
        error, the form tests; with `level`, each held-out run's prediction band."""
        bands = {}
        if level is not None:
            low, high = self.prediction_band(level)
            bands = {"level": float(level), "band_low": low, "band_high": high,
                     "inside": (self.observed >= low) & (self.observed <= high)}
        return strict_json({
            "law": self.fit.law.name, "by": self.by, "cutoff": float(self.cutoff), "n_train": len(self.train),
            "n_test": len(self.test), "params": {k: float(v) for k, v in self.fit.params.items()},
            "predicted": self.predicted.tolist(), "observed": self.observed.tolist(),
            "relative_error": self.relative_error.tolist(), "decades": self.decades.tolist(),
            **{k: None if t is None else dataclasses.asdict(t) for k, t in (("trend", self.trend),
                                                                          ("residuals", self.residuals))},
            **bands,
        })


def split(data: ScalingData, by: str, holdout, cutoff, law: Law, *, who: str) -> tuple[np.ndarray, float]:
    """(held-out mask (R,), cutoff): runs with `by` >= cutoff, the cutoff given or the top `holdout`
    share of the distinct values of `by`; checked to leave `law` enough training runs."""
    if not isinstance(by, str) or by not in SCALE_COLUMNS:
        raise ValueError(f"{who}: by must be one of {', '.join(SCALE_COLUMNS)}; got {by!r}"
                         f"{closest(by, SCALE_COLUMNS)}.")
    data.require(by, who=f"{who}(by={by!r})")
    values = getattr(data, by)
    if cutoff is None:
        if isinstance(holdout, bool) or not isinstance(holdout, numbers.Real) or not 0 < holdout < 1:
            raise ValueError(f"{who}: holdout must be a share in (0, 1); got {holdout!r}.")
        distinct = np.unique(values)
        if len(distinct) < 2:
            raise ValueError(f"{who}: every run has the same {by} ({distinct[0]:.3g}); nothing to extrapolate to.")
        n_out = min(len(distinct) - 1, max(1, int(round(holdout * len(distinct)))))
        cutoff = float(distinct[-n_out])
    else:
        if isinstance(cutoff, bool) or not isinstance(cutoff, numbers.Real) or not np.isfinite(cutoff):
            raise ValueError(f"{who}: cutoff must be a finite number; got {cutoff!r}.")
        cutoff = float(cutoff)
    held = values >= cutoff
    if not held.any():
        raise ValueError(f"{who}: no run has {by} >= {cutoff:.3g} (the largest is {values.max():.3g}); lower the "
                         "cutoff.")
    if held.sum() == len(data) or (~held).sum() < law.n_free:
        raise ValueError(
            f"{who}: only {(~held).sum()} runs have {by} < {cutoff:.3g}, but the {law.name} law has "
            f"{law.n_free} parameters; raise the cutoff or hold out less."
        )
    return held, cutoff


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
        extrapolation, the `trend` test and `summary()`. Warns with a `jscale.warnings.FormWarning` when
        the held-out errors are larger, or grow faster with distance, than the training fit's
        uncertainty allows (`TrendTest`, p < 0.01): a sign that the law's form is wrong beyond
        the data, where its intervals are then too narrow.

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
    held, cutoff = split(data, by, holdout, cutoff, law, who="backtest")
    train, test = data.subset(~held), data.subset(held)
    result = fit(law, train, **fit_kwargs)
    with warnings.catch_warnings():
        # Extrapolating is the point here; its distance is reported as `decades`.
        warnings.simplefilter("ignore", ExtrapolationWarning)
        predicted = result.predict(test)
    out = Backtest(fit=result, by=by, cutoff=cutoff, train=train, test=test, predicted=predicted,
                   observed=np.asarray(test[objective.target]))
    out = dataclasses.replace(out, trend=trend_test(result, test, out.decades), residuals=residual_test(result, train))
    for d in out.diagnostics():
        d.warn(stacklevel=2)
    return out
