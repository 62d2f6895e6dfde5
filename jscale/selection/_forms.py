"""Several candidate forms of a law, one answer: a mixture of the forms' bootstrap draws.

Every interval of a single law assumes its form is right. `jscale.bootstrap_forms` given a list of
laws fits every candidate form to the same data and the same resamples, scores each form on every
resample by how well it extrapolates, and mixes the forms' draws by those scores, so the bands
carry the disagreement between forms.

Scoring (per resample b): each form is refitted to the runs below a cutoff of `by` (the
backtest's split: the largest runs are held out) with resample b's multiplicities, and predicts
the held-out runs, each counted as often as resample b drew it (c_bi times). Form k's score is
the joint log predictive density of those runs plus an Occam factor:

    score_kb = log N(e_kb; 0, V_k + s_k^2 diag(1 / c_b)) + copies - (P_k / 2) log H,

e_kb the errors of draw b at the held-out runs it drew (residual space), s_k^2 the residual
variance of the form's training fit, V_k the covariance of its training draws' predictions at the
held-out runs (how vague the form is there, and how its errors move together: one extrapolation
error shifts every held-out run), "copies" the terms of the runs drawn more than once (see
`predictive_scores`), P_k its parameters and H the held-out runs (BIC's penalty). Its weight is
w_kb = exp(score_kb) / sum_j exp(score_jb): out-of-sample skill, as in pseudo-BMA (Yao et al.
2018), with the weights resampled by the bootstrap, and with vagueness and parameters counted
against a form, so that a flexible form that only matches a simpler one does not widen the bands.
With `prior=`, each score also gets the log prior probability of its form (default: equal).
By default (`score="held-out+trend"`) each form's scores are also charged the evidence of a smooth
trend its full-data fit leaves in the residuals (its "residuals" `TrendTest`, statistic chi2_k on
dof_k degrees of freedom), at AIC's price: score_kb - max(0, chi2_k / 2 - dof_k). The held-out runs
lie just past the training edge, where a missing term has barely begun to show; a trend in all the
runs' residuals is the in-sample sign that a form misses it. A right form's chi2 is about
its dof, so the charge is mostly zero there (see `trend_charges`). `score="held-out"` leaves it
out. In `python benchmarks/bench_forms.py` (100 studies per cell) the charge left the right-form
cell as it was (coverage 96 / 97 / 97%, width 1.14 / 1.16 / 1.19 times the default's) and
raised the coverage of the losses where the Chinchilla form misses a 2.5% interaction term from
265 and 266 of 300 studies to 274 and 274 (three sets of 100; the interaction form's mean point
weight from about 0.1 to about 0.5).
Draw b of form k's full-data bootstrap carries mass w_kb in the mixture; quantiles of the mixture
are the form-robust bands. The point weights are those of the training fits, without resampling.
The joint density replaced a product of per-run densities N(e_kbi; 0, s_k^2 + v_ki), which
counted one shared extrapolation error once per held-out run: weights near 0 or 1 that flipped
between resamples, so that a vague form kept a fifth of the mass where the plain form was right
and the bands of N*(1e24) were 2.5 times as wide as the default's (`python
benchmarks/bench_forms.py --studies 30`, at 888dcc7; the joint density: 1.20 times, 100 studies,
at 32e9d52). That in turn replaced the profiled Gaussian likelihood S^(-n/2) of the held-out mean
squared error, which in `python benchmarks/bench_forms.py --quick` (4 studies, at 4322418) gave
the two flexible forms two thirds of the weight where the plain Chinchilla form was right, and
bands of N* 11 times as wide as the default's.

Forms the data reject. A form whose full-data fit trails the best form's by more than `REJECT_BIC`
(50) in the Bayesian information criterion (`bic_gaps`) takes no weight on any resample (score
-inf), whatever its held-out score, and `Ensemble.diagnostics` names it in a `FormWarning`. The
held-out runs alone can favour a form that fits every run badly, since its large residual variance
excuses its large held-out errors: Kaplan's law, without an irreducible term, beside Chinchilla's on
runs with one (issue 33, item 6: weight 1.00 in 50 of 50 studies; `test_forms.py` shows it with
`score="held-out"`).

A stated form error (`FORM_ERROR`, `form_error=` of `Ensemble.predict`, `compute_optimal` and
`allocations`). The mixture covers the errors its candidate forms can express; an error that every
form shares moves them all alike, and the data may not reject it: in `python
benchmarks/bench_forms.py`, truths 1.5% off the plain law at the largest run that the Chinchilla
form follows to 0.02-0.12% rms inside the data shift N*(1e24) by up to 46%, and no weighting by
the data can see them. So the mixture's bands allow such an error, independent of the draws, of sd
`form_error` times the band's own: every end moves away from the mixture's median by sqrt(1 +
form_error^2) times its distance (in log space for positive quantities). The prior is stated, not
learnt: 0.6 (1.17x) was set for the width where the form is right, about 1.5 times the default's
(measured 1.52-1.55x in 12 studies at 100 resamples, where the mixture alone was 1.30-1.33x; the
mixture alone was 1.14-1.19x in 100 studies at 200). What it buys per kind of error is measured in
the benchmark and the README.
"""

