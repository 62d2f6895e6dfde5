"""Float64 scope and dtype-aware tolerances.

jscale never changes JAX's global configuration at import: public entry points run their
computation inside `x64_scope()`, so fits are float64 whatever the caller enabled.
"""

from __future__ import annotations

import contextlib

import jax
import jax.numpy as jnp
import numpy as np

from jscale.base._notice import inside_call

if hasattr(jax, "enable_x64"):  # jax >= 0.4.36 exposes the context manager at top level.
    _enable_x64 = jax.enable_x64
else:  # pragma: no cover - older jax
    from jax.experimental import enable_x64 as _enable_x64


@contextlib.contextmanager
def x64_scope():
    """Runs the enclosed JAX code in float64 without touching the global config (and lets the
    first compilation of the process say so on stderr, `jscale.base._notice`)."""
    with _enable_x64(True), inside_call():
        yield


def eps(dtype=np.float64) -> float:
    """Machine epsilon of `dtype` (2.2e-16 for float64)."""
    return float(np.finfo(dtype).eps)


def read_only(array) -> np.ndarray:
    """A read-only NumPy copy of an array (results are immutable)."""
    out = np.array(array)
    out.flags.writeable = False
    return out


def pairwise_sum(x):
    """Sum over the leading axis of `x` in a fixed pairwise order, whatever the batch width.

    XLA picks the summation order of a fused reduction from the whole operand's shape, so under
    `vmap` the same row sum can round differently at different batch widths (on CPU, a (16, R)
    batch and a (256, R) batch part in the last bit). Written as halving additions of slices,
    every lane adds the same numbers in the same order, so a fit's objective, and with it its
    whole trajectory, is the same however many fits share the batch or the device.
    """
    n = x.shape[0]
    size = 1 << max(0, (n - 1).bit_length())
    if size != n:  # zeros add exactly
        x = jnp.concatenate([x, jnp.zeros((size - n,) + x.shape[1:], x.dtype)])
    while x.shape[0] > 1:
        half = x.shape[0] // 2
        x = x[:half] + x[half:]
    return x[0]


# XLA's CPU backend gives an operation with at least this many elements (in an operand or its
# result) to YNNPACK (`IsInstructionPreferredByYnn` in xla/backends/cpu/ynn_support.cc, jaxlib
# 0.10), whose sums round differently from XLA's own.
_YNN_MIN_ELEMENTS = 4096


def ynn_at_every_width(n_terms: int) -> bool:
    """Whether a sum of `n_terms` per fit goes to YNNPACK at every batch width under `vmap`: it
    does once a batch of 2 fits (the narrowest the batching layer runs) reaches its threshold.
    Below, a wider batch's sum would go and a narrower one's not, and the two would round apart."""
    return 2 * n_terms >= _YNN_MIN_ELEMENTS


def last_axis_sum(x):
    """`jnp.sum(x, axis=-1)`, rounded alike at every batch width of 2 or more under `vmap`.

    Where every batch's sum goes to YNNPACK (`ynn_at_every_width`), the plain sum. Below, the
    terms are added in `pairwise_sum`'s fixed order (a product with a vector of ones is no cure:
    XLA folds the batch into the rows of one matrix-vector product, whose rounding then depends
    on the row count).
    """
    if ynn_at_every_width(x.size):
        return jnp.sum(x, axis=-1)
    return pairwise_sum(jnp.moveaxis(x, -1, 0))


# fdlibm's e_log.c: ln 2 split in two, and the minimax coefficients of its polynomial in s^2.
_LN2_HI, _LN2_LO = 6.93147180369123816490e-01, 1.90821492927058770002e-10
_LG = (6.666666666666735130e-01, 3.999999999940941908e-01, 2.857142874366239149e-01, 2.222219843214978396e-01,
       1.818357216161805012e-01, 1.531383769920937332e-01, 1.479819860511658591e-01)
_SMALLEST_NORMAL = 2.2250738585072014e-308


@jax.custom_jvp
def log(x):
    """The natural logarithm, for float64 arrays in a form XLA vectorises on a CPU.

    XLA's own float64 log costs about five times its float32 one on a CPU (a third of a
    Chinchilla step's time went to it); this is fdlibm's algorithm (error below 1 ulp) written
    in array operations: x = 2^k (1 + f) with sqrt(1/2) <= 1 + f < sqrt(2) read off the bits,
    then log(1 + f) = 2 atanh(s), s = f / (2 + f), by a degree-14 polynomial. Zero and
    subnormals give -inf (as `jnp.log` does under XLA, which flushes subnormals to zero), +inf
    gives +inf, negatives and NaN give NaN. The derivative is 1/x (`custom_jvp`). Other float
    types use `jnp.log`.
    """
    if x.dtype != jnp.float64:
        return jnp.log(x)
    bits = jax.lax.bitcast_convert_type(x, jnp.int64)
    exponent = (bits >> 52) - 1023
    m = jax.lax.bitcast_convert_type((bits & 0x000FFFFFFFFFFFFF) | 0x3FF0000000000000, jnp.float64)
    big = m > 1.4142135623730951
    f = jnp.where(big, 0.5 * m, m) - 1.0
    k = (exponent + big).astype(jnp.float64)
    s = f / (2.0 + f)
    z = s * s
    w = z * z
    r = z * (_LG[0] + w * (_LG[2] + w * (_LG[4] + w * _LG[6]))) + w * (_LG[1] + w * (_LG[3] + w * _LG[5]))
    half_f2 = 0.5 * f * f
    out = k * _LN2_HI - ((half_f2 - (s * (half_f2 + r) + k * _LN2_LO)) - f)
    special = jnp.where((x >= 0) & (x < _SMALLEST_NORMAL), -jnp.inf, jnp.where(x == jnp.inf, jnp.inf, jnp.nan))
    return jnp.where((x >= _SMALLEST_NORMAL) & (x < jnp.inf), out, special)


@log.defjvp
def _log_jvp(primals, tangents):
    (x,), (dx,) = primals, tangents
    return log(x), dx / x


def bucket(n: int, per_octave: int = 4) -> int:
    """The smallest size >= n of the form m * 2^k with per_octave <= m < 2 * per_octave (at least
    2 * per_octave): padding to it costs at most 1 / per_octave of n, and there are `per_octave`
    sizes per doubling."""
    size, step = 2 * per_octave, 2
    while size < n:
        size += step
        if size == 4 * per_octave * step // 2:
            step *= 2
    return size


def pad_repeating(a, size: int) -> np.ndarray:
    """`a` padded along its first axis to `size` by repeating its last entry (NumPy)."""
    a = np.asarray(a)
    return np.concatenate([a, np.repeat(a[-1:], size - len(a), axis=0)])


def jacobian_and_value(fn, x):
    """(d fn / dx, fn(x)) by forward mode: the value rides along as the Jacobian's primal, so fn
    is traced once (`jax.jacfwd` of fn, then fn again, would trace it twice)."""
    return jax.jacfwd(lambda z: (fn(z),) * 2, has_aux=True)(x)
