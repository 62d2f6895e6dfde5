"""The batching layer: the one place that knows batch axes.

It owns the jitted entry points (`fit_problems`, `fit_in_chunks`, `curvature`), the padding
and stacking of datasets (through `jscale.engine._problem.stack`), the chunking of many problems into
calls that fit in memory, best-start selection (`best_start`) and the bootstrap's resamples.
Axes always come in the order (problem, start).

It maps the single-fit kernel (`jscale.engine._solve`) over starts with one of three strategies:

* ``"refill"`` (default): a fixed number of slots step in lock step inside one
  `lax.while_loop`; when a fit finishes, its result is written out and its slot takes the next
  start, so finished members cost nothing until the last few fits run alone. A plain vmapped
  `while_loop` runs every member until the slowest stops, which on the Chinchilla grid wastes
  most of the work. (Compacting the tail into narrower batches saved about 5% of the grid fit's
  time but tripled its compile time: one copy of the step per width.)
* ``"vmap"``: one vmapped `while_loop` over all starts (simple; the reference for tests).
* ``"map"``: `lax.map` over starts, `batch_size` at a time (vmap inside each chunk).

All strategies return every start's outcome (end point, objective, status, steps) along a
leading (S,) axis.

Shapes come in buckets (`bucket`): rows are padded with weight-0 rows, starts with repeats of
the last start and problems with repeats of the last problem, to sizes m * 2^k, so that similar
problems (31 or 32 rows, 1,000 resamples or a 240-unit jackknife) share one compiled program.
The real counts travel as traced numbers: refill never runs a padding fit.
They agree bit for bit, and a fit's outcome does not depend on which other fits share its batch
or its device: the kernel writes the sums whose rounding XLA would choose from the batch width
in a fixed order (`jscale.base._numerics.pairwise_sum`), routes the others alike at every width
(`last_axis_sum` there, and the curvature matrix in `jscale.engine._solve.evaluate`: XLA gives
sums of 4,096 terms or more to YNNPACK, which rounds them differently), and a batch is never
narrower than two (a batch of one compiles the small matrix products to other kernels).
"""

from __future__ import annotations

import functools
import os

import jax
import jax.numpy as jnp
import numpy as np

from jscale.base._numerics import bucket, pad_repeating, x64_scope
from jscale.engine._problem import curvature_terms, stack, to_device
from jscale.engine._solve import RUNNING, solve_one

BATCHING = ("refill", "vmap", "map")