from __future__ import annotations

import dataclasses
import numbers
import warnings

import numpy as np

from jscale.base._interval import Interval
from jscale.base._json import strict_json
from jscale.base._warnings import Diagnostic, ExtrapolationWarning, FormWarning
from jscale.data._data import ScalingData
from jscale.decisions._allocation import compute_optimal
from jscale.inference import _predict
from jscale.inference._results import BootstrapResult
from jscale.inference._uncertainty import check_level, model_on_draws
from jscale.laws._laws import Law
from jscale.selection._backtest import TREND_P

# A form whose weight (point, or mean over the resamples) is below this does not move the mixture:
# its failed form tests are shown in `Ensemble.summary()` but raise no `FormWarning`.
MATERIAL_WEIGHT = 0.05
# A form whose fit to all the runs trails the best form's by more than this in the Bayesian information
# criterion (`bic_gaps`; about -2 log of a Bayes factor: 50 is one beyond e^25, far past the 10 that Kass &
# Raftery 1995 call very strong) is rejected by the data: it takes no weight, whatever its held-out score,
# and `bootstrap_forms` says so with a `FormWarning`. Only gross misfits: lesser evidence is the scores' to
# weigh (in benchmarks/bench_forms.py's small misspecifications no candidate form trailed by more than 16;
# Kaplan's law on Chinchilla-like runs trails by hundreds).
REJECT_BIC = 50.0
ROUNDING = 1e-10  # residuals below this are rounding, not fit (`bic_gaps`)
# The stated prior on form error (`Mixture.interval`): the mixture's bands allow an error that every
# candidate form shares, of sd FORM_ERROR times the band's own, so they widen about their median by
# sqrt(1 + FORM_ERROR^2) (1.17). Chosen so that where the form is right the bands of
# `python benchmarks/bench_forms.py` stay within 1.5 times the default's (issue 33, item 6).
FORM_ERROR = 0.6
ALLOCATED = ("n_params", "n_tokens", "loss", "tokens_per_param")  # what Ensemble.allocations mixes
SCORES = ("held-out+trend", "held-out")  # what `score=` may be, the default first (module docstring)


def weighted_quantile(values, mass, q) -> np.ndarray:
    """Quantiles `q` of `values` (n,) with positive `mass` (n,), interpolated as numpy's default
    ("linear") method is: with equal masses the two agree exactly."""
    order = np.argsort(values)
    v, m = np.asarray(values, np.float64)[order], np.asarray(mass, np.float64)[order]
    cum = np.cumsum(m)
    # Position of the i-th sorted value: (S_i - m_i) / (S_n - m_n), i.e. (i - 1)/(n - 1) for equal masses.
    pos = (cum - m) / (cum[-1] - m[-1]) if len(v) > 1 else np.zeros(1)
    return np.interp(np.atleast_1d(q), pos, v)


