"""The batching layer: the one place that knows batch axes.

It maps the single-fit kernel (`jscale._solve`) over starts with one of three strategies:

* ``"refill"`` (default): a fixed number of slots step in lock step inside one
  `lax.while_loop`; when a fit finishes, its result is written out and its slot takes the next
  start. When no starts are left the slots still running are compacted into a batch a quarter the
  size, and so on, so finished members cost (almost) nothing. A plain vmapped `while_loop` runs
  every member until the slowest stops, which on the Chinchilla grid wastes most of the work.
* ``"vmap"``: one vmapped `while_loop` over all starts (simple; the reference for tests).
* ``"map"``: `lax.map` over starts, `batch_size` at a time (vmap inside each chunk).

All strategies return every start's outcome (end point, objective, status, steps) along a
leading (S,) axis.
They agree per start to rounding, not bit for bit: XLA compiles the row sums differently at
different batch widths, and trajectories that part at rounding level can end at different
points of a flat minimum (tests/test_batch.py gives the measured agreement).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from jscale._solve import RUNNING, solve_one, with_floor

METHODS = ("refill", "vmap", "map")

# Slot counts measured on a 2-core CPU (Chinchilla grid, 240 rows): 256-512 slots were fastest,
# 128 and 768 about 15-25% slower. Accelerators want far wider batches (not yet measured).
_DEFAULT_BATCH = {"cpu": 256}
_DEFAULT_BATCH_ACCELERATOR = 8192
_MIN_SLOTS = 8


def default_batch_size(backend: str | None = None) -> int:
    """Default number of slots (refill) or chunk size (map) for a JAX backend."""
    backend = backend or jax.default_backend()
    return _DEFAULT_BATCH.get(backend, _DEFAULT_BATCH_ACCELERATOR)


def run_starts(solver, law, loss, x0s, problem, *, method: str, batch_size: int, n_devices: int = 1):
    """Runs the kernel from every row of `x0s` (S, P); returns every start's outcome.

    The outcome is a dict of x (S, P), f (S,), status (S,) and steps (S,).

    With `n_devices` > 1 the starts are split evenly over the first `n_devices` local devices
    (padded by repeating the last start), each device running `method` on its share.
    """
    if n_devices > 1:
        return _sharded(solver, law, loss, x0s, problem, method, batch_size, n_devices)
    if "f_floor" not in problem:
        problem = with_floor(loss, problem)
    n_starts = x0s.shape[0]
    if method == "vmap":
        return outcome(jax.vmap(lambda x0: solve_one(solver, law, loss, x0, problem))(x0s))
    if method == "map":
        return jax.lax.map(lambda x0: outcome(solve_one(solver, law, loss, x0, problem)), x0s,
                           batch_size=min(batch_size, n_starts))
    if method == "refill":
        return _refill(solver, law, loss, x0s, problem, min(batch_size, n_starts))
    raise ValueError(f"method must be one of {METHODS}; got {method!r}.")


def outcome(state) -> dict:
    """The fields of a final solver state the results keep: x, f, status, steps (any solver)."""
    return {"x": state.x, "f": state.f, "status": state.status, "steps": state.steps}


def _where(mask, new, old):
    return jax.tree.map(lambda n, o: jnp.where(mask.reshape(mask.shape + (1,) * (n.ndim - 1)), n, o), new, old)


def _refill(solver, law, loss, x0s, problem, n_slots):
    n_starts = x0s.shape[0]
    init = jax.vmap(solver.init)
    step = jax.vmap(lambda s: solver.step(s, law, loss, problem))
    slots = init(x0s[:n_slots])
    # Every start's outcome; a finished fit's fields are scattered in by start index. Only the
    # outcome is kept, not the whole solver state, to keep the per-step scatter small.
    out = jax.tree.map(lambda a: jnp.zeros((n_starts,) + a.shape[1:], a.dtype), outcome(slots))
    idx = jnp.arange(n_slots)  # start held by each slot; n_starts marks an empty slot
    nxt = jnp.asarray(n_slots)  # next start to hand out

    sizes = [n_slots]
    while sizes[-1] // 4 >= _MIN_SLOTS:
        sizes.append(sizes[-1] // 4)

    def body(carry):
        slots, idx, nxt, out = carry
        slots = step(slots)
        done = slots.status != RUNNING
        target = jnp.where(done, idx, n_starts)  # out-of-range index: the write is dropped
        out = jax.tree.map(lambda o, s: o.at[target].set(s, mode="drop"), out, outcome(slots))
        new = nxt + jnp.cumsum(done) - 1
        take = done & (new < n_starts)
        idx = jnp.where(done, jnp.where(take, new, n_starts), idx)
        slots = _where(take, init(x0s[jnp.minimum(new, n_starts - 1)]), slots)
        return slots, idx, nxt + jnp.sum(take), out

    for k, size in enumerate(sizes):
        if k > 0:  # compact: running slots first, keep `size` of them
            order = jnp.argsort(idx >= n_starts, stable=True)[:size]
            slots = jax.tree.map(lambda a: a[order], slots)
            idx = idx[order]
        following = sizes[k + 1] if k + 1 < len(sizes) else 0

        def cond(carry, following=following):
            _, idx, nxt, _ = carry
            return (nxt < n_starts) | (jnp.sum(idx < n_starts) > following)

        slots, idx, nxt, out = jax.lax.while_loop(cond, body, (slots, idx, nxt, out))
    return out


def _sharded(solver, law, loss, x0s, problem, method, batch_size, n_devices):
    from jax.sharding import Mesh, PartitionSpec

    n_starts = x0s.shape[0]
    per_device = -(-n_starts // n_devices)
    pad = per_device * n_devices - n_starts
    if pad:
        x0s = jnp.concatenate([x0s, jnp.repeat(x0s[-1:], pad, axis=0)])
    mesh = Mesh(np.array(jax.local_devices()[:n_devices]), ("starts",))

    def local(x0_shard, problem):
        return run_starts(solver, law, loss, x0_shard, problem, method=method, batch_size=batch_size)

    out = jax.shard_map(
        local, mesh=mesh, in_specs=(PartitionSpec("starts"), PartitionSpec()),
        out_specs=PartitionSpec("starts"), check_vma=False,
    )(x0s, problem)
    return jax.tree.map(lambda a: a[:n_starts], out)