# Slot counts measured on a 2-core CPU (Chinchilla grid, 240 rows): 256-512 slots were fastest,
# 128 and 768 about 15-25% slower. An accelerator wants far wider batches: each while-loop
# iteration costs kernel launches and a predicate read by the host, so the slots must carry
# enough work to hide them. 32,768 is an estimate, not yet measured on a GPU
# (benchmarks/bench_accelerator.py --batch-size sweeps it); its step temporaries are ~0.6 GB
# for 240 rows.
_DEFAULT_BATCH = {"cpu": 256}
_DEFAULT_BATCH_ACCELERATOR = 32768


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
    fixed = n_slots * slot_bytes(n_rows, n_params)
    by_memory = max(1, (memory_budget(device) - fixed) // per_problem)
    cap = _MAX_FITS_PER_CALL.get(device.platform, _MAX_FITS_PER_CALL_ACCELERATOR)
    size = int(max(1, min(by_memory, cap // n_starts)))
    if any(d.process_index != here for d in devices):
        # Every process must make the same calls: agree on the smallest size.
        from jax.experimental import multihost_utils

        size = int(np.min(multihost_utils.process_allgather(np.asarray(size, np.int32))))
    return size


def slot_bytes(n_rows: int, n_params: int) -> int:
    """Memory of one solver slot's step on `n_rows` rows: about 16 bytes per row and parameter
    plus 4 (residuals, Jacobian and their temporaries; measured: 1e6 rows of a 5-parameter law
    took 133 bytes a row), plus the curvature matrix."""
    return 16 * n_rows * (n_params + 4) + 8 * (n_params + 4) ** 2


def slots_within_budget(n_slots: int, n_rows: int, n_params: int) -> int:
    """The solver slots (fits stepped at once) one call may hold: at most `n_slots`, and no more
    than `memory_budget()` allows (`slot_bytes` each). Raises where two slots would not fit."""
    per_slot = slot_bytes(row_bucket(n_rows), n_params)
    budget = memory_budget()
    # Two at least: a batch of one compiles to other kernels, whose last bits differ.
    if 2 * per_slot > budget:
        raise ValueError(f"A fit of {n_rows:,} rows needs about {_size(2 * per_slot)} at once, more than the "
                         f"{_size(budget)} memory budget; set {MEMORY_ENV} (bytes) higher, or fit a subset of "
                         "the rows.")
    return int(min(n_slots, budget // per_slot))


def slots_for(settings: dict, n_fits: int) -> dict:
    """`settings` with refill's slots capped at `bucket` of the real fits per device of a call
    (at least 2): slots beyond them would step empty in lock step with the rest, a waste that
    grows with the law's cost (8 resamples from one start would otherwise step 64 slots). The
    outcome does not depend on the number of slots (tests/engine/test_batch.py)."""
    if settings["batching"] != "refill":
        return settings
    devices = 1 if settings.get("mesh") is None else settings["mesh"].size
    return dict(settings, batch_size=min(settings["batch_size"], max(2, bucket(-(-n_fits // devices)))))


def _size(n_bytes: int) -> str:
    return f"{n_bytes / 2**30:.3g} GiB" if n_bytes >= 2**30 else f"{n_bytes / 2**20:.3g} MiB"


def device_mesh(n_devices: int):
    """A one-axis mesh ("fits") of the first `n_devices` local devices."""
    from jax.sharding import Mesh

    return Mesh(np.array(jax.local_devices()[:n_devices]), ("fits",))


def run_starts(solver, x0s, problem, *, batching: str, batch_size: int, mesh=None, per_problem=None, counts=None):
    """Runs the kernel from every row of `x0s` (S, P); returns every fit's outcome.

    The outcome is a dict of x, f, status and steps with leading (S,) axes, or (B, S) axes when
    `per_problem` is given.

    Args:
        solver: the kernel's solver.
        x0s: (S, P) starts.
        problem: a `Problem` (JAX arrays).
        batching: "refill", "vmap" or "map".
        batch_size: slots (refill) or chunk size (map).
        mesh: a `jax.sharding.Mesh`, or None for one device. The fits are split evenly over
            its devices (all axes together), each running `batching` on its share with
            `jax.shard_map`; the outcomes are gathered to every device, so every process of a
            multi-host mesh holds all of them.
        per_problem: optional dict of `Problem` fields with a leading (B,) axis that replace the
            problem's per problem (e.g. bootstrap weights (B, R), or whole stacked datasets);
            floors are recomputed unless given. Every start then runs on every problem: B * S
            fits, ordered (problem, start).
        counts: optional traced int32 (2,): how many problems and starts are real; the others
            are padding (see `bucket`), which refill never runs and whose outcome is zero.
    """
    n_starts = x0s.shape[0]
    if per_problem is None:
        n_problems = 1
    else:
        n_problems = jax.tree.leaves(per_problem)[0].shape[0]
        if "floor" not in per_problem:
            floors = jax.vmap(lambda b: problem.replace(**b).with_floor().floor)(per_problem)
            per_problem = {**per_problem, "floor": floors}
    n_fits = n_problems * n_starts
    if counts is None:
        order, n_run = jnp.arange(n_fits, dtype=jnp.int32), jnp.asarray(n_fits, jnp.int32)
    else:  # the real fits first, in order
        fit = jnp.arange(n_fits, dtype=jnp.int32)
        real = (fit // n_starts < counts[0]) & (fit % n_starts < counts[1])
        order, n_run = jnp.argsort(~real, stable=True).astype(jnp.int32), counts[0] * counts[1]
    if mesh is not None and mesh.size > 1:
        out = _sharded(solver, x0s, problem, per_problem, order, n_run, batching, batch_size, mesh)
    else:
        out = _by_fit(_run_positions(solver, x0s, problem, per_problem, order, n_run, batching, batch_size), order,
                      n_fits)
    if per_problem is not None:
        out = jax.tree.map(lambda a: a.reshape((n_problems, n_starts) + a.shape[1:]), out)
    return out


def _fit_inputs(x0s, problem, per_problem):
    """The start and the problem of fit number `i` (fits are ordered (problem, start))."""
    n_starts = x0s.shape[0]

    def inputs(i):
        x0 = x0s[i % n_starts]
        if per_problem is None:
            return x0, problem
        return x0, problem.replace(**jax.tree.map(lambda a: a[i // n_starts], per_problem))

    return inputs


def _by_fit(by_position, order, n_fits):
    """Outcomes held by position (fit `order[k]` at k) rearranged by fit number (F,)."""
    return jax.tree.map(lambda a: jnp.zeros((n_fits,) + a.shape[1:], a.dtype).at[order].set(a, mode="drop"),
                        by_position)


def _run_positions(solver, x0s, problem, per_problem, order, n_run, batching, batch_size):
    """The fits `order[:n_run]`; outcome by position in `order`. vmap and map run every position
    (padding included), refill only the first `n_run`."""
    inputs = _fit_inputs(x0s, problem, per_problem)
    if order.shape[0] == 1:  # a batch of one compiles to other kernels (matrix-vector products): pad
        return jax.tree.map(lambda a: a[:1], _run_positions(solver, x0s, problem, per_problem,
                                                             jnp.concatenate([order, order]), n_run, batching,
                                                             batch_size))
    n_positions = order.shape[0]

    def one(i):
        x0, prob = inputs(i)
        return outcome(solve_one(solver, prob, x0))

    if batching == "vmap":
        return jax.vmap(one)(order)
    if batching == "map":  # padded to whole chunks (a remainder of one would be a batch of one)
        size = min(batch_size, n_positions)
        padded = jnp.concatenate([order, jnp.repeat(order[-1:], -n_positions % size)])
        out = jax.lax.map(jax.vmap(one), padded.reshape(-1, size))
        return jax.tree.map(lambda a: a.reshape((-1,) + a.shape[2:])[:n_positions], out)
    if batching == "refill":
        return _refill(solver, inputs, order, n_run, max(2, min(batch_size, n_positions)))
    raise ValueError(f"batching must be one of {', '.join(BATCHING)}; got {batching!r}.")


def outcome(state) -> dict:
    """The fields of a final solver state the results keep: x, f, status, steps (any solver)."""
    return {"x": state.x, "f": state.f, "status": state.status, "steps": state.steps}


def _where(mask, new, old):
    return jax.tree.map(lambda n, o: jnp.where(mask.reshape(mask.shape + (1,) * (n.ndim - 1)), n, o), new, old)


def _refill(solver, inputs, order, n_run, n_slots):
    """Runs the fits `order[:n_run]` (`n_run` traced) in `n_slots` slots; outcome by position in
    `order` (zero past `n_run`)."""
    n_positions = order.shape[0]
    empty = n_positions  # position of an empty slot

    def fit_at(k):  # fit number at position k (clamped into range)
        return order[jnp.clip(k, 0, n_positions - 1)]

    init = jax.vmap(lambda k: solver.init(inputs(fit_at(k))[0]))
    step = jax.vmap(lambda state, k: solver.step(state, inputs(fit_at(k))[1]))
    first = jnp.arange(n_slots, dtype=jnp.int32)
    slots = init(first)
    # Every fit's outcome; a finished fit's fields are scattered in by its position. Only the
    # outcome is kept, not the whole solver state, to keep the per-step scatter small.
    out = jax.tree.map(lambda a: jnp.zeros((n_positions,) + a.shape[1:], a.dtype), outcome(slots))
    idx = jnp.where(first < n_run, first, empty).astype(jnp.int32)  # position held by each slot
    nxt = jnp.minimum(n_slots, n_run).astype(jnp.int32)  # next position to hand out

    def body(carry):
        slots, idx, nxt, out = carry
        slots = step(slots, idx)
        held = idx < empty
        done = (slots.status != RUNNING) | ~held
        target = jnp.where(done & held, idx, empty)  # out-of-range index: the write is dropped
        out = jax.tree.map(lambda o, s: o.at[target].set(s, mode="drop"), out, outcome(slots))
        new = nxt + jnp.cumsum(done, dtype=jnp.int32) - 1
        take = done & (new < n_run)
        idx = jnp.where(done, jnp.where(take, new, empty), idx)
        slots = _where(take, init(new), slots)
        return slots, idx, nxt + jnp.sum(take, dtype=jnp.int32), out

    def cond(carry):
        return jnp.any(carry[1] < empty)

    return jax.lax.while_loop(cond, body, (slots, idx, nxt, out))[3]


def _sharded(solver, x0s, problem, per_problem, order, n_run, batching, batch_size, mesh):
    """Device k of the mesh runs the fits at positions k*m ... (k+1)*m - 1 of `order` (m =
    ceil(n_run / devices)); the outcomes are gathered to every device and put in fit order."""
    from jax.sharding import PartitionSpec

    n_fits = order.shape[0]
    local_size = -(-n_fits // mesh.size)
    axes = tuple(mesh.axis_names)

    def local(x0s, problem, per_problem, order, n_run):
        share = (n_run + mesh.size - 1) // mesh.size
        first = jax.lax.axis_index(axes) * share
        positions = first + jnp.arange(local_size, dtype=jnp.int32)
        mine = jnp.clip(n_run - first, 0, share)
        fits = order[jnp.minimum(positions, n_fits - 1)]
        out = _run_positions(solver, x0s, problem, per_problem, fits, mine, batching, batch_size)
        fits = jnp.where(jnp.arange(local_size) < mine, fits, n_fits)  # not run here: dropped below
        gathered = jax.lax.all_gather((out, fits), axes, tiled=True)
        return gathered

    out, fits = jax.shard_map(
        local, mesh=mesh, in_specs=(PartitionSpec(),) * 5, out_specs=PartitionSpec(), check_vma=False,
    )(x0s, problem, per_problem, order, n_run)
    return _by_fit(out, fits, n_fits)


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


def counts_of_resample(key_data, index: int, n_units: int) -> np.ndarray:
    """`resample_counts` on the host from raw key data (uint32 (2,)): int64 (n_units,)."""
    with x64_scope():
        key = jax.random.wrap_key_data(jnp.asarray(key_data))
        return np.asarray(resample_counts(key, index, n_units)).astype(np.int64)


@functools.partial(jax.jit, static_argnames=("n_resamples",))
def _counts_table(key_data, order, first, size, *, n_resamples: int):
    key = jax.random.wrap_key_data(key_data)
    n_units = order.shape[0]

    def one(i):
        if first is None:
            return resample_counts(key, i, n_units)
        u = jax.random.uniform(jax.random.fold_in(key, i), (n_units,))
        picked = order[first + jnp.minimum(jnp.floor(u * size).astype(order.dtype), size - 1)]
        return jnp.zeros(n_units, jnp.result_type(float)).at[picked].add(1.0)

    return jax.vmap(one)(jnp.arange(n_resamples))


def counts_table(key_data, n_resamples: int, n_units: int, strata=None) -> np.ndarray:
    """Multiplicities (n_resamples, n_units) of every unit in every resample, from raw key data.

    Without `strata`, the draws of `resample_counts` (those of `jscale.bootstrap` with this key).
    With `strata` (n_units,) labels, each stratum's units are drawn with replacement among
    themselves, as many as it has: every resample keeps each stratum's size (a stratified
    bootstrap, e.g. each data set's runs of a shared fit).
    """
    order = first = size = None
    if strata is not None:
        _, codes = np.unique(np.asarray(strata), return_inverse=True)
        order = np.argsort(codes, kind="stable")
        sizes = np.bincount(codes)
        starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
        first, size = starts[codes[order]], sizes[codes[order]]
    with x64_scope():
        args = [None if a is None else jnp.asarray(a, jnp.int32) for a in (order, first, size)]
        if args[0] is None:
            args[0] = jnp.zeros(n_units, jnp.int32)
        return np.asarray(_counts_table(jnp.asarray(key_data), *args, n_resamples=int(n_resamples)))


def resampled_problems(key, indices, problem, *, unit: str, unit_of_row, n_units: int, fitted=None):
    """Per-resample problem fields for the resamples `indices` (B,), as `run_starts(per_problem=)` takes.

    unit "weights": every row's weight times the multiplicity of its unit (`unit_of_row` (R,)
    maps rows to units; for a row bootstrap it is arange(R)). unit "residual": the targets
    `fitted + r[j]` with the residuals r of the fit (in residual space) resampled with replacement.
    """
    if unit == "residual":  # rows past n_units are padding (weight 0): their targets stay
        resid = problem.y - fitted
        draws = jax.vmap(lambda i: resample_indices(key, i, n_units))(indices)
        pad = jnp.broadcast_to(problem.y[n_units:], (len(indices), len(problem.y) - n_units))
        return {"y": jnp.concatenate([fitted[None, :n_units] + resid[draws], pad], axis=1)}
    counts = jax.vmap(lambda i: resample_counts(key, i, n_units))(indices)
    return {"weight": problem.weight[None, :] * counts[:, unit_of_row]}


def ar_residual_problems(key, indices, problem, fitted, series: dict):
    """Per-resample targets of an autoregressive (sieve) residual bootstrap, for the resamples
    `indices` (B,): each series of rows (e.g. the checkpoints of one training curve, in order)
    gets new errors e_t = rho e_(t-1) + scale u_t around the fit's values, the innovations u_t
    drawn with replacement from the series' own (Kreiss 1992; Buehlmann 1997). `series` holds,
    per real row (R,): "first" (int32, the first row of its series), "count" (int32, the
    series' innovations, at rows first + 1 ... first + count), "innovation" (that row's
    innovation; unused at a series' first row), "rho" and "scale" (its series'); the first error
    of a series is drawn from the stationary law (u / sqrt(1 - rho^2)).
    """
    n = series["first"].shape[0]
    begins = jnp.arange(n, dtype=jnp.int32) == series["first"]

    def one(i):
        u = jax.random.uniform(jax.random.fold_in(key, i), (n,), fitted.dtype)
        pick = series["first"] + 1 + jnp.minimum(jnp.floor(u * series["count"]).astype(jnp.int32),
                                                 series["count"] - 1)
        shock = series["scale"] * series["innovation"][jnp.minimum(pick, n - 1)]

        def step(previous, row):
            shock, rho, begin = row
            error = jnp.where(begin, shock / jnp.sqrt(1.0 - rho ** 2), rho * previous + shock)
            return error, error

        return fitted[:n] + jax.lax.scan(step, jnp.zeros((), fitted.dtype), (shock, series["rho"], begins))[1]

    pad = jnp.broadcast_to(problem.y[n:], (len(indices), len(problem.y) - n))
    return {"y": jnp.concatenate([jax.vmap(one)(indices), pad], axis=1)}


# --- the jitted entry points -------------------------------------------------------------------


@functools.partial(jax.jit, static_argnames=("solver", "batching", "batch_size", "mesh"))
def _fit_starts(x0s, problem, counts, *, solver, batching, batch_size, mesh):
    """Every start on one problem (`counts`: 1 and the real starts): outcomes with an (S,) axis."""
    return run_starts(solver, x0s, problem, batching=batching, batch_size=batch_size, mesh=mesh, counts=counts)


@functools.partial(jax.jit, static_argnames=("solver", "batching", "batch_size", "mesh"))
def _fit_batched(x0s, problem, per_problem, counts, *, solver, batching, batch_size, mesh):
    """Every start on every problem of `per_problem` (leading axis B): outcomes with (B, S) axes."""
    return run_starts(solver, x0s, problem, per_problem=per_problem, batching=batching, batch_size=batch_size,
                      mesh=mesh, counts=counts)


def padded_starts(x0s) -> np.ndarray:
    """`x0s` (S, P) padded to `bucket(S)` rows by repeating the last start."""
    return pad_repeating(x0s, bucket(len(x0s)))


def padded_problem(problem):
    """A NumPy `Problem` padded to `row_bucket` rows of weight 0."""
    return _one(stack([problem], row_bucket(len(problem.y))))


def row_bucket(n_rows: int) -> int:
    """Rows are padded to 8 sizes per doubling (at most 12.5% more rows): 240 stays 240."""
    return bucket(n_rows, per_octave=8)


def _fields(stacked) -> dict:
    return {"x": stacked.x, "y": stacked.y, "weight": stacked.weight, "floor": stacked.floor}


def fit_in_chunks(x0s, problem, per_problem_of, total: int, size: int, *, width: int | None = None, advance=None,
                  n_run_starts: int | None = None, **settings) -> dict:
    """Outcomes (NumPy, leading (total, S) axes) of `total` problems, `size` per jitted call.

    `per_problem_of(indices)` gives the per-problem fields of problems `indices`; every call takes
    `width` problems (default `bucket(size)`; repeats of the last one pad it, never run by
    refill) and `bucket(S)` starts, so calls of nearby sizes share one program. `problem` should
    already have `row_bucket` rows. `advance(n)`, if given, is told of every n problems done (a
    progress bar). `n_run_starts`: fit only the first n starts (S = n in the outcome) with the
    program of all of them (refill runs the rest as padding, never), so that a later stage with
    fewer starts compiles nothing new. `settings`: solver, batching, batch_size, mesh.
    """
    n_starts = len(x0s)
    settings["batch_size"] = slots_within_budget(settings["batch_size"], problem.y.shape[-1], x0s.shape[1])
    starts = jnp.asarray(padded_starts(x0s))
    width = bucket(size) if width is None else width
    size = min(size, width)
    # Slots for a whole call of `size` problems, even where `total` is smaller: the stages of one
    # bootstrap (probe, rest, jackknife) then share one program.
    settings = slots_for(settings, size * n_starts)
    n_run = n_starts if n_run_starts is None else n_run_starts
    parts = []
    for lo in range(0, total, size):
        hi = min(lo + size, total)
        indices = jnp.asarray(np.minimum(np.arange(lo, lo + width), total - 1))
        counts = jnp.asarray(np.array([hi - lo, n_run], np.int32))
        out = _fit_batched(starts, problem, per_problem_of(indices), counts, **settings)
        parts.append(jax.tree.map(lambda a, n=hi - lo: np.asarray(a)[:n, :n_run], out))
        if advance is not None:
            advance(hi - lo)
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


def fit_problems(x0s, problems: list, *, solver, batching: str, batch_size: int, mesh=None) -> dict:
    """Every start on every problem of the list (NumPy leaves): outcomes (NumPy) with (B, S) axes.

    One problem runs alone (its arrays shared by every start); several are stacked, padded to
    the longest, and fitted in as few calls of one shape as memory allows (`problems_per_call`).
    Rows and starts are padded to their buckets. Call inside `x64_scope`.
    """
    n_starts = len(x0s)
    rows = row_bucket(max(len(p.y) for p in problems))
    batch_size = slots_within_budget(batch_size, rows, x0s.shape[1])
    settings = dict(solver=solver, batching=batching, batch_size=batch_size, mesh=mesh)
    if len(problems) == 1:
        counts = jnp.asarray(np.array([1, n_starts], np.int32))
        problem = to_device(_one(stack(problems, rows)))
        out = _fit_starts(jnp.asarray(padded_starts(x0s)), problem, counts, **slots_for(settings, n_starts))
        return jax.tree.map(lambda a: np.asarray(a)[None, :n_starts], out)
    stacked = to_device(stack(problems, rows))
    fields = _fields(stacked)
    size = min(len(problems), problems_per_call(n_starts, rows, x0s.shape[1], n_slots=batch_size, mesh=mesh))
    return fit_in_chunks(x0s, _one(stacked), lambda take: jax.tree.map(lambda a: a[take], fields), len(problems),
                         size, **settings)


def _one(stacked):
    """The first problem of a stack (the template whose fields `per_problem` replaces)."""
    return jax.tree.map(lambda a: a[0], stacked)


def best_start(objectives) -> np.ndarray:
    """Index of the lowest finite objective along the last axis (0 where none is finite)."""
    objectives = np.asarray(objectives)
    return np.argmin(np.where(np.isfinite(objectives), objectives, np.inf), axis=-1)


def take_best(out: dict, best) -> dict:
    """Every outcome field at the best start of each problem: (B, S, ...) -> (B, ...)."""
    rows = np.arange(len(best))
    return {k: np.asarray(v)[rows, best] for k, v in out.items()}


@jax.jit
def _curvature(thetas, problems):
    return jax.vmap(curvature_terms)(thetas, problems)


def curvature(thetas, problems: list) -> list:
    """The curvature terms (`curvature_terms` of `_problem`) of every problem at its free
    parameters `thetas` (B, P), as a list of dicts of NumPy arrays. Rows and problems are padded
    to their buckets (the terms are sums over rows: weight-0 rows add nothing). Call inside
    `x64_scope`."""
    n = len(problems)
    width = bucket(n)
    padded = list(problems) + [problems[-1]] * (width - n)
    stacked = to_device(stack(padded, row_bucket(max(len(p.y) for p in problems))))
    out = jax.tree.map(np.asarray, _curvature(jnp.asarray(pad_repeating(thetas, width)), stacked))
    return [jax.tree.map(lambda a, k=k: a[k], out) for k in range(n)]