@dataclasses.dataclass(frozen=True, eq=False)
class Mixture:
    """A quantity under several forms: each form's estimate and draws, and their mixture.

    Attributes:
        name: what the quantity is (e.g. "loss", "n_params").
        forms: the forms' names, (K,).
        by_form: (K, ...) each form's estimate (its full-data fit).
        point_weights: (K,) the forms' weights from the training fits.
        estimate: (...) the weighted mean of the forms' estimates (in log space for positive
            quantities) by `point_weights`.
        draws: (K, B, ...) every form's bootstrap draws (NaN where a draw failed).
        mass: (K, B, ...) each draw's mass in the mixture (zero where it failed); sums to 1.
        positive: whether the quantity is positive (then `form_share` is in log space).
        log_bands: whether the bands' quantiles interpolate in log space (as a bootstrap's
            `predict_interval` does for log residuals) or in natural units (as an allocation's
            `interval` does), so that one form's bands are exactly those of its bootstrap.
        form_error: the stated prior on form error: the mixture's band allows an error that
            every candidate form shares, of sd `form_error` times the band's own, independent of
            it, so the band widens about the mixture's median by sqrt(1 + form_error^2) (in log
            space for positive quantities). 0: the quantiles of the draws alone.
    """

    name: str
    forms: tuple
    by_form: np.ndarray
    point_weights: np.ndarray
    estimate: np.ndarray
    draws: np.ndarray
    mass: np.ndarray
    positive: bool
    log_bands: bool = True
    form_error: float = 0.0

    def _space(self, x):
        return np.log(x) if self.positive else x

    def interval(self, level: float = 0.95, form: str | None = None):
        """The mixture's `level` band (low, high), widened for `form_error`, or that of one form's
        draws with `form=` (as its own bootstrap gives it, without the widening)."""
        level = check_level(level)
        q = [(1 - level) / 2, (1 + level) / 2]
        if form is None and self.form_error > 0:
            q.append(0.5)
        log = self.positive and self.log_bands
        draws, mass = (np.log(self.draws) if log else self.draws), self.mass
        if form is not None:
            k = self._index(form)
            # every usable draw of the form, whatever its weight in the mixture (which may be 0)
            draws, mass = draws[k:k + 1], np.isfinite(self.draws[k:k + 1]).astype(np.float64)
        flat_d = draws.reshape((-1,) + draws.shape[2:])
        flat_m = mass.reshape((-1,) + mass.shape[2:])
        ends = self._quantile(flat_d, flat_m, q)
        ends = np.exp(ends) if log else ends
        if len(q) == 3:
            ends = self._widen(ends)
        return Interval(float(ends[0]), float(ends[1])) if ends[0].ndim == 0 else Interval(ends[0], ends[1])

    def _widen(self, ends):
        """(low, high) from (low, high, median): each end's distance from the median times
        sqrt(1 + form_error^2), in log space for a positive quantity (its ends stay positive)."""
        factor = float(np.sqrt(1.0 + self.form_error**2))
        low, high, median = ends
        if self.positive:
            return median * (low / median) ** factor, median * (high / median) ** factor
        return median - factor * (median - low), median + factor * (high - median)

    @staticmethod
    def _quantile(draws, mass, q):
        if draws.ndim == 1:
            keep = mass > 0
            return weighted_quantile(draws[keep], mass[keep], q)
        cols = draws.reshape(len(draws), -1)
        masses = mass.reshape(len(mass), -1)
        out = [Mixture._quantile(cols[:, j], masses[:, j], q) for j in range(cols.shape[1])]
        return np.stack(out, axis=-1).reshape((len(q),) + draws.shape[1:])

    def _index(self, form: str) -> int:
        if form not in self.forms:
            raise ValueError(f"form must be one of {', '.join(map(repr, self.forms))}; got {form!r}.")
        return self.forms.index(form)

    @property
    def form_weights(self) -> np.ndarray:
        """(K, ...) each form's share of the mixture's mass."""
        return self.mass.sum(axis=1)

    @property
    def form_share(self) -> np.ndarray:
        """(...) the share of the mixture's variance (in log space for positive quantities) that is
        the spread between the forms' means: 0 when the forms agree, 1 when each form is certain
        and only their disagreement is left (the law of total variance)."""
        d = np.where(self.mass > 0, self._space(np.where(self.mass > 0, self.draws, 1.0)), 0.0)
        w = self.form_weights
        safe = np.where(w > 0, w, 1.0)
        means = (self.mass * d).sum(axis=1) / safe
        within = (self.mass * (d - means[:, None]) ** 2).sum(axis=1)
        grand = (w * means).sum(axis=0)
        between = (w * (means - grand) ** 2).sum(axis=0)
        total = within.sum(axis=0) + between
        return np.where(total > 0, between / np.where(total > 0, total, 1.0), 0.0)

    def __repr__(self) -> str:
        shape = np.shape(self.estimate)
        return (f"Mixture({self.name}, {len(self.forms)} forms x {self.draws.shape[1]} draws"
                + (f", {shape[0]} points" if shape else "") + ")")

    def table(self, level: float = 0.95) -> str:
        """Per form: weight, estimate and band; then the mixture's, with the share from the forms
        (a scalar quantity, or the first point of an array one)."""
        def first(x):
            return float(np.ravel(x)[0])

        lines = [f"{self.name}: {'form':<24} {'weight':>7} {'estimate':>11}   {100 * level:g}% band"]
        for k, form in enumerate(self.forms):
            lo, hi = self.interval(level, form=form)
            lines.append(f"{'':<{len(self.name) + 1}} {form:<24} {first(self.form_weights[k]):>7.3f} "
                         f"{first(self.by_form[k]):>11.5g}   ({first(lo):.5g}, {first(hi):.5g})")
        lo, hi = self.interval(level)
        lines.append(f"{'':<{len(self.name) + 1}} {'mixture':<24} {1:>7.3f} {first(self.estimate):>11.5g}   "
                     f"({first(lo):.5g}, {first(hi):.5g}); {first(self.form_share):.0%} of its variance from "
                     "the forms' disagreement"
                     + (f"; band widened {np.sqrt(1 + self.form_error**2):.2f}x for a form error shared by every form "
                        f"(form_error={self.form_error:g})" if self.form_error > 0 else ""))
        return "\n".join(lines)

    def summary(self, level: float = 0.95) -> str:
        """What is mixed, then `table(level)`."""
        points = np.shape(self.estimate)
        return (f"{self.name} under {len(self.forms)} forms, {self.draws.shape[1]} draws each"
                + (f", at {points[0]} points (the table shows the first)" if points else "") + ":\n"
                + self.table(level))

    def to_dict(self, level: float = 0.95) -> dict:
        """Strict-JSON-ready: the forms, their estimates and weights, the mixture's estimate, its band
        at `level` (widened for `form_error`) and the share of its variance from the forms' disagreement."""
        level = check_level(level)
        low, high = self.interval(level)
        return strict_json({"kind": "mixture", "name": self.name, "forms": list(self.forms),
                            "by_form": self.by_form, "point_weights": self.point_weights,
                            "form_weights": self.form_weights, "estimate": self.estimate, "level": level,
                            "interval": [low, high], "form_error": self.form_error, "form_share": self.form_share})


