"""Losses of residuals: the public protocol, the built-in losses and their registry.

The objective of a fit is  F(theta) = sum_i w_i rho(r_i),  with w_i the row weights and r_i the
residual of row i: r = log y - log f(x; theta) (`residual="log"`, the default) or r = y - f(x;
theta) (`residual="raw"`), y the target column. The **sum** (not the mean) follows Hoffmann et
al. 2022 and Besiroglu et al. 2024, so objective values compare directly with theirs; a mean has
the same minimiser.

The protocol. A loss is a frozen (hashable) object, since it is a static argument of the jitted
fits, with three elementwise methods written with jax.numpy:

* `rho(r)`: the loss, >= 0;
* `irls_weight(r)`: psi(r) / r with psi = rho' (so psi(r) = r * irls_weight(r)), >= 0: the weight of
  the quadratic majoriser the solver uses far from the optimum;
* `curvature(r)`: rho''(r) >= 0, the Gauss-Newton weight near the optimum.

A loss without curvature (a plain absolute error: rho'' = 0 almost everywhere) leaves the solver
no model to step with; smooth it near zero, as `Huber` and `Asymmetric` do. `check_loss` tests a
loss against these rules and says which one fails.
"""

from __future__ import annotations

import dataclasses
import numbers

import jax
import jax.numpy as jnp
import numpy as np

from jscale.base._numerics import x64_scope


def _check_positive(owner: str, name: str, value) -> None:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0 < value < float("inf"):
        raise ValueError(f"{owner} {name} must be a positive finite number; got {value!r}.")


def _huber(r, delta):
    a = jnp.abs(r)
    return jnp.where(a <= delta, 0.5 * r * r, delta * (a - 0.5 * delta))


def _huber_weight(r, delta):
    a = jnp.abs(r)
    return jnp.where(a <= delta, 1.0, delta / jnp.where(a <= delta, 1.0, a))


@dataclasses.dataclass(frozen=True)
class Huber:
    """Huber loss rho(r) = r^2/2 for |r| <= delta, delta (|r| - delta/2) beyond.

    Args:
        delta: the threshold, in units of the residual (1e-3 of log loss as in Hoffmann et al. 2022).
    """

    delta: float = 1e-3

    def __post_init__(self):
        _check_positive("Huber", "delta", self.delta)

    def rho(self, r):
        return _huber(r, self.delta)

    def irls_weight(self, r):
        """psi(r)/r, the weight of the quadratic majoriser at r (1 inside delta, delta/|r| beyond)."""
        return _huber_weight(r, self.delta)

    def curvature(self, r):
        """rho''(r): 1 inside delta, 0 beyond."""
        return (jnp.abs(r) <= self.delta).astype(r.dtype)


@dataclasses.dataclass(frozen=True)
class Squared:
    """Squared error rho(r) = r^2/2 (least squares)."""

    def rho(self, r):
        return 0.5 * r * r

    def irls_weight(self, r):
        return jnp.ones_like(r)

    def curvature(self, r):
        return jnp.ones_like(r)


@dataclasses.dataclass(frozen=True)
class Asymmetric:
    """A Huber loss weighted by the sign of the residual: `over` where the law over-predicts
    (prediction above the observation, r < 0), `under` where it under-predicts.

    With a small `delta` it is an asymmetric absolute error, smoothed within delta of zero so
    that the solver has curvature there: rho(r) = w(r) Huber_delta(r), w = over for r < 0, under
    for r >= 0. E.g. `Asymmetric(over=10)` penalises over-predicting the loss ten times as much.

    Args:
        over: weight of over-predictions (r < 0).
        under: weight of under-predictions (r >= 0).
        delta: half-width of the quadratic zone around 0, in units of the residual.
    """

    over: float = 1.0
    under: float = 1.0
    delta: float = 1e-3

    def __post_init__(self):
        for name in ("over", "under", "delta"):
            _check_positive("Asymmetric", name, getattr(self, name))

    def _side(self, r):
        return jnp.where(r < 0, self.over, self.under)

    def rho(self, r):
        return self._side(r) * _huber(r, self.delta)

    def irls_weight(self, r):
        return self._side(r) * _huber_weight(r, self.delta)

    def curvature(self, r):
        return self._side(r) * (jnp.abs(r) <= self.delta).astype(r.dtype)


