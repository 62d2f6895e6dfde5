"""Law forms: parameter names, the free parametrisation, log-space prediction, default starts.

A law is a frozen, hashable object (it is a static argument of the jitted fits) that knows:

* `param_names`: the names of its natural parameters, e.g. ("E", "A", "B", "alpha", "beta");
* `positive`: which of them are positive; those are fitted as their logarithms, so the free
  vector `theta` (what the optimiser moves) is log E, log A, log B, alpha, beta for Chinchilla;
* `columns`: the data columns it reads (`n_params`, `n_tokens`, ...);
* `log_predict(theta, log_x)`: log L for every row, from the free vector and the logs of the
  columns (`log_x["n_params"]` is log N), evaluated in log space for numerical range;
* `default_starts()`: a (S, P) array of free-space starting points;
* `domain` (optional): natural-space (low, high) per parameter where the law is meaningful
  (default (0, inf) for positive parameters, unbounded otherwise); a fit at one of these
  bounds triggers a warning when intervals are computed.

New forms subclass `Law` and implement `log_predict` and `default_starts`; the engine uses
nothing else.
"""

from __future__ import annotations

import dataclasses
import itertools
from typing import ClassVar

import jax.numpy as jnp
import numpy as np


def log_sum_exp_offset(offset, *terms):
    """log(exp(offset) + sum_k exp(terms_k)), shifted by `offset`.

    The usual log-sum-exp shifts by the largest term, which costs a per-row maximum and its
    bookkeeping in every derivative. Scaling laws have a constant term (log E) that is one of the
    summands, so shifting by it is exact, needs no maximum, and overflows only when another term
    exceeds it by more than ~709 (far outside any fit; the objective is then non-finite and the
    optimiser rejects the step).
    """
    total = 1.0
    for t in terms:
        total = total + jnp.exp(t - offset)
    return offset + jnp.log(total)


@dataclasses.dataclass(frozen=True)
class Law:
    """Base class of scaling-law forms (see the module docstring for the contract)."""

    name: ClassVar[str] = "law"
    param_names: ClassVar[tuple[str, ...]] = ()
    positive: ClassVar[tuple[bool, ...]] = ()
    columns: ClassVar[tuple[str, ...]] = ()
    domain: ClassVar[tuple[tuple[float, float], ...]] = ()

    @property
    def bounds(self) -> tuple[tuple[float, float], ...]:
        """Natural-space (low, high) of every parameter (`domain`, or the default from `positive`)."""
        if self.domain:
            return tuple((float(lo), float(hi)) for lo, hi in self.domain)
        return tuple((0.0, float("inf")) if p else (float("-inf"), float("inf")) for p in self.positive)

    @property
    def n_free(self) -> int:
        """Number of fitted parameters P."""
        return len(self.param_names)

    @property
    def free_names(self) -> tuple[str, ...]:
        """Names of the free coordinates: `log_<name>` for positive parameters."""
        return tuple(f"log_{n}" if p else n for n, p in zip(self.param_names, self.positive))

    def log_predict(self, theta, log_x):
        """Log of the predicted loss, shape (R,), from free parameters `theta` of shape (P,)."""
        raise NotImplementedError

    def default_starts(self) -> np.ndarray:
        """Default free-space starts, shape (S, P)."""
        raise NotImplementedError

    def to_natural(self, theta):
        """Free vector(s) (..., P) to natural parameters (exp of the positive ones)."""
        xp = jnp if not isinstance(theta, np.ndarray) else np
        pos = np.asarray(self.positive)
        return xp.where(pos, xp.exp(theta), theta)

    def to_free(self, values):
        """Natural parameters (..., P) to the free vector (log of the positive ones)."""
        values = np.asarray(values, dtype=np.float64)
        pos = np.asarray(self.positive)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(pos, np.log(np.where(pos, values, 1.0)), values)


@dataclasses.dataclass(frozen=True)
class Chinchilla(Law):
    """L(N, D) = E + A / N^alpha + B / D^beta (Hoffmann et al. 2022, arXiv:2203.15556, eq. 2).

    Symbols: N = `n_params`, D = `n_tokens`, L = `loss`. Evaluated in log space as
    log L = logsumexp(log A - alpha log N, log B - beta log D, log E), as in the replication by
    Besiroglu et al. 2024 (arXiv:2404.10102).

    Default starts are Hoffmann's grid: alpha, beta in {0, 0.5, 1, 1.5, 2}; log E in
    {-1, -0.5, 0, 0.5, 1}; log A, log B in {0, 5, ..., 25}: 4,500 starts.
    """

    name: ClassVar[str] = "chinchilla"
    param_names: ClassVar[tuple[str, ...]] = ("E", "A", "B", "alpha", "beta")
    positive: ClassVar[tuple[bool, ...]] = (True, True, True, False, False)
    columns: ClassVar[tuple[str, ...]] = ("n_params", "n_tokens")
    domain: ClassVar[tuple[tuple[float, float], ...]] = ((0.0, float("inf")),) * 5

    def log_predict(self, theta, log_x):
        log_e, log_a, log_b, alpha, beta = (theta[i] for i in range(5))
        log_n, log_d = log_x["n_params"], log_x["n_tokens"]
        return log_sum_exp_offset(log_e, log_a - alpha * log_n, log_b - beta * log_d)

    def default_starts(self) -> np.ndarray:
        exps = np.arange(0.0, 2.5, 0.5)
        log_e = np.arange(-1.0, 1.5, 0.5)
        log_ab = np.arange(0.0, 30.0, 5.0)
        grid = itertools.product(log_e, log_ab, log_ab, exps, exps)
        return np.array(list(grid), dtype=np.float64)

    @staticmethod
    def compute_optimal(params, compute):
        """Closed-form compute-optimal allocation under C = 6 N D (Hoffmann et al. 2022, eq. 4).

        Minimising E + A/N^alpha + B/D^beta subject to 6 N D = C gives
        N* = G (C/6)^a, D* = (C/6)^b / G with a = beta/(alpha+beta), b = alpha/(alpha+beta),
        G = (alpha A / (beta B))^(1/(alpha+beta)).

        Args:
            params: natural parameters, a mapping with E, A, B, alpha, beta.
            compute: training FLOP, scalar or array.

        Returns:
            (n_params, n_tokens, loss) at the optimum, arrays shaped like `compute`.
        """
        e, a_, b_, alpha, beta = (float(params[k]) for k in ("E", "A", "B", "alpha", "beta"))
        c = np.asarray(compute, dtype=np.float64) / 6.0
        g = (alpha * a_ / (beta * b_)) ** (1.0 / (alpha + beta))
        n = g * c ** (beta / (alpha + beta))
        d = c ** (alpha / (alpha + beta)) / g
        return n, d, e + a_ / n**alpha + b_ / d**beta