@dataclasses.dataclass(frozen=True, eq=False)
class Ensemble:
    """Several forms of a law fitted and bootstrapped on the same data and resamples, weighted
    by their skill on the held-out largest runs (see the module docstring).

    Attributes:
        forms: the forms' names, (K,).
        members: (K,) each form's full-data `BootstrapResult` (the first is today's
            `jscale.bootstrap` of the first law, same key, same draws).
        held_out: (K,) each form's `BootstrapResult` on the training runs only (held-out runs
            at weight 0), the same resamples.
        by, cutoff: runs with `by` >= cutoff were held out for scoring.
        held: (R,) mask of the held-out runs.
        scores: (B, K) score of every form on every resample (log predictive density of the
            held-out runs plus the Occam factor and the log prior, less the form's charge; -inf
            where its training draw did not converge).
        weights: (B, K) the forms' weights on every resample (rows sum to 1; NaN rows where no
            form's training draw converged).
        point_scores, point_weights: (K,) the same for the training fits without resampling.
        held_rmse: (K,) root mean squared held-out error of each form's training fit.
        trends: (K,) each form's held-out `TrendTest` (its training fit), or None.
        residuals: (K,) each form's residual `TrendTest` (its full-data fit), or None.
        prior: (K,) the forms' prior probabilities (equal unless `prior=` was given).
        score: how the forms were scored, one of `SCORES`: "held-out+trend" (held-out skill less
            a charge for a trend left in the residuals) or "held-out" (files saved before score=
            existed load as "held-out", as they were scored).
        charges: (K,) what was taken from each form's scores (`trend_charges` of `residuals`
            under "held-out+trend", else zeros).
    """

    forms: tuple
    members: tuple
    held_out: tuple
    by: str
    cutoff: float
    held: np.ndarray
    scores: np.ndarray
    weights: np.ndarray
    point_scores: np.ndarray
    point_weights: np.ndarray
    held_rmse: np.ndarray
    trends: tuple
    residuals: tuple
    prior: np.ndarray
    score: str
    charges: np.ndarray

    n_resamples = property(lambda self: self.members[0].n_resamples)

    @property
    def bic_gaps(self) -> np.ndarray:
        """(K,) each form's full-data fit's BIC less the best form's (`bic_gaps`)."""
        return bic_gaps([m.fit for m in self.members])

    @property
    def rejected(self) -> np.ndarray:
        """(K,) whether the data reject each form (its `bic_gaps` entry exceeds `REJECT_BIC`): such a form
        takes no weight."""
        return self.bic_gaps > REJECT_BIC

    @property
    def mean_weights(self) -> np.ndarray:
        """(K,) each form's weight averaged over the resamples (rows where no form converged left
        out; the point weights if there are none)."""
        ok = np.all(np.isfinite(self.weights), axis=1)
        return self.weights[ok].mean(axis=0) if ok.any() else self.point_weights

    def weight_interval(self, level: float = 0.95) -> np.ndarray:
        """(K, 2) percentile band of every form's weight over the resamples."""
        level = check_level(level)
        ok = np.all(np.isfinite(self.weights), axis=1)
        return np.quantile(self.weights[ok], [(1 - level) / 2, (1 + level) / 2], axis=0).T

    def _mixture(self, name, by_form, draws, ok, positive, form_error, log_bands=True) -> Mixture:
        """A `Mixture` from (K, ...) estimates, (K, B, ...) draws and (K, B, ...) usable masks."""
        w = np.nan_to_num(self.weights.T, nan=0.0)  # (K, B)
        w = w.reshape(w.shape + (1,) * (draws.ndim - 2))
        mass = np.where(ok, w, 0.0)
        total = mass.sum(axis=(0, 1))
        if np.any(total <= 0):
            raise ValueError(f"No usable draw of {name} under any form; its band is undefined.")
        mass = mass / total
        space = np.log(by_form) if positive else by_form
        pw = self.point_weights.reshape((-1,) + (1,) * (by_form.ndim - 1))
        estimate = (pw * space).sum(axis=0)
        return Mixture(name=name, forms=self.forms, by_form=by_form, point_weights=self.point_weights,
                       estimate=np.exp(estimate) if positive else estimate, draws=np.where(ok, draws, np.nan),
                       mass=mass, positive=positive, log_bands=log_bands, form_error=form_error)

    def predict(self, data=None, *, form_error: float = FORM_ERROR, **columns) -> Mixture:
        """The fitted column (the loss) at new points under every form and their mixture: a
        `Mixture` of (R,) values (`estimate`, `interval(level)`, `form_share`, `table()`), its bands
        widened for `form_error` (the stated prior on form error, `FORM_ERROR`; 0: none)."""
        form_error = check_form_error(form_error)
        by_form, draws, ok = [], [], []
        for k, boot in enumerate(self.members):
            law, result = boot.law, boot.fit
            with warnings.catch_warnings():
                if k:  # the first form's extrapolation warning says it; once is enough
                    warnings.simplefilter("ignore", ExtrapolationWarning)
                x = _predict.inputs(law, result.data_summary, data, stacklevel=2, **columns)
            log = result.residual == "log"
            values = model_on_draws(law.log_predict if log else law.predict, x)
            by_form.append(values(np.asarray(result.theta)[None])[0])
            draws.append(values(np.asarray(boot.free_draws)))
            ok.append(np.broadcast_to(boot.draw_ok[:, None], draws[-1].shape))
        by_form, draws = np.stack(by_form), np.stack(draws)
        log = self.members[0].fit.residual == "log"
        if log:
            by_form, draws = np.exp(by_form), np.exp(draws)
        return self._mixture(self.members[0].fit.target, by_form, draws, np.stack(ok), positive=log,
                             form_error=form_error)

    def predict_interval(self, data=None, *, level: float = 0.95, form_error: float = FORM_ERROR, **columns):
        """The mixture's band (low, high) of the prediction, (R,) each: `predict(...).interval(level)`."""
        return self.predict(data, form_error=form_error, **columns).interval(level)

    def compute_optimal(self, compute, *, quantity: str = "n_params", cost=None, fixed=None,
                        form_error: float = FORM_ERROR) -> Mixture:
        """A compute-optimal quantity ("n_params", "n_tokens", "loss" or "tokens_per_param") at
        budget(s) `compute` under every form (`jscale.compute_optimal` of each member) and their
        mixture, a `Mixture` of (C,) values, its bands widened for `form_error` (as in `predict`).
        Every form must be a law of n_params and n_tokens."""
        return self.allocations(compute, (quantity,), cost=cost, fixed=fixed, form_error=form_error)[quantity]

    def allocations(self, compute, quantities=ALLOCATED, *, cost=None, fixed=None,
                    form_error: float = FORM_ERROR) -> dict:
        """{quantity: `Mixture`} for several compute-optimal quantities at once (each form's
        allocation solved once); see `compute_optimal`."""
        form_error = check_form_error(form_error)
        bad = [q for q in quantities if q not in ALLOCATED]
        if bad or not quantities:
            raise ValueError(f"quantity must be one of {', '.join(ALLOCATED)}; got {bad[0] if bad else quantities!r}.")
        allocations = []
        for k, boot in enumerate(self.members):
            with warnings.catch_warnings():
                if k:  # the first form's warnings say it (extrapolation, failed solves); once is enough
                    warnings.simplefilter("ignore", ExtrapolationWarning)
                allocations.append(compute_optimal(boot, compute, cost=cost, fixed=fixed))
        ok = np.stack([np.asarray(a.draw_ok) for a in allocations])
        return {q: self._mixture(q, np.stack([np.asarray(getattr(a, q)) for a in allocations]),
                                 np.stack([np.asarray(a.draws[q]) for a in allocations]), ok, positive=True,
                                 form_error=form_error, log_bands=False) for q in quantities}

    def diagnostics(self) -> list:
        """A `FormWarning` for every form that carries weight (point or mean resampled weight at least
        `MATERIAL_WEIGHT`) and fails its held-out or residual test (`bootstrap_forms` warned with them), and
        the members' own diagnostics. A form of negligible weight does not move the mixture, so its
        failed tests are only shown in `summary()`."""
        found, mean, gaps = [], self.mean_weights, self.bic_gaps
        best = self.forms[int(np.nanargmin(gaps))] if np.any(np.isfinite(gaps)) else None
        for k, (form, tests) in enumerate(zip(self.forms, zip(self.trends, self.residuals))):
            fired = [t for t in tests if t is not None and t.fires]
            weight = max(self.point_weights[k], mean[k])
            if gaps[k] > REJECT_BIC:
                found.append(Diagnostic("form", f"The data reject the {form} form: its fit to the runs trails the "
                                        f"{best} form's by {gaps[k]:.3g} in BIC (more than {REJECT_BIC:g}), so it "
                                        + ("takes no weight in the mixture." if weight == 0 else
                                           f"should take no weight, yet holds {weight:.2f} (scored before jscale "
                                           "rejected forms)."), FormWarning, {"bic_gap": float(gaps[k])}))
            elif fired and weight >= MATERIAL_WEIGHT:
                tests = "; ".join(f"{t.kind}: {t}" for t in fired)
                found.append(Diagnostic("form", f"The {form} form (weight {weight:.2f}) fails its form "
                                        f"test{'s' if len(fired) > 1 else ''}: {tests}. Its bands alone would be "
                                        "too narrow beyond the data.", FormWarning,
                                        {t.kind: t.p_value for t in fired}))
        for boot in self.members:
            found.extend(boot.diagnostics())
        return found

    def summary(self, level: float = 0.95) -> str:
        """The forms, their weights (point and resampled band), held-out scores and form tests."""
        band = self.weight_interval(level)
        held = int(self.held.sum())
        mean, gaps = self.mean_weights, self.bic_gaps
        lines = [f"{len(self.forms)} forms, {self.n_resamples} resamples; weights from {held} held-out runs with "
                 f"{self.by} >= {self.cutoff:.3g} (fitted on the {len(self.held) - held} below). Point weight: "
                 "from the training fits; resampled: mean and band over the resamples (the mixture's)"
                 + ("" if np.ptp(self.prior) == 0 else "; prior " + ", ".join(f"{p:.3g}" for p in self.prior))
                 + ("; scores charged max(0, chi2/2 - dof) of the residual test" if self.score == "held-out+trend"
                    else "") + ":",
                 f"  {'form':<24} {'point':>6} {'resampled':>9} {f'{100 * level:g}% band':>15} {'held-out rmse':>14}"
                 f"  form tests (p < {TREND_P:g} fires)"]
        for k, form in enumerate(self.forms):
            tests = [t for t in (self.trends[k], self.residuals[k]) if t is not None]
            flags = ", ".join(f"{t.kind} p={t.p_value:.2g}{' FIRES' if t.fires else ''}" for t in tests) or "-"
            if gaps[k] > REJECT_BIC:
                flags = f"REJECTED (BIC {gaps[k]:+.3g}); " + flags
            charge = f"; charge {self.charges[k]:.3g}" if self.score == "held-out+trend" else ""
            lines.append(f"  {form:<24} {self.point_weights[k]:>6.3f} {mean[k]:>9.3f} ({band[k, 0]:>5.3f}, "
                         f"{band[k, 1]:>5.3f}) {self.held_rmse[k]:>14.4%}  {flags}{charge}")
        return "\n".join(lines)

    def to_dict(self, level: float = 0.95) -> dict:
        """Strict-JSON-ready: the forms, their point and resampled weights (band at `level`), held-out
        errors, form tests and charges, and every member's bootstrap at `level`."""
        level = check_level(level)
        band = self.weight_interval(level)
        tests = [{t.kind: dataclasses.asdict(t) for t in (self.trends[k], self.residuals[k]) if t is not None}
                 for k in range(len(self.forms))]
        return strict_json({"kind": "ensemble", "forms": list(self.forms), "by": self.by, "cutoff": self.cutoff,
                            "n_held": int(np.sum(self.held)), "score": self.score, "level": level,
                            "prior": self.prior, "point_weights": self.point_weights,
                            "mean_weights": self.mean_weights, "weight_interval": band,
                            "held_rmse": self.held_rmse, "charges": self.charges, "tests": tests,
                            "members": [m.to_dict(level) for m in self.members]})

    def __repr__(self) -> str:
        weights = ", ".join(f"{f}={w:.3f}" for f, w in zip(self.forms, self.point_weights))
        return f"Ensemble({len(self.forms)} forms, {self.n_resamples} resamples; weights {weights})"


