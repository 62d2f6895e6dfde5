"""Uncertainty: curvature-based covariances, bootstrap interval methods, and when not to trust them.

Curvature (asymptotic) covariances of an M-estimator theta minimising F = sum_i w_i rho(r_i)
(Huber 1981, ch. 7), in the free parametrisation (r_i the residuals in the fit's residual space,
J_i = d m_i / d theta the Jacobian of the law in that space):

* ``"sandwich"`` (robust, the default): H^-1 S H^-1 * n/(n - P), with H the autodiff Hessian of F
  at the optimum and S = sum_i w_i psi(r_i)^2 J_i J_i^T the spread of the per-row scores. It
  does not assume the loss is a likelihood.
* ``"hessian"``: c H^-1 with c = [sum_i w_i psi(r_i)^2 / (n - P)] / [sum_i w_i psi'(r_i) / n]
  (Huber's classical form; for squared error it is s^2 H^-1, the usual least-squares covariance).

n is the total weight (the number of rows for unweighted data) and P the number of parameters.
Natural-unit covariances and derived quantities follow by the delta method. With a Huber loss
and a small delta only the rows inside delta carry curvature, so both forms rest on those few
rows: prefer the bootstrap for reported intervals.
"""

from __future__ import annotations

import functools
import hashlib
import statistics

import jax
import jax.numpy as jnp
import numpy as np

from jscale.base._interval import Interval
from jscale.base._numerics import bucket, jacobian_and_value, pad_repeating, x64_scope
from jscale.base._text import closest
from jscale.engine._solve import SUCCESS
from jscale.laws._laws import padded_points

COVARIANCES = ("sandwich", "hessian")
BOOTSTRAP_METHODS = ("percentile", "bca", "basic")

# |correlation| above which two parameters are reported as strongly correlated.
CORRELATION_WARNING = 0.99
# A parameter within this distance (relative, at least absolute) of a finite bound is at the bound.
BOUND_TOL = 1e-6


# --- curvature ---------------------------------------------------------------------------------


def free_covariance(terms: dict, covariance: str, *, pseudo_inverse: bool = False) -> np.ndarray | None:
    """Covariance (P, P) of the free parameters, or None where the Hessian is not positive definite
    (with `pseudo_inverse`, only where it is not finite: a singular one is pseudo-inverted, e.g. for
    a parameter at a bound, whose direction moves no prediction)."""
    h = np.asarray(terms["hessian"], np.float64)
    p = h.shape[0]
    n = float(terms["sum_w"])
    h = 0.5 * (h + h.T)
    eig = np.linalg.eigvalsh(h) if np.all(np.isfinite(h)) else np.array([np.nan])
    if n <= p:
        raise ValueError(
            f"Curvature intervals treat row weights as frequency weights, so their sum ({n:g}) counts the "
            f"observations; it must exceed the {p} parameters. Scale the weights so that they sum to the number of "
            "runs."
        )
    if not np.all(np.isfinite(eig)):
        return None
    if eig.min() <= 1e-12 * abs(eig).max():
        if not pseudo_inverse:
            return None
        h_inv = np.linalg.pinv(h, rcond=1e-10, hermitian=True)
    else:
        h_inv = np.linalg.inv(h)
    if covariance == "sandwich":
        cov = h_inv @ np.asarray(terms["score_cov"]) @ h_inv * (n / (n - p))
    elif covariance == "hessian":
        cov = h_inv * (float(terms["sum_psi2"]) / (n - p)) / (float(terms["sum_dpsi"]) / n)
    else:
        raise ValueError(f"covariance must be one of {', '.join(COVARIANCES)}; got {covariance!r}.")
    return 0.5 * (cov + cov.T)


def natural_jacobian(law, theta) -> np.ndarray:
    """d natural / d free at `theta` (P,): diagonal (exp(theta) for positive parameters, 1 for
    free ones, the logistic slope for bounded ones), by autodiff."""
    with x64_scope():
        return np.diag(np.asarray(_natural_slope(law, jnp.asarray(np.asarray(theta, np.float64)))))


@functools.partial(jax.jit, static_argnums=0)
def _natural_slope(law, theta):
    return jax.jvp(law.to_natural, (theta,), (jnp.ones_like(theta),))[1]


def function_jacobian(law, fn, theta):
    """Value and Jacobian (K, P) of fn(natural parameters as a name -> scalar dict) at free `theta`."""

    def g(t):
        nat = law.to_natural(t)
        return jnp.reshape(jnp.asarray(fn(dict(zip(law.param_names, (nat[i] for i in range(law.n_free)))))), (-1,))

    theta = jnp.asarray(theta, jnp.float64)
    return np.asarray(g(theta)), np.asarray(jax.jacfwd(g)(theta))


