"""Several candidate forms of a law, bootstrapped on the same resamples and mixed by held-out skill.

`bootstrap_forms` runs, for every form, the full fit, its bootstrap, a fit and bootstrap on the
training runs only, and the held-out and residual tests; `jscale.selection._forms` holds the
weights and the `Ensemble` they make.
"""

from __future__ import annotations

import warnings

import numpy as np

from jscale.base._warnings import warn_all
from jscale.data._data import ScalingData
from jscale.engine._batch import counts_table
from jscale.engine._execution import Execution, execution_of
from jscale.fitting._bootstrap import as_key_data, check_n_resamples, resample_fits, resample_units, warm_starts
from jscale.fitting._fit import check_law_and_data, check_objective, fit
from jscale.selection._backtest import residual_test, split, trend_test
from jscale.selection._forms import (
    REJECT_BIC,
    Ensemble,
    bic_gaps,
    check_laws,
    check_prior,
    check_score,
    form_weights,
    held_errors,
    prediction_spread,
    predictive_scores,
    trend_charges,
)


def bootstrap_forms(laws, data: ScalingData, *, key, n_resamples=None, by: str = "compute", holdout: float = 0.25,
                    cutoff=None, names=None, full_fits=None, prior=None, score: str = "held-out+trend",
                    unit: str = "row", target: str = "loss", residual: str = "log", loss="huber", delta=None,
                    jackknife: bool = True, execution: Execution | None = None,
                    progress: bool | None = None, **legacy) -> Ensemble:
    """Several candidate forms of a law, bootstrapped together and mixed by their extrapolation skill
    (see `jscale.selection._forms` for the weights).

    Returns an `Ensemble`: `members` (each form's `BootstrapResult`; the first is the bootstrap of
    the first law alone with this key), the weights per resample and their bands, `predict` and
    `compute_optimal` as `Mixture`s of the forms' draws, `summary()`. The mixtures' bands are widened
    for a stated form error that no candidate form expresses (`form_error=`, default `FORM_ERROR`, in
    `predict`, `compute_optimal` and `allocations`; `jscale.selection._forms`). Warns with a `FormWarning`
    for every form of weight 5% or more that fails its held-out or residual test (`jscale.backtest`'s
    `TrendTest`s; `Ensemble.diagnostics`). A form the data reject, whose full-data fit trails the best
    form's by more than `REJECT_BIC` (50) in the Bayesian information criterion, takes no weight on any
    resample, whatever its held-out score, and is named in a `FormWarning` (e.g. `Kaplan()`, which has
    no irreducible term, beside `Chinchilla()` on Chinchilla-like runs).

    Long because it runs the three stages for every form (fits, bootstraps, held-out scores); each
    is a short block.

    Args:
        laws: two or more law objects (one gives today's bootstrap and weight 1).
        data: a `ScalingData` with every law's columns and `by`.
        key, n_resamples, unit, target, residual, loss, delta, jackknife: as in `jscale.bootstrap`
            (unit "row", "group" or a column; not "residual"). Every form sees the same resamples.
        by, holdout, cutoff: the split that scores the forms, as in `jscale.backtest`: runs with
            `by` >= cutoff (default: the top `holdout` share of its distinct values) are held out.
        names: a name per form for the tables (default: the laws' names).
        full_fits: optional list of each form's `jscale.fit` on `data` (else fitted here from the
            law's default starts); the training fits start from its starts and basins.
        prior: optional prior probability of each form (K positive numbers, normalised here;
            default equal). A form's weight on every resample is prior_k exp(score_k), normalised:
            where the held-out runs cannot tell the forms apart, the weights follow the prior and
            the Occam factor, so a form held plausible for reasons outside the data keeps its share.
        score: "held-out+trend" (default: the forms' skill on the held-out runs, each form's
            scores charged max(0, chi2/2 - dof) of its residual test, the evidence of a trend its
            fit leaves in all the runs; `jscale.selection._forms`) or "held-out" (the skill alone).
        execution, progress: as in `jscale.bootstrap`.
    """
    execution = execution_of(execution, legacy, "bootstrap_forms")
    laws, names = check_laws(laws, names)
    log_prior = check_prior(prior, len(laws))
    score = check_score(score)
    objective = check_objective(target, residual, loss, delta)
    for law in laws:
        check_law_and_data(law, data, objective)
    held, cutoff = split(data, by, holdout, cutoff, max(laws, key=lambda law: law.n_free), who="bootstrap")
    if full_fits is not None and len(full_fits) != len(laws):
        raise ValueError(f"full_fits must give one fit per law: {len(laws)} laws, {len(full_fits)} fits.")
    kind, unit_of_row, n_units = resample_units(unit, data)
    if kind == "residual":
        raise ValueError("Several forms are scored on the same resampled runs; unit='residual' does not apply.")
    if key is None:
        raise TypeError("bootstrap of several forms needs key= (an integer seed or a JAX PRNG key).")
    n_resamples = check_n_resamples(n_resamples)
    counts = counts_table(as_key_data(key), n_resamples, n_units)
    options = dict(target=target, residual=residual, loss=loss, delta=delta)
    row_weight = np.ones(len(data)) if data.weight is None else np.asarray(data.weight, np.float64)
    train_data = data.replace(weight=np.where(held, 0.0, row_weight))
    row_counts = counts[:, unit_of_row] * row_weight[None]
    values = np.asarray(data[by])
    decades = np.log10(values[held] / np.max(values[~held]))  # of the held-out runs beyond the training runs
    members, held_out, scores, point_scores, rmse, trends, residuals = [], [], [], [], [], [], []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the ensemble's diagnostics() gathers what matters
        for k, law in enumerate(laws):
            full = full_fits[k] if full_fits is not None else fit(law, data, **options, execution=execution)
            run = dict(options, progress=progress, **execution.keywords())
            member = resample_fits(law, data, key=key, counts=None, n_resamples=n_resamples, unit=unit, starts="warm",
                                   full_fit=full, jackknife=jackknife, **run)
            starts = np.vstack([warm_starts(full), full.starts])
            train_fit = fit(law, train_data, starts=starts, **options, execution=execution)
            train = resample_fits(law, train_data, key=None, counts=counts, n_resamples=None, unit=unit, starts="warm",
                                  full_fit=train_fit, jackknife=False, **run)
            errors = held_errors(train, data, held, train.free_draws)
            s2, spread = train_fit.residual_variance, prediction_spread(errors, train.draw_ok)
            scores.append(predictive_scores(errors, train.draw_ok, row_counts[:, held], s2, law.n_free, spread))
            point = held_errors(train, data, held, np.asarray(train_fit.theta)[None])  # every held-out run once
            point_scores.append(float(predictive_scores(point, np.ones(1, bool), np.ones_like(point), s2, law.n_free,
                                                        spread)[0]))
            rmse.append(float(np.sqrt(np.mean(point**2))))
            draws_cov = spread if train.draw_ok.sum() > 2 else None
            trends.append(trend_test(train_fit, data.subset(held), decades, spread=draws_cov))
            residuals.append(residual_test(full, data))
            members.append(member)
            held_out.append(train)
    charges = trend_charges(residuals) if score == "held-out+trend" else np.zeros(len(laws))
    # a form the data reject (its fit trails the best form's by more than REJECT_BIC) takes no weight
    rejected = np.where(bic_gaps([m.fit for m in members]) > REJECT_BIC, -np.inf, 0.0)
    scores = np.stack(scores, axis=1) + log_prior - charges + rejected
    point_scores = np.asarray(point_scores) + log_prior - charges + rejected
    weights = form_weights(scores)
    point_weights = form_weights(point_scores[None])[0]
    ensemble = Ensemble(forms=names, members=tuple(members), held_out=tuple(held_out), by=by, cutoff=cutoff,
                        held=held, scores=scores, weights=weights, point_scores=point_scores,
                        point_weights=point_weights, held_rmse=np.asarray(rmse), trends=tuple(trends),
                        residuals=tuple(residuals), prior=np.exp(log_prior), score=score, charges=charges)
    warn_all(ensemble.diagnostics(), stacklevel=3)
    return ensemble
