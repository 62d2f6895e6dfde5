"""Robust losses on log residuals and the objective they define.

The objective of a fit is  F(theta) = sum_i w_i rho(r_i),  r_i = log L_i - log_predict_i(theta),
with w_i the row weights (1 by default, resample counts in a bootstrap). The **sum** (not the
mean) follows Hoffmann et al. 2022 and Besiroglu et al. 2024, so objective values compare
directly with theirs.
"""

from __future__ import annotations

import dataclasses
import numbers

import jax.numpy as jnp

from jscale._numerics import pairwise_sum


@dataclasses.dataclass(frozen=True)
class Huber:
    """Huber loss rho(r) = r^2/2 for |r| <= delta, delta (|r| - delta/2) beyond.

    Args:
        delta: the threshold, in units of log loss (1e-3 as in Hoffmann et al. 2022).
    """

    delta: float = 1e-3

    def __post_init__(self):
        if isinstance(self.delta, bool) or not isinstance(self.delta, numbers.Real) or not 0 < self.delta < float("inf"):
            raise ValueError(f"Huber delta must be a positive finite number; got {self.delta!r}.")

    def rho(self, r):
        a = jnp.abs(r)
        return jnp.where(a <= self.delta, 0.5 * r * r, self.delta * (a - 0.5 * self.delta))

    def irls_weight(self, r):
        """psi(r)/r, the weight of the quadratic majoriser at r (1 inside delta, delta/|r| beyond)."""
        a = jnp.abs(r)
        return jnp.where(a <= self.delta, 1.0, self.delta / jnp.where(a <= self.delta, 1.0, a))

    def curvature(self, r):
        """rho''(r): 1 inside delta, 0 beyond."""
        return (jnp.abs(r) <= self.delta).astype(r.dtype)


@dataclasses.dataclass(frozen=True)
class Squared:
    """Squared error rho(r) = r^2/2 (least squares on log loss)."""

    def rho(self, r):
        return 0.5 * r * r

    def irls_weight(self, r):
        return jnp.ones_like(r)

    def curvature(self, r):
        return jnp.ones_like(r)


def resolve_loss(loss, delta):
    """Turns the public `loss=`/`delta=` arguments into a loss object, or raises ValueError."""
    if all(callable(getattr(loss, m, None)) for m in ("rho", "irls_weight", "curvature")):
        if delta is not None:
            raise ValueError("Pass delta only with loss='huber'; the loss object already carries its settings.")
        return loss
    if loss == "huber":
        return Huber(1e-3 if delta is None else delta)
    if loss in ("squared", "mse", "l2"):
        if delta is not None:
            raise ValueError("delta applies to loss='huber' only; remove it for loss='squared'.")
        return Squared()
    raise ValueError(
        f"loss must be 'huber', 'squared' or a loss object such as jscale.Huber(delta) (with rho, irls_weight "
        f"and curvature methods); got {loss!r}."
    )


def objective(law, loss, theta, problem):
    """F(theta) for one dataset: `problem` holds `log_x`, `log_loss` (R,) and `weight` (R,)."""
    r = problem["log_loss"] - law.log_predict(theta, problem["log_x"])
    return pairwise_sum(problem["weight"] * loss.rho(r))