def form_weights(scores: np.ndarray) -> np.ndarray:
    """(B, K) weights exp(score) normalised per row, from (B, K) log scores (-inf or NaN: weight 0);
    NaN rows where no form has a finite score."""
    scores = np.where(np.isfinite(scores), scores, -np.inf)
    top = scores.max(axis=1, keepdims=True)
    with np.errstate(invalid="ignore"):
        w = np.exp(scores - top)
        return w / w.sum(axis=1, keepdims=True)


def bic_gaps(fits) -> np.ndarray:
    """(K,) each fit's Bayesian information criterion on the runs it was fitted to, n log(sum w r^2 / n)
    + P log n (n the sum of the row weights, r the residuals, P the law's free parameters: Schwarz
    1978, with the Gaussian likelihood of the residuals at their mean square), less the smallest of
    them (NaN where a fit holds no curvature terms). All forms must be fitted to the same runs."""
    bic = []
    for result in fits:
        if result.curvature is None:
            bic.append(np.nan)
            continue
        n, r2 = float(result.curvature["sum_w"]), float(result.curvature["sum_r2"])
        # a floor at rounding level ((1e-10)^2, as the form tests' `_at_rounding`): on exact data, forms
        # that differ only in their rounding are not told apart
        bic.append(n * np.log(max(r2 / n, ROUNDING**2)) + result.law.n_free * np.log(n))
    bic = np.asarray(bic, np.float64)
    return bic - np.nanmin(bic) if np.any(np.isfinite(bic)) else bic