def normal_quantile(q: float) -> float:
    return statistics.NormalDist().inv_cdf(q)


def check_level(level) -> float:
    if isinstance(level, bool) or not isinstance(level, (int, float)) or not 0 < level < 1:
        raise ValueError(f"level must be a number in (0, 1), e.g. 0.95; got {level!r}.")
    return float(level)


# --- bootstrap intervals -------------------------------------------------------------------------


def bootstrap_interval(draws, estimate, jackknife, level: float, method: str):
    """Two-sided interval from bootstrap draws (B, K), the full-data estimate (K,) and, for BCa,
    leave-one-unit-out values (J, K). Returns (low, high), each (K,).

    percentile: the alpha/2 and 1 - alpha/2 quantiles of the draws. basic: those reflected about
    the estimate (2 estimate - q). bca: the quantiles at levels corrected for bias (z0, from the
    share of draws below the estimate) and skewness (the acceleration, from the jackknife)
    (Efron 1987; Efron & Tibshirani 1993, ch. 14).
    """
    alpha = 1 - level
    lo_q, hi_q = alpha / 2, 1 - alpha / 2
    if method == "percentile":
        low, high = np.quantile(draws, [lo_q, hi_q], axis=0)
        return low, high
    if method == "basic":
        low, high = np.quantile(draws, [lo_q, hi_q], axis=0)
        return 2 * estimate - high, 2 * estimate - low
    if method != "bca":
        raise ValueError(f"method must be one of {', '.join(BOOTSTRAP_METHODS)}; got {method!r}.")
    if jackknife is None or len(jackknife) < 2:
        raise ValueError(
            "BCa intervals need the jackknife fits, which this result does not hold; run jscale.bootstrap with "
            "jackknife=True (the default)."
        )
    n = draws.shape[0]
    below = (np.sum(draws < estimate, axis=0) + 0.5 * np.sum(draws == estimate, axis=0)) / n
    below = np.clip(below, 0.5 / n, 1 - 0.5 / n)
    z0 = np.array([normal_quantile(b) for b in np.atleast_1d(below)])
    dev = np.mean(jackknife, axis=0) - jackknife
    denom = 6 * np.sum(dev**2, axis=0) ** 1.5
    accel = np.where(denom > 0, np.sum(dev**3, axis=0) / np.where(denom > 0, denom, 1), 0.0)
    nd = statistics.NormalDist()
    out = []
    for q in (lo_q, hi_q):
        z = nd.inv_cdf(q)
        adj = z0 + (z0 + z) / (1 - accel * (z0 + z))
        levels = np.array([nd.cdf(a) for a in adj])
        out.append(np.array([np.quantile(draws[:, k], levels[k]) for k in range(draws.shape[1])]))
    return out[0], out[1]


# --- when not to trust an interval -----------------------------------------------------------------


def distinct_configurations(law, data) -> int:
    """Number of distinct rows of the columns the law reads (categorical ones by their codes)."""
    cols = np.stack([data.codes(c)[1] if c in data.categorical else np.asarray(data[c]) for c in law.columns], axis=1)
    return int(np.unique(cols, axis=0).shape[0])


def configurations_fingerprint(law, data, unit_of_row) -> str:
    """SHA-256 of every row's resampling unit and configuration (the law's columns; categorical
    ones by their labels), in row order: two bootstraps drawn with one key resample the same
    configurations together only where their fingerprints agree."""
    digest = hashlib.sha256(np.asarray(unit_of_row, np.int64).tobytes())
    for c in law.columns:
        values = np.asarray(data[c])
        if c in data.categorical:
            digest.update("\0".join(map(str, values)).encode())
        else:
            digest.update(values.astype(np.float64).tobytes())
    return digest.hexdigest()


def few_configurations(law, n_configs: int) -> list[str]:
    if n_configs < 2 * law.n_free:
        return [
            f"The data has {n_configs} distinct configurations of {', '.join(law.columns)}, fewer than twice the "
            f"{law.n_free} parameters of the {law.name} law: the intervals rest on too little data to be trusted."
        ]
    return []


def at_bound(law, values) -> np.ndarray:
    """(..., P) mask of natural parameter values at or beyond one of the law's bounds."""
    values = np.asarray(values, np.float64)
    low, high = (np.array(b, np.float64) for b in zip(*law.bounds))
    with np.errstate(invalid="ignore"):
        tol_low = BOUND_TOL * np.maximum(1.0, np.abs(np.where(np.isfinite(low), low, 0.0)))
        tol_high = BOUND_TOL * np.maximum(1.0, np.abs(np.where(np.isfinite(high), high, 0.0)))
        return (values <= low + tol_low) | (values >= high - tol_high)


