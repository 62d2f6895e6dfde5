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
They agree bit for bit, and a fit's outcome does not depend on which other fits share its batch
or its device: the kernel writes the sums whose rounding XLA would choose from the batch width
in a fixed order (`jscale._numerics.pairwise_sum`), and a batch is never narrower than two (a
batch of one compiles the small matrix products to other kernels).
"""

from __future__ import annotations

import os

import jax
import jax.numpy as jnp
import numpy as np

from jscale._solve import RUNNING, objective_floor, solve_one, with_floor

METHODS = ("refill", "vmap", "map")

# Slot counts measured on a 2-core CPU (Chinchilla grid, 240 rows): 256-512 slots were fastest,
# 128 and 768 about 15-25% slower. An accelerator wants far wider batches: each while-loop
# iteration costs kernel launches and a predicate read by the host, so the slots must carry
# enough work to hide them. 32,768 is an estimate, not yet measured on a GPU
# (benchmarks/bench_accelerator.py --batch-size sweeps it); its step temporaries are ~0.6 GB
# for 240 rows.
_DEFAULT_BATCH = {"cpu": 256}
_DEFAULT_BATCH_ACCELERATOR = 32768
_MIN_SLOTS = 8


def default_batch_size(backend: str | None = None) -> int:
    """Default number of slots (refill) or chunk size (map) for a JAX backend."""
    backend = backend or jax.default_backend()
    return _DEFAULT_BATCH.get(backend, _DEFAULT_BATCH_ACCELERATOR)


# Largest number of fits one jitted call takes, per backend, memory permitting: on CPU calls of
# ~65k fits (about 10 s of Chinchilla grid fits on one core) keep a progress bar moving; an
# accelerator wants as few calls as possible (each call ends with a tail of slow fits).
_MAX_FITS_PER_CALL = {"cpu": 1 << 16}
_MAX_FITS_PER_CALL_ACCELERATOR = 1 << 23
MEMORY_ENV = "JSCALE_MEMORY_BUDGET"


def memory_budget(device=None) -> int:
    """Bytes one jitted call may use on `device` (default: the first local device).

    `JSCALE_MEMORY_BUDGET` (bytes) if set; else a quarter of the memory the device has free
    (`memory_stats()` on accelerators, available RAM on CPU), so that other work fits beside it.
    """
    env = os.environ.get(MEMORY_ENV)
    if env:
        try:
            value = int(float(env))
        except ValueError:
            raise ValueError(f"{MEMORY_ENV} must be a number of bytes; got {env!r}.") from None
        if value <= 0:
            raise ValueError(f"{MEMORY_ENV} must be a positive number of bytes; got {env!r}.")
        return value
    device = device or jax.local_devices()[0]
    stats = device.memory_stats() if hasattr(device, "memory_stats") else None
    if stats and "bytes_limit" in stats:
        free = stats["bytes_limit"] - stats.get("bytes_in_use", 0)
    else:
        try:
            free = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        except (ValueError, OSError, AttributeError):  # not Linux: assume a modest 8 GiB
            free = 8 << 30
    return max(free // 4, 64 << 20)


def problems_per_call(n_starts: int, n_rows: int, n_params: int, *, n_slots: int, mesh=None) -> int:
    """How many problems (resamples or datasets) of `n_rows` rows one jitted call may fit from
    `n_starts` starts each, so that the call stays within `memory_budget()` and the backend's
    cap on fits per call.

    Per problem: its own row arrays (weights, log losses, columns; ~8 of length n_rows) and every
    start's outcome (x, f, status, steps), gathered to every device. Fixed: the solver slots and
    the temporaries of a step (rows x (params + 4) values per slot).
    """
    devices = list(mesh.devices.flat) if mesh is not None else jax.local_devices()
    here = jax.process_index()
    device = next(d for d in devices if d.process_index == here)
    per_problem = 8 * (8 * n_rows + n_starts * (n_params + 3))
    fixed = 8 * n_slots * (n_rows * (n_params + 4) + (n_params + 4) ** 2)
    by_memory = max(1, (memory_budget(device) - fixed) // per_problem)
    cap = _MAX_FITS_PER_CALL.get(device.platform, _MAX_FITS_PER_CALL_ACCELERATOR)
    size = int(max(1, min(by_memory, cap // n_starts)))
    if any(d.process_index != here for d in devices):
        # Every process must make the same calls: agree on the smallest size.
        from jax.experimental import multihost_utils

        size = int(np.min(multihost_utils.process_allgather(np.asarray(size, np.int32))))
    return size


def device_mesh(n_devices: int):
    """A one-axis mesh ("fits") of the first `n_devices` local devices."""
    from jax.sharding import Mesh

    return Mesh(np.array(jax.local_devices()[:n_devices]), ("fits",))


def run_starts(solver, law, loss, x0s, problem, *, method: str, batch_size: int, mesh=None, batched=None):
    """Runs the kernel from every row of `x0s` (S, P); returns every fit's outcome.

    The outcome is a dict of x, f, status and steps with leading (S,) axes, or (B, S) axes when
    `batched` is given.

    Args:
        solver, law, loss: the kernel's settings.
        x0s: (S, P) starts.
        problem: the arrays of one dataset (`log_x`, `log_loss`, `weight`, optionally `f_floor`).
        method: "refill", "vmap" or "map".
        batch_size: slots (refill) or chunk size (map).
        mesh: a `jax.sharding.Mesh`, or None for one device. The fits are split evenly over
            its devices (all axes together; padded by repeating the last fit), each running
            `method` on its share with `jax.shard_map`; the outcomes are gathered to every device,
            so every process of a multi-host mesh holds all of them.
        batched: optional dict of arrays with a leading (B,) axis that replace entries of
            `problem` per problem (e.g. bootstrap weights (B, R) and their floors (B,)). Every
            start then runs on every problem: B * S fits, ordered (problem, start).
    """
    n_starts = x0s.shape[0]
    if batched is None:
        if "f_floor" not in problem:
            problem = with_floor(loss, problem)
        n_problems = 1
    else:
        n_problems = jax.tree.leaves(batched)[0].shape[0]
        if "f_floor" not in batched:
            floors = jax.vmap(lambda b: objective_floor(loss, {**problem, **b}))(batched)
            batched = {**batched, "f_floor": floors}
    n_fits = n_problems * n_starts
    if mesh is not None and mesh.size > 1:
        out = _sharded(solver, law, loss, x0s, problem, batched, n_fits, method, batch_size, mesh)
    else:
        fits = jnp.arange(n_fits, dtype=jnp.int32)
        out = _run_fits(solver, law, loss, x0s, problem, batched, fits, method, batch_size)
    if batched is not None:
        out = jax.tree.map(lambda a: a.reshape((n_problems, n_starts) + a.shape[1:]), out)
    return out


def _fit_inputs(x0s, problem, batched):
    """The start and the problem of fit number `i` (fits are ordered (problem, start))."""
    n_starts = x0s.shape[0]

    def inputs(i):
        x0 = x0s[i % n_starts]
        if batched is None:
            return x0, problem
        return x0, {**problem, **jax.tree.map(lambda a: a[i // n_starts], batched)}

    return inputs


def _run_fits(solver, law, loss, x0s, problem, batched, fits, method, batch_size):
    """Every fit listed in `fits` (F,) on one device; outcome with a leading (F,) axis."""
    inputs = _fit_inputs(x0s, problem, batched)
    if fits.shape[0] == 1:  # a batch of one compiles to other kernels (matrix-vector products): pad
        return jax.tree.map(lambda a: a[:1], _run_fits(solver, law, loss, x0s, problem, batched,
                                                        jnp.concatenate([fits, fits]), method, batch_size))
    n_fits = fits.shape[0]

    def one(i):
        return outcome(solve_one(solver, law, loss, *inputs(i)))

    if method == "vmap":
        return jax.vmap(one)(fits)
    if method == "map":  # padded to whole chunks (a remainder of one would be a batch of one)
        size = min(batch_size, n_fits)
        padded = jnp.concatenate([fits, jnp.repeat(fits[-1:], -n_fits % size)])
        out = jax.lax.map(jax.vmap(one), padded.reshape(-1, size))
        return jax.tree.map(lambda a: a.reshape((-1,) + a.shape[2:])[:n_fits], out)
    if method == "refill":
        return _refill(solver, law, loss, inputs, fits, max(2, min(batch_size, n_fits)))
    raise ValueError(f"method must be one of {METHODS}; got {method!r}.")


def outcome(state) -> dict:
    """The fields of a final solver state the results keep: x, f, status, steps (any solver)."""
    return {"x": state.x, "f": state.f, "status": state.status, "steps": state.steps}


def _where(mask, new, old):
    return jax.tree.map(lambda n, o: jnp.where(mask.reshape(mask.shape + (1,) * (n.ndim - 1)), n, o), new, old)


def _refill(solver, law, loss, inputs, fits, n_slots):
    n_fits = fits.shape[0]

    def start(k):  # solver state for the k-th fit of `fits` (k clamped into range)
        return solver.init(inputs(fits[jnp.minimum(k, n_fits - 1)])[0])

    def step(state, k):
        return solver.step(state, law, loss, inputs(fits[jnp.minimum(k, n_fits - 1)])[1])

    init = jax.vmap(start)
    step = jax.vmap(step)
    slots = init(jnp.arange(n_slots))
    # Every fit's outcome; a finished fit's fields are scattered in by its position. Only the
    # outcome is kept, not the whole solver state, to keep the per-step scatter small.
    out = jax.tree.map(lambda a: jnp.zeros((n_fits,) + a.shape[1:], a.dtype), outcome(slots))
    idx = jnp.arange(n_slots)  # position (in `fits`) of the fit held by each slot; n_fits: empty
    nxt = jnp.asarray(n_slots)  # next position to hand out

    sizes = [n_slots]
    while sizes[-1] // 4 >= _MIN_SLOTS:
        sizes.append(sizes[-1] // 4)

    def body(carry):
        slots, idx, nxt, out = carry
        slots = step(slots, idx)
        done = slots.status != RUNNING
        target = jnp.where(done, idx, n_fits)  # out-of-range index: the write is dropped
        out = jax.tree.map(lambda o, s: o.at[target].set(s, mode="drop"), out, outcome(slots))
        new = nxt + jnp.cumsum(done) - 1
        take = done & (new < n_fits)
        idx = jnp.where(done, jnp.where(take, new, n_fits), idx)
        slots = _where(take, init(new), slots)
        return slots, idx, nxt + jnp.sum(take), out

    for k, size in enumerate(sizes):
        if k > 0:  # compact: running slots first, keep `size` of them
            order = jnp.argsort(idx >= n_fits, stable=True)[:size]
            slots = jax.tree.map(lambda a: a[order], slots)
            idx = idx[order]
        following = sizes[k + 1] if k + 1 < len(sizes) else 0

        def cond(carry, following=following):
            _, idx, nxt, _ = carry
            return (nxt < n_fits) | (jnp.sum(idx < n_fits) > following)

        slots, idx, nxt, out = jax.lax.while_loop(cond, body, (slots, idx, nxt, out))
    return out


def _sharded(solver, law, loss, x0s, problem, batched, n_fits, method, batch_size, mesh):
    """Device k of the mesh runs fits k*m ... (k+1)*m - 1 (m = ceil(n_fits / devices); the last
    device repeats the last fit as padding); the outcomes are gathered to every device."""
    from jax.sharding import PartitionSpec

    per_device = -(-n_fits // mesh.size)
    axes = tuple(mesh.axis_names)

    def local(x0s, problem, batched):
        first = jax.lax.axis_index(axes) * per_device
        fits = jnp.minimum(first + jnp.arange(per_device, dtype=jnp.int32), n_fits - 1)
        out = _run_fits(solver, law, loss, x0s, problem, batched, fits, method, batch_size)
        return jax.tree.map(lambda a: jax.lax.all_gather(a, axes, tiled=True), out)

    out = jax.shard_map(
        local, mesh=mesh, in_specs=(PartitionSpec(), PartitionSpec(), PartitionSpec()), out_specs=PartitionSpec(),
        check_vma=False,
    )(x0s, problem, batched)
    return jax.tree.map(lambda a: a[:n_fits], out)


# --- bootstrap resamples ------------------------------------------------------------------------
# A resample depends only on the key and its own index (`fold_in`), never on how the resamples
# are chunked or split over devices.


def resample_indices(key, index, n_units: int):
    """The `n_units` unit indices drawn with replacement for resample number `index`."""
    return jax.random.randint(jax.random.fold_in(key, index), (n_units,), 0, n_units)


def resample_counts(key, index, n_units: int):
    """Multiplicity (n_units,) of every unit in resample number `index`; they sum to n_units."""
    draw = resample_indices(key, index, n_units)
    return jnp.zeros(n_units, jnp.result_type(float)).at[draw].add(1.0)


def resampled_problems(key, indices, problem, *, unit: str, unit_of_row, n_units: int, fitted_log=None):
    """Per-resample problem entries for the resamples `indices` (B,), as `run_starts(batched=)` takes.

    unit "weights": every row's weight times the multiplicity of its unit (`unit_of_row` (R,)
    maps rows to units; for a row bootstrap it is arange(R)). unit "residual": the log losses
    `fitted_log + r[j]` with the log residuals r of the fit resampled with replacement.
    """
    if unit == "residual":
        resid = problem["log_loss"] - fitted_log
        draws = jax.vmap(lambda i: resample_indices(key, i, n_units))(indices)
        return {"log_loss": fitted_log + resid[draws]}
    counts = jax.vmap(lambda i: resample_counts(key, i, n_units))(indices)
    return {"weight": problem["weight"] * counts[:, unit_of_row]}