def trend_charges(residuals) -> np.ndarray:
    """(K,) each form's charge under `score="held-out+trend"`: max(0, chi2 / 2 - dof) of its
    "residuals" `TrendTest` (0 where there is none). chi2 / 2 is the log likelihood ratio of the
    residual trend, dof its extra parameters: AIC's price, so a trend must be worth more than its
    parameters to cost the form anything. A right form's chi2 exceeds 2 dof in about a tenth of data
    sets (11% for dof 3), and then mostly by little: the charge exceeds 1 in 4% (chi2 > 8, dof 3)."""
    return np.array([0.0 if t is None else max(0.0, t.statistic / 2 - t.dof) for t in residuals], np.float64)


def check_form_error(form_error) -> float:
    what = (f"the sd of a form error shared by every form, as a multiple of the band's own; {FORM_ERROR} by default, "
            "0 for none")
    if isinstance(form_error, bool) or not isinstance(form_error, numbers.Real):
        raise TypeError(f"form_error must be a number ({what}); got {type(form_error).__name__} {form_error!r}.")
    if not (np.isfinite(form_error) and form_error >= 0):
        raise ValueError(f"form_error must be a finite number >= 0 ({what}); got {form_error!r}.")
    return float(form_error)


def check_score(score) -> str:
    if score not in SCORES:
        raise ValueError(f"score must be one of {', '.join(map(repr, SCORES))}; got {score!r}.")
    return score