def bound_messages(law, estimate, draws=None) -> list[str]:
    """Messages for parameters at a bound: at the estimate, or in a share of the draws."""
    out = []
    est = at_bound(law, estimate)
    share = np.mean(at_bound(law, draws), axis=0) if draws is not None and len(draws) else np.zeros(law.n_free)
    for k, name in enumerate(law.param_names):
        low, high = law.bounds[k]
        if est[k]:
            out.append(
                f"{name} = {float(np.asarray(estimate)[k]):.6g} is at its bound ({low}, {high}): its interval is "
                "one-sided at best and the other parameters' intervals are conditional on it."
            )
        elif share[k] > 0:
            out.append(f"{name} is at its bound ({low}, {high}) in {100 * share[k]:.1f}% of the bootstrap draws.")
    return out


def correlation_messages(names, corr) -> list[str]:
    """One message naming every pair with |correlation| above `CORRELATION_WARNING`, or none."""
    corr = np.asarray(corr)
    pairs = [
        f"{names[i]} and {names[j]} ({corr[i, j]:+.4f})"
        for i in range(len(names)) for j in range(i + 1, len(names))
        if np.isfinite(corr[i, j]) and abs(corr[i, j]) > CORRELATION_WARNING
    ]
    if not pairs:
        return []
    return [
        f"Strongly correlated parameters: {', '.join(pairs)}. Each is poorly determined alone although their "
        "combination is well determined; intervals of derived quantities (predictions, allocations) say more "
        "than separate parameter intervals."
    ]


def correlation(cov) -> np.ndarray:
    sd = np.sqrt(np.diag(cov))
    with np.errstate(invalid="ignore", divide="ignore"):
        return cov / np.outer(sd, sd)


# --- intervals of a fit (curvature) and of a bootstrap (draws) ----------------------------------------


def param_index(law, name: str) -> int:
    """Index of a parameter given by its natural or free name (e.g. "A" or "log_A")."""
    for names in (law.param_names, law.free_names):
        if name in names:
            return names.index(name)
    raise ValueError(
        f"The {law.name} law has parameters {', '.join(law.param_names)} (free: {', '.join(law.free_names)}); "
        f"got {name!r}{closest(name, law.param_names + law.free_names)}."
    )


def is_free_name(law, name: str) -> bool:
    return name in law.free_names and name not in law.param_names


def fit_free_covariance(result, covariance: str = "sandwich") -> np.ndarray:
    """(P, P) covariance of a FitResult's free parameters; NaN where the Hessian is singular
    (the fit's diagnostics say so, with `CurvatureWarning`)."""
    if covariance not in COVARIANCES:
        raise ValueError(f"covariance must be one of {', '.join(COVARIANCES)}; got {covariance!r}.")
    if result.curvature is None:
        raise ValueError("This FitResult holds no curvature terms (it was not made by jscale.fit).")
    cov = free_covariance(result.curvature, covariance)
    return np.full((result.law.n_free,) * 2, np.nan) if cov is None else cov


def natural_covariance(law, theta, free) -> np.ndarray:
    """Natural-unit covariance (P, P) from the free one by the delta method."""
    jac = natural_jacobian(law, theta)
    return jac @ free @ jac.T


def _shaped(values):
    """A scalar function's interval ends as floats, an array function's as arrays of its shape."""
    values = np.asarray(values)
    return float(values[0]) if values.size == 1 else values


def wald_interval(law, theta, free, name_or_function, level: float, log: bool = False):
    """Curvature-based interval of a parameter (Wald in its free coordinate, mapped to natural
    units) or of a function of the natural parameters (delta method, by autodiff; on log fn with
    `log=True`). `theta` (P,) free estimate, `free` (P, P) its covariance."""
    z = normal_quantile(0.5 + check_level(level) / 2)
    theta = np.asarray(theta, np.float64)
    if isinstance(name_or_function, str):
        k = param_index(law, name_or_function)
        half = z * np.sqrt(free[k, k])
        low, high = theta.copy(), theta.copy()
        low[k], high[k] = theta[k] - half, theta[k] + half
        if is_free_name(law, name_or_function):
            return Interval(float(low[k]), float(high[k]))
        return Interval(float(law.to_natural(low)[k]), float(law.to_natural(high)[k]))
    if not callable(name_or_function):
        raise TypeError(f"interval takes a parameter name or a function of the parameters; got {name_or_function!r}.")
    fn = name_or_function
    if log:
        def fn(p, f=name_or_function):
            return jnp.log(f(p))
    with x64_scope():
        value, jac = function_jacobian(law, fn, theta)
        if log and not np.all(np.isfinite(value)):
            raw = function_jacobian(law, name_or_function, theta)[0]
            raise ValueError(f"interval(fn, log=True) bands log fn, which needs fn > 0 at the estimate; fn is "
                             f"{_shaped(raw)} there. Use log=False for a quantity that can be zero or negative.")
    half = z * np.sqrt(np.einsum("kp,pq,kq->k", jac, free, jac))
    low, high = value - half, value + half
    if log:
        low, high = np.exp(low), np.exp(high)
    return Interval(_shaped(low), _shaped(high))


