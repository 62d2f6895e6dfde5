"""`Estimate`: a law with its fitted parameters and their uncertainty, whatever produced them.

Every decision verb (`compute_optimal`, `marginal_returns`, `optimum`, `compare`, ...) reads its
input through `estimate_of`, so a `FitResult` (curvature covariance), a `BootstrapResult` (draws)
and a law with hand-given parameters (no uncertainty) are one kind of value to them (after
numpyro's `Predictive`, which does not care what produced its samples).
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from jscale.inference._results import BootstrapResult, FitResult
from jscale.laws._laws import Law


class Estimate(NamedTuple):
    """A law, its free parameters and their uncertainty.

    Attributes:
        law: the law object.
        theta: (P,) free parameters of the estimate.
        draws: (B, P) free parameters of bootstrap draws, or None.
        draw_ok: (B,) the usable-draw mask (draws whose fit converged), or None.
        covariance: (P, P) covariance of the free parameters (the fit's curvature), or None.
        result: the `FitResult` or `BootstrapResult` it came from, or None (hand-given params).
    """

    law: Any
    theta: np.ndarray
    draws: np.ndarray | None = None
    draw_ok: np.ndarray | None = None
    covariance: np.ndarray | None = None
    result: Any = None

    @property
    def fit(self) -> FitResult | None:
        """The full-data fit behind the estimate (for its data's ranges), or None."""
        if isinstance(self.result, BootstrapResult):
            return self.result.fit
        return self.result


def estimate_of(result, params=None) -> Estimate:
    """The `Estimate` of a `FitResult` (delta-method bands), a `BootstrapResult` (bands over its
    draws), a law with natural `params=` (no bands), or an `Estimate` (returned as it is)."""
    if isinstance(result, Estimate):
        if params is not None:
            raise ValueError("params= is for a law object; an Estimate carries its own parameters.")
        return result
    if isinstance(result, BootstrapResult):
        if params is not None:
            raise ValueError("params= is for a law object; a BootstrapResult carries its own parameters.")
        fit = result.fit
        return Estimate(fit.law, np.asarray(fit.end_params[fit.best_index]), np.asarray(result.free_draws),
                        np.asarray(result.draw_ok), None, result)
    if isinstance(result, FitResult):
        if params is not None:
            raise ValueError("params= is for a law object; a FitResult carries its own parameters.")
        return Estimate(result.law, np.asarray(result.end_params[result.best_index]), None, None,
                        result.free_covariance(), result)
    if isinstance(result, Law):
        if params is None:
            raise ValueError(
                "With a law object, pass its natural parameters as params= "
                f"(e.g. {dict.fromkeys(result.param_names, 0.0)})."
            )
        missing = [n for n in result.param_names if n not in params]
        if missing:
            raise ValueError(f"params lacks {', '.join(missing)} of the {result.name} law.")
        check_params(result, params)
        theta = result.to_free([float(params[n]) for n in result.param_names])
        return Estimate(result, np.asarray(theta, np.float64))
    raise TypeError(
        f"expected a FitResult, a BootstrapResult or a law with params=; got {type(result).__name__}."
    )


def check_params(law: Law, params) -> None:
    """Natural parameters given by hand: numbers inside the law's domains (`Law.in_domain`, the
    rule of `law.fix`; a zero, negative or NaN parameter would give a plausible-looking but
    meaningless optimum)."""
    for k, (name, (low, high)) in enumerate(zip(law.param_names, law.bounds)):
        try:
            value = float(params[name])
        except (TypeError, ValueError):
            raise ValueError(f"params[{name!r}] must be a number; got {params[name]!r}.") from None
        if not law.in_domain(k, value):
            raise ValueError(f"params[{name!r}] is {value!r}; the {law.name} law needs it inside ({low:g}, {high:g}). "
                             "Pass the fitted values.")