def prediction_spread(errors, ok) -> np.ndarray:
    """(H, H) covariance of a form's training draws' predictions at the held-out runs (zeros with
    fewer than 3 usable draws)."""
    if ok.sum() < 3:
        return np.zeros((errors.shape[1],) * 2)
    return np.atleast_2d(np.cov(errors[ok], rowvar=False))


def predictive_scores(errors, ok, counts, residual_variance: float, n_free: int, spread) -> np.ndarray:
    """(B,) scores of one form (module docstring): `errors` (B, H) at the held-out runs, `ok` (B,)
    the usable rows, `counts` (B, H) how often each resample drew each held-out run, the
    `residual_variance` s^2 of its training fit, `n_free` its parameters and the (H, H) `spread`
    V of its training draws' predictions.

    Resample b's held-out runs (those with c_i > 0) are scored jointly: a run drawn c_i times
    counts as c_i observations with noise s^2 each around a common mean, and the means are
    N(e_b, V) across runs, so the log density is log N(e; 0, V + s^2 diag(1/c)) plus
    sum_i [-(c_i - 1)/2 log(2 pi s^2) - (1/2) log c_i] (exact for integer counts)."""
    # a floor of (1e-6)^2 on the noise (far below any real run's) keeps exact data well posed
    residual_variance = max(float(residual_variance), 1e-12)
    scores = np.full(len(errors), -np.inf)
    for b in np.flatnonzero(ok):
        seen = counts[b] > 0
        c = counts[b, seen]
        chol = np.linalg.cholesky(spread[np.ix_(seen, seen)] + np.diag(residual_variance / c))
        z = np.linalg.solve(chol, errors[b, seen])
        joint = -0.5 * z @ z - np.log(np.diag(chol)).sum() - 0.5 * len(c) * np.log(2 * np.pi)
        copies = -0.5 * ((c - 1) * np.log(2 * np.pi * residual_variance) + np.log(c)).sum()
        scores[b] = joint + copies
    return scores - 0.5 * n_free * np.log(errors.shape[1])


