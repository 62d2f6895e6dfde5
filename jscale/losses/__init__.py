"""Losses of residuals for `jscale.fit(..., loss=...)`: the protocol and the built-in losses.

A loss is a frozen, hashable object with three elementwise methods written with jax.numpy:
`rho(r)` (the loss, >= 0), `irls_weight(r)` (psi(r)/r with psi = rho', >= 0) and `curvature(r)`
(rho'' >= 0). The residual r is log y - log prediction (`residual="log"`, the default) or
y - prediction (`residual="raw"`), y the target column; the objective is sum_i w_i rho(r_i).
`check_loss(loss)` says which rule a loss breaks; `jscale.fit` runs it on every loss object that
is not one of the built-in ones.

Example, an absolute error that penalises over-prediction ten times as much, smoothed within
1e-4 of zero so the solver has curvature:

    >>> import jax.numpy as jnp, jscale
    >>> loss = jscale.losses.Asymmetric(over=10.0, under=1.0, delta=1e-4)
    >>> [round(float(loss.rho(jnp.asarray(r)) / loss.delta), 6) for r in (-0.01, 0.01)]  # ~ weight x |r|
    [0.0995, 0.00995]

A custom loss, e.g. Cauchy's rho(r) = c^2/2 log(1 + (r/c)^2):

    >>> import dataclasses
    >>> @dataclasses.dataclass(frozen=True)
    ... class Cauchy:
    ...     c: float = 1e-2
    ...     def rho(self, r): return 0.5 * self.c**2 * jnp.log1p((r / self.c) ** 2)
    ...     def irls_weight(self, r): return 1 / (1 + (r / self.c) ** 2)
    ...     def curvature(self, r): return jnp.maximum((1 - (r / self.c) ** 2) / (1 + (r / self.c) ** 2) ** 2, 0.0)
    >>> jscale.losses.check_loss(Cauchy())  # passes silently
"""

from jscale.losses._losses import Asymmetric as Asymmetric
from jscale.losses._losses import Huber as Huber
from jscale.losses._losses import Squared as Squared
from jscale.losses._losses import check_loss as check_loss

__all__ = ["Asymmetric", "Huber", "Squared", "check_loss"]