# One registry of losses: names for `loss=` and classes for saved files.
LOSSES = {cls.__name__: cls for cls in (Huber, Squared, Asymmetric)}
_NAMES = {"huber": Huber, "squared": Squared, "mse": Squared, "l2": Squared, "asymmetric": Asymmetric}


def resolve_loss(loss, delta=None):
    """Turns the public `loss=`/`delta=` arguments into a checked loss object, or raises ValueError."""
    if isinstance(loss, str):
        cls = _NAMES.get(loss.lower())
        if cls is None:
            raise ValueError(
                f"loss must be 'huber', 'squared', 'asymmetric' or a loss object such as jscale.losses.Huber(delta) "
                f"(see jscale.losses); got {loss!r}."
            )
        if delta is not None and cls is Squared:
            raise ValueError("delta applies to the 'huber' and 'asymmetric' losses; remove it for loss='squared'.")
        return cls() if delta is None else cls(delta=delta)
    if delta is not None:
        raise ValueError("Pass delta only with a loss name ('huber'); the loss object already carries its settings.")
    if type(loss) not in LOSSES.values():
        check_loss(loss)
    return loss


# Residuals at which a loss is checked: both signs, tiny to large, away from 0.
_PROBES = np.concatenate([-np.logspace(-6, 1, 15), np.logspace(-6, 1, 15)]) * (1 + 1e-3 * np.arange(30))


def check_loss(loss) -> None:
    """Raises TypeError or ValueError, naming the rule, when `loss` breaks the loss protocol.

    Checked at residuals from 1e-6 to 10 of both signs: rho, irls_weight and curvature exist,
    are finite and >= 0; r * irls_weight(r) equals rho'(r) (by autodiff, where rho is smooth);
    the curvature is not zero everywhere; and the object is hashable.
    """
    missing = [m for m in ("rho", "irls_weight", "curvature") if not callable(getattr(loss, m, None))]
    if missing:
        raise TypeError(
            f"loss must be 'huber', 'squared', 'asymmetric' or an object with methods rho, irls_weight and "
            f"curvature (see jscale.losses); {type(loss).__name__} lacks {', '.join(missing)}."
        )
    try:
        hash(loss)
    except TypeError:
        raise TypeError(
            f"The loss {type(loss).__name__} is not hashable; make it a frozen dataclass (it is a static argument "
            "of the jitted fits)."
        ) from None
    name = type(loss).__name__
    with x64_scope():
        r = jnp.asarray(_PROBES)
        try:
            values = {m: np.asarray(getattr(loss, m)(r), np.float64) for m in ("rho", "irls_weight", "curvature")}
            slope = np.asarray(jax.vmap(jax.grad(loss.rho))(r))
        except Exception as err:  # noqa: BLE001 - any failure to evaluate is the user's to fix
            raise TypeError(f"The loss {name} could not be evaluated on a JAX array of residuals: {err}") from None
    for m, v in values.items():
        if v.shape != r.shape or not np.all(np.isfinite(v)) or np.any(v < 0):
            raise ValueError(f"The loss {name}: {m}(r) must be finite and >= 0, elementwise; it is not at some "
                             "residuals between 1e-6 and 10 in size.")
    psi = _PROBES * values["irls_weight"]
    ok = np.isclose(psi, slope, rtol=1e-6, atol=1e-12) | ~np.isfinite(slope)
    if np.mean(ok) < 0.9:  # a few probes may sit on a kink, where autodiff takes one side
        k = int(np.argmax(~ok))
        raise ValueError(
            f"The loss {name}: r * irls_weight(r) must equal rho'(r) (psi = r * irls_weight); at r = {_PROBES[k]:.3g} "
            f"it is {psi[k]:.6g} but rho' is {slope[k]:.6g}."
        )
    if not np.any(values["curvature"] > 0):
        raise ValueError(
            f"The loss {name} has zero curvature (rho'' = 0) at every residual tried: the solver has no quadratic "
            "model to step with and most starts stall. Smooth it near zero, e.g. jscale.losses.Huber(delta) or "
            "jscale.losses.Asymmetric(over, under, delta) for an (asymmetric) absolute error."
        )


def objective_floor(loss, y, weight):
    """Objective of residuals at the rounding level of the data, 64 eps (1 + |y|) per row (y the
    target in residual space). Below it, gaps between objectives are not resolved."""
    r = 64 * jnp.finfo(jnp.result_type(y)).eps * (1 + jnp.abs(y))
    return jnp.sum(weight * loss.rho(r))