def held_errors(boot: BootstrapResult, data: ScalingData, held: np.ndarray, free) -> np.ndarray:
    """(n, H) held-out errors (residual space) of the law at free parameters (n, P)."""
    law, result = boot.law, boot.fit
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ExtrapolationWarning)
        x = _predict.inputs(law, result.data_summary, data.subset(held))
    log = result.residual == "log"
    predicted = model_on_draws(law.log_predict if log else law.predict, x)(np.asarray(free))
    observed = np.asarray(data.subset(held)[result.target], np.float64)
    return (np.log(observed) if log else observed)[None] - predicted


def check_prior(prior, n_forms: int) -> np.ndarray:
    """(K,) log prior probabilities of the forms: 0 for equal priors (None), else the log of the
    normalised `prior` (K positive finite numbers)."""
    if prior is None:
        return np.zeros(n_forms)
    try:
        p = np.asarray(prior, np.float64)
    except (TypeError, ValueError):
        raise TypeError(f"prior must be a list of {n_forms} positive numbers, one per form; got {prior!r}.") from None
    if p.shape != (n_forms,) or not np.all(np.isfinite(p)) or np.any(p <= 0):
        raise ValueError(f"prior must give {n_forms} positive finite numbers, one per form; got {prior!r}.")
    return np.log(p / p.sum())


def check_laws(laws, names) -> tuple:
    laws = tuple(laws)
    if not laws or not all(isinstance(law, Law) for law in laws):
        raise TypeError("bootstrap takes a law or a list of law objects, e.g. [jscale.laws.Chinchilla(), "
                        "jscale.laws.Kaplan()]; got " + ", ".join(type(x).__name__ for x in laws[:3]) + ".")
    names = tuple(law.name for law in laws) if names is None else tuple(map(str, names))
    if len(names) != len(laws):
        raise ValueError(f"names must give one name per law: {len(laws)} laws, {len(names)} names.")
    if len(set(names)) != len(names):
        raise ValueError(f"The forms need distinct names; got {', '.join(names)}. Pass names=[...].")
    return laws, names


__all__ = ["Ensemble", "Mixture"]
