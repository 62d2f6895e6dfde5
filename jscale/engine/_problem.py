"""The problem a fit solves, built once per dataset: the law's inputs, the target, the weights.

A `Problem` holds, for R rows, the law's inputs `x` (its columns in the law's space: logs for
the built-in forms, values and integer codes for custom laws), the target `y` in residual space
(log y for `residual="log"`, y for `"raw"`), the row weights and the objective floor, with the
law, the loss and the residual kind as static metadata. The kernel reads nothing else:

    r_i = y_i - m_i(theta),   m = law.log_predict (log residuals) or law.predict (raw),
    F(theta) = sum_i w_i rho(r_i).

Problems of several datasets stack along a leading axis, each padded to the longest with rows
of weight 0 (`stack`); a bootstrap replaces the weights (or the targets) per resample.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from jscale.base._numerics import jacobian_and_value, pairwise_sum, x64_scope
from jscale.base._text import closest
from jscale.data._data import ScalingData, check_column
from jscale.losses._losses import objective_floor

RESIDUALS = ("log", "raw")


class Problem(struct.PyTreeNode, kw_only=True):
    """One weighted dataset as the kernel sees it (every leaf gains leading axes when batched).

    Attributes:
        x: the law's inputs, column -> (R,).
        y: the target in residual space, (R,).
        weight: row weights, (R,) (0 for padding rows).
        floor: objective of residuals at the data's rounding level (scalar).
        law, loss, residual: static: the law, the loss object, "log" or "raw".
    """

    x: dict
    y: Any
    weight: Any
    floor: Any
    law: Any = struct.field(pytree_node=False)
    loss: Any = struct.field(pytree_node=False)
    residual: str = struct.field(pytree_node=False, default="log")

    def model(self, theta, x=None):
        """The law in residual space at free parameters `theta` (P,): log prediction or prediction."""
        x = self.x if x is None else x
        return self.law.log_predict(theta, x) if self.residual == "log" else self.law.predict(theta, x)

    def residuals(self, theta):
        return self.y - self.model(theta)

    def objective(self, theta):
        """F(theta) = sum_i w_i rho(r_i), summed in a fixed order (see `pairwise_sum`)."""
        return pairwise_sum(self.weight * self.loss.rho(self.residuals(theta)))

    def with_floor(self):
        """This problem with its floor recomputed for its weights and targets."""
        return self.replace(floor=objective_floor(self.loss, self.y, self.weight))


# One program each rather than a handful of one-operation ones (each compiled on first use).
_floor = jax.jit(objective_floor, static_argnums=0)


@jax.jit
def model_at(problem: Problem, theta):
    """`problem.model(theta)`, compiled: the law in residual space at free parameters `theta`."""
    return problem.model(theta)


def check_residual(residual) -> str:
    if residual not in RESIDUALS:
        raise ValueError(f"residual must be 'log' (residuals of log values, the default) or 'raw' (of the values "
                         f"themselves); got {residual!r}.")
    return residual


def check_target(data: ScalingData, target, residual: str) -> None:
    """The fitted column exists, is numeric, finite and, for log residuals, positive."""
    if not isinstance(target, str):
        raise TypeError(f"target must be the name of a data column, e.g. 'loss'; got {type(target).__name__}.")
    if target not in data.columns:
        raise ValueError(
            f"The data has no column {target!r} to fit{closest(target, data.columns)}; its columns are "
            f"{', '.join(data.columns)}. Pass target='<column>' to fit another column, or name the loss column with "
            "columns={'loss': '<header>'}."
        )
    who = "A fit of log residuals (residual='log')" if residual == "log" else "The fit"
    check_column(data, target, positive=residual == "log", who=who)


def natural_columns(law, data: ScalingData) -> dict:
    """The law's columns of `data` in natural units (NumPy): numbers, or int32 codes of categorical
    columns."""
    return {c: (data.codes(c)[1] if c in data.categorical else np.asarray(data[c])) for c in law.columns}


def build(law, loss, data: ScalingData, *, target: str = "loss", residual: str = "log") -> Problem:
    """The problem of one dataset, NumPy leaves (float64; codes int32)."""
    weight = np.ones(len(data)) if data.weight is None else np.asarray(data.weight, np.float64)
    y = np.asarray(data[target], np.float64)
    y = np.log(y) if residual == "log" else y
    x = law.inputs(natural_columns(law, data))
    with x64_scope():
        floor = np.asarray(_floor(loss, jnp.asarray(y), jnp.asarray(weight)))
    return Problem(x=x, y=y, weight=weight, floor=floor, law=law, loss=loss, residual=residual)


# Float types below float64: a law computing in one of them loses the fit's precision.
_NARROW = frozenset(np.dtype(t) for t in (np.float16, np.float32, np.complex64, jnp.bfloat16))


def narrow_float(jaxpr) -> str | None:
    """Where a traced function holds or computes a float narrower than float64 (a constant it
    closes over, or an operation's result, in nested programs too), or None."""
    for v in jaxpr.constvars:
        if v.aval.dtype in _NARROW:
            return f"a {v.aval.dtype} array of shape {v.aval.shape} that it closes over"
    for eqn in jaxpr.eqns:
        for v in eqn.outvars:
            if getattr(v.aval, "dtype", None) in _NARROW:
                return f"`{eqn.primitive}`, which computes in {v.aval.dtype}"
        for param in eqn.params.values():
            for sub in param if isinstance(param, (tuple, list)) else (param,):
                inner = getattr(sub, "jaxpr", sub)  # a ClosedJaxpr holds its Jaxpr
                found = narrow_float(inner) if hasattr(inner, "eqns") else None
                if found:
                    return found
    return None


def check_law_function(law, data: ScalingData, residual: str) -> None:
    """A law whose function is the user's (not a built-in form), traced once without computing
    (`jax.make_jaxpr`): an error inside it, an output that is not one number per row, or a
    computation in float32 (an array made with jax.numpy while float64 was off, closed over by
    the function) is reported as the law's fault before anything is compiled."""
    x = law.inputs(natural_columns(law, data))
    model = law.log_predict if residual == "log" else law.predict
    n_rows = len(data)
    try:
        with x64_scope():
            traced = jax.make_jaxpr(model)(jax.ShapeDtypeStruct((law.n_free,), np.float64),
                                           {c: jax.ShapeDtypeStruct(np.shape(v), np.asarray(v).dtype)
                                            for c, v in x.items()})
            (out,) = traced.out_avals
    except Exception as err:  # noqa: BLE001 - whatever the user's function raises
        first = str(err).strip().splitlines()[0] if str(err).strip() else "no message"
        raise ValueError(f"The {law.name} law's function fails on {n_rows} rows of the columns "
                         f"{', '.join(law.columns)} ({type(err).__name__}: {first}). It must map params (name -> "
                         f"scalar) and inputs (column -> ({n_rows},) array) to ({n_rows},) predictions with "
                         "jax.numpy.") from None
    if not hasattr(out, "shape") or tuple(out.shape) != (n_rows,):
        shape = tuple(out.shape) if hasattr(out, "shape") else type(out).__name__
        raise ValueError(f"The {law.name} law's function returns shape {shape} for {n_rows} rows; it must return one "
                         f"prediction per row, shape ({n_rows},) (broadcast scalars against an input column).")
    narrow = narrow_float(traced.jaxpr)
    if narrow:
        raise ValueError(
            f"The {law.name} law's function computes below float64: {narrow}. jscale fits in float64, and a "
            "float32 step loses about 8 of its 16 digits (an objective that stops far from the optimum). An array "
            "made with jax.numpy while JAX's float64 mode is off (its default) is float32: build such arrays with "
            "NumPy instead (np.asarray(values, dtype=np.float64)), which the fit reads in float64.")


def stack(problems: list, size: int | None = None) -> Problem:
    """Problems of one law and loss stacked along a leading axis (NumPy), each padded to `size`
    rows (default: the longest) with rows of weight 0 (copies of its first row, so every input
    stays valid)."""
    size = max(len(p.y) for p in problems) if size is None else size

    def pad(a, fill=None):
        a = np.asarray(a)
        extra = np.repeat(a[:1], size - len(a)) if fill is None else np.full(size - len(a), fill, a.dtype)
        return np.concatenate([a, extra])

    first = problems[0]
    return first.replace(
        x={c: np.stack([pad(p.x[c]) for p in problems]) for c in first.x},
        y=np.stack([pad(p.y) for p in problems]),
        weight=np.stack([pad(p.weight, 0.0) for p in problems]),
        floor=np.stack([np.asarray(p.floor) for p in problems]),
    )


def to_device(problem: Problem) -> Problem:
    """The problem's leaves as JAX arrays (call inside `x64_scope`)."""
    return jax.tree.map(jnp.asarray, problem)


def curvature_terms(theta, problem):
    """The sums the curvature covariances need, at free parameters `theta` (P,) of a `Problem`.

    Returns a dict: gradient (P,) and hessian (P, P) of F; score_cov (P, P) = sum_i w_i psi_i^2 J_i J_i^T;
    sum_psi2, sum_dpsi, sum_r2 and sum_w (scalars).
    """
    hessian, gradient = jacobian_and_value(jax.grad(problem.objective), theta)
    jac = jax.jacfwd(problem.model)(theta)
    r = problem.residuals(theta)
    w = problem.weight
    loss = problem.loss
    psi = r * loss.irls_weight(r)
    return {
        "gradient": gradient,
        "hessian": hessian,
        "score_cov": (jac * (w * psi**2)[:, None]).T @ jac,
        "sum_psi2": jnp.sum(w * psi**2),
        "sum_dpsi": jnp.sum(w * loss.curvature(r)),
        "sum_r2": jnp.sum(w * r**2),
        "sum_w": jnp.sum(w),
    }
