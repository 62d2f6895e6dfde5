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