# --- a law's model at many points, compiled as one program per bucket of rows and draws ---------------
# (run eagerly, every operation of the law would compile on its own for every new shape; rows are
# padded as `predict_at` pads them)


@functools.partial(jax.jit, static_argnames=("model",))
def _model_draws(free, x, *, model):
    return jax.vmap(lambda t: model(t, x))(free)


@functools.partial(jax.jit, static_argnames=("model",))
def _model_jacobian(theta, x, *, model):
    return jacobian_and_value(lambda t: model(t, x), theta)


def model_value_and_jacobian(model, theta, x) -> tuple[np.ndarray, np.ndarray]:
    """`model(theta, x)` (R,) and its Jacobian (R, P) in theta: `model` a law's `log_predict` or
    `predict` (hashable: one program per law and bucket of rows)."""
    padded, n = padded_points(x)
    with x64_scope():
        jac, value = _model_jacobian(jnp.asarray(theta, jnp.float64), jax.tree.map(jnp.asarray, padded), model=model)
    return np.asarray(value)[:n], np.asarray(jac)[:n]


def model_interval(model, x, theta, free, level: float, extra_variance=0.0, exponentiate: bool = True):
    """Delta-method interval of a model's values (R,) at the points `x`: `model(theta, x) -> (R,)`
    in residual space (a law's `log_predict` or `predict`); exponentiated for log residuals."""
    z = normal_quantile(0.5 + check_level(level) / 2)
    value, jac = model_value_and_jacobian(model, theta, x)
    half = z * np.sqrt(np.einsum("rp,pq,rq->r", jac, free, jac) + extra_variance)
    low, high = value - half, value + half
    return (np.exp(low), np.exp(high)) if exponentiate else (low, high)


def on_draws(law, fn, free) -> np.ndarray:
    """fn(natural parameters as name -> scalar) on every row of `free` (B, P): (B, ...)."""
    if not callable(fn):
        raise TypeError(f"expected a function of the parameters (name -> value); got {fn!r}.")

    def one(theta):
        nat = law.to_natural(theta)
        return jnp.asarray(fn(dict(zip(law.param_names, (nat[i] for i in range(law.n_free))))))

    with x64_scope():
        return np.asarray(jax.vmap(one)(jnp.asarray(free, jnp.float64)))


def draws_interval(boot, values, level: float, method: str, transform=None):
    """Bootstrap interval of values(free (n, P)) -> (n, ...) over the converged draws of `boot`;
    `transform` maps the ends (e.g. exp for log-space values)."""
    level = check_level(level)
    if method not in BOOTSTRAP_METHODS:
        raise ValueError(f"method must be one of {', '.join(BOOTSTRAP_METHODS)}; got {method!r}.")
    ok = boot.draw_ok
    if not ok.any():
        raise ValueError("No bootstrap draw converged; intervals are undefined.")
    jk_ok = boot.jackknife_status == SUCCESS
    draws = values(boot.free_draws[ok])
    shape = draws.shape[1:]
    width = int(np.prod(shape)) if shape else 1
    estimate = values(np.asarray(boot.fit.end_params[boot.fit.best_index])[None])[0]
    jack = values(boot.jackknife_params[jk_ok]) if method == "bca" and jk_ok.any() else np.zeros((0,) + shape)
    low, high = bootstrap_interval(draws.reshape(len(draws), width), estimate.reshape(width),
                                   jack.reshape(len(jack), width), level, method)
    if transform is not None:
        low, high = transform(low), transform(high)
    if not shape:
        return Interval(float(low[0]), float(high[0]))
    return Interval(low.reshape(shape), high.reshape(shape))


def draws_of_param(boot, name: str):
    """values(free) for a parameter by natural or free name, as `draws_interval` takes."""
    k = param_index(boot.law, name)
    if is_free_name(boot.law, name):
        return lambda x: np.asarray(x)[..., k]
    return lambda x: np.asarray(boot.law.to_natural(np.asarray(x)))[..., k]


def model_on_draws(model, x):
    """values(free (n, P)) -> (n, R): `model(theta, x)` (a law's log_predict or predict) on every draw,
    one program per law and bucket of draws and rows."""
    padded, n_rows = padded_points(x)

    def values(free):
        free = np.asarray(free, np.float64)
        if not len(free):
            return np.zeros((0, n_rows))
        with x64_scope():
            out = _model_draws(jnp.asarray(pad_repeating(free, bucket(len(free)))),
                               jax.tree.map(jnp.asarray, padded), model=model)
        return np.asarray(out)[:len(free), :n_rows]

    return values
