"""Values of a fitted law's derived quantities at K points, with bands: the evaluation engine and
the bands mixin shared by the decision containers (`Allocation`, `MarginalReturns`, `Optimum`).

`evaluate(estimate, fn, args, names)` runs `fn(theta, *args) -> {name: (K,)}` (a hashable
callable: a jit static argument) at the estimate, on every bootstrap draw, or with its Jacobian
for delta-method standard deviations, as one compiled program per bucket of points and draws.
"""

from __future__ import annotations

import functools
import warnings

import jax
import jax.numpy as jnp
import numpy as np

from jscale.base._interval import Interval
from jscale.base._json import strict_json
from jscale.base._numerics import bucket, pad_repeating, read_only, x64_scope
from jscale.base._status import Status
from jscale.base._text import closest
from jscale.base._warnings import ConvergenceWarning
from jscale.engine._batch import memory_budget
from jscale.inference._uncertainty import check_level, normal_quantile

# Points come in buckets of at least this many: solving 64 points costs about what 6 do.
_MIN_POINTS = 64
# Memory of one solve (one point, one draw) with its derivatives, measured with room to spare
# (about 2 KB): points beyond `memory_budget()` are solved in several calls.
_BYTES_PER_SOLVE = 4096


@functools.partial(jax.jit, static_argnames=("fn",))
def _values(theta, args, *, fn):
    return jax.vmap(lambda *a: fn(theta, *a))(*args)


@functools.partial(jax.jit, static_argnames=("fn",))
def _draw_values(thetas, args, *, fn):
    return jax.vmap(lambda t: jax.vmap(lambda *a: fn(t, *a))(*args))(thetas)


@functools.partial(jax.jit, static_argnames=("fn", "names"))
def _jacobians(theta, args, *, fn, names):
    def picked(t):
        out = jax.vmap(lambda *a: fn(t, *a))(*args)
        return {n: out[n] for n in names}

    return jax.jacfwd(picked)(theta)


def evaluate(estimate, fn, args, names):
    """Estimates {name: (K,)}, per-draw values {name: (B, K)} or None, and delta-method sds of
    `names` {name: (K,)} or None, of `fn`'s outputs at the K points of `args` (arrays of K rows)."""
    n_points = len(jax.tree.leaves(args)[0])
    n_draws = 1 if estimate.draws is None else len(estimate.draws) + 1
    width = max(_MIN_POINTS, bucket(min(n_points, max(1, memory_budget() // (_BYTES_PER_SOLVE * n_draws)))))
    if n_points <= width:
        return _evaluate_chunk(estimate, fn, args, names, width)
    # More points than one call may hold in memory: calls of `width` points (one program).
    parts = [_evaluate_chunk(estimate, fn, jax.tree.map(lambda a, lo=lo: np.asarray(a)[lo:lo + width], args),
                             names, width) for lo in range(0, n_points, width)]
    return tuple(None if parts[0][k] is None else {n: np.concatenate([p[k][n] for p in parts], axis=-1)
                                                   for n in parts[0][k]} for k in range(3))


def _evaluate_chunk(estimate, fn, args, names, width):
    """`evaluate` on at most `width` points, padded to `width`."""
    theta, draws, cov = estimate.theta, estimate.draws, estimate.covariance
    n_points = len(jax.tree.leaves(args)[0])
    # Points and draws padded to buckets (repeats of the last), so that a table of 6 budgets and
    # a curve of 50 share one compiled program.
    args = jax.tree.map(lambda a: pad_repeating(np.asarray(a), width), args)
    with x64_scope():
        args = jax.tree.map(jnp.asarray, args)
        per_draw = sd = None
        if draws is None:
            est = _values(jnp.asarray(theta), args, fn=fn)
            est = {k: np.asarray(v)[:n_points] for k, v in est.items()}
        else:  # the estimate rides along as draw -1: one program (and one trace) for both
            thetas = np.concatenate([np.asarray(draws), np.asarray(theta)[None]])
            out = _draw_values(jnp.asarray(pad_repeating(thetas, bucket(len(thetas)))), args, fn=fn)
            est = {k: np.asarray(v)[len(draws), :n_points] for k, v in out.items()}
            per_draw = {k: np.asarray(v)[:len(draws), :n_points] for k, v in out.items()}
        if cov is not None:
            jac = _jacobians(jnp.asarray(theta), args, fn=fn, names=tuple(names))
            jac = {n: np.asarray(jac[n])[:n_points] for n in names}
            sd = {n: np.sqrt(np.einsum("kp,pq,kq->k", jac[n], cov, jac[n])) for n in names}
    return est, per_draw, sd


def to_bands(estimate, est, per_draw, sd, positive, ok_name):
    """Natural values (exp of the log ones), per-draw values with their usable mask, and sds."""
    values = {k: read_only(np.exp(v) if k in positive else v) for k, v in est.items() if k != ok_name}
    draws = draw_ok = None
    if per_draw is not None:
        draws = {k: read_only(np.exp(v) if k in positive else v) for k, v in per_draw.items() if k != ok_name}
        mask = np.asarray(estimate.draw_ok, bool)[:, None]
        ok = mask if ok_name is None else mask & (per_draw[ok_name] == int(Status.SUCCESS))
        draw_ok = read_only(np.broadcast_to(ok, next(iter(draws.values())).shape))
    sd = None if sd is None else {k: read_only(v) for k, v in sd.items()}
    return values, draws, draw_ok, sd


class Bands:
    """Intervals, statuses and reports of K solved points, for containers with fields `law`,
    `draws` (name -> (B, K) or None), `draw_ok` ((B, K) or None), `sd` (name -> (K,) or None)
    and `solve_status` ((K,) `Status` codes of the point estimate), class attributes QUANTITIES
    and POSITIVE, and `points()`: the inputs that define the K points."""

    WHAT = "values"

    def points(self) -> dict:
        """name -> (K,) the inputs that define the points (budgets, sizes, fixed columns)."""
        raise NotImplementedError

    @property
    def uncertainty(self) -> str:
        """Where the bands come from: "B bootstrap draws", "delta method" or "none"."""
        if self.draws is not None:
            return f"{np.asarray(self.draw_ok).shape[0]} bootstrap draws"
        return "delta method" if self.sd is not None else "none"

    @property
    def band_method(self) -> str | None:
        """What made the bands, as tables print it: "bootstrap" (percentiles over the draws),
        "delta method" (the curvature at the best fit: often narrower than a bootstrap's where
        the runs are few), or None without bands."""
        if self.draws is not None:
            return "bootstrap"
        return "delta method" if self.sd is not None else None

    def table(self, level: float = 0.95) -> str:
        """One row per point: its inputs, every quantity, and the band of each where there is one."""
        banded = self.draws is not None or self.sd is not None
        points = self.points()
        bands = {n: self.interval(n, level) for n in self.quantities} if banded else {}
        head = [*points, *self.quantities]
        lines = ["  ".join(f"{h:>14}" for h in head)
                 + (f"   ({100 * level:g}% bands below, {self.band_method})" if banded else "")]
        status = self.status
        for k in range(status.size):
            cells = [np.asarray(v)[k] for v in points.values()] + [self.value_of(n)[k] for n in self.quantities]
            line = "  ".join(f"{v:>14.6g}" for v in cells)
            if status[k] != "success":
                line += f"   <- {status[k]}: not a solution"
            lines.append(line)
            if banded:  # the bands on a line of their own, under their quantities
                cells = [""] * len(points) + [f"{bands[n].low[k]:.4g}..{bands[n].high[k]:.4g}" for n in self.quantities]
                lines.append("  ".join(f"{c:>14}" for c in cells))
        return "\n".join(lines)

    def rows(self, level: float = 0.95, names=None) -> list[dict]:
        """One record per point: its inputs, each quantity of `names` (default: all) with its
        band at `level` as name_low and name_high where there is uncertainty, and its status;
        plain floats and strings, for CSV, JSON or a DataFrame."""
        names = self.quantities if names is None else tuple(names)
        unknown = [n for n in names if n not in self.quantities]
        if unknown:
            raise ValueError(f"names must be among {', '.join(self.quantities)}; got {unknown[0]!r}"
                             f"{closest(str(unknown[0]), self.quantities)}.")
        banded = self.draws is not None or self.sd is not None
        bands = {n: self.interval(n, level) for n in names} if banded else {}
        points, status = self.points(), self.status
        out = []
        for k in range(status.size):
            row = {p: float(np.asarray(v)[k]) for p, v in points.items()}
            for n in names:
                row[n] = float(self.value_of(n)[k])
                if n in bands:
                    row[f"{n}_low"], row[f"{n}_high"] = float(bands[n].low[k]), float(bands[n].high[k])
            row["status"] = str(status[k])
            out.append(row)
        return out

    def summary(self, level: float = 0.95) -> str:
        """A readable report: what was solved, from what, how many points converged, and the table."""
        status = self.status
        head = (f"jscale {type(self).__name__}: {self.WHAT} of {self.origin} at {status.size} point"
                f"{'s' if status.size != 1 else ''}; uncertainty: {self.uncertainty}; "
                f"{int(np.sum(status == 'success'))} of {status.size} solves converged")
        return head + "\n" + self.table(level)

    def to_dict(self, level: float = 0.95) -> dict:
        """Strict-JSON-ready data: the points, every quantity with its band (where there is
        uncertainty), the statuses and where the bands come from."""
        level = check_level(level)
        banded = self.draws is not None or self.sd is not None
        quantities = {}
        for n in self.quantities:
            entry = {"estimate": self.value_of(n)}
            if banded:
                low, high = self.interval(n, level)
                entry.update(low=low, high=high)
            quantities[n] = entry
        return strict_json({"kind": type(self).__name__, "law": None if self.law is None else self.law.name,
                            "source": self.origin, "points": self.points(),
                            "quantities": quantities, "level": level if banded else None,
                            "uncertainty": self.uncertainty, "status": self.status.tolist()})

    def __repr__(self) -> str:
        status = self.status
        return (f"{type(self).__name__}({self.origin}, {status.size} point{'s' if status.size != 1 else ''}, "
                f"uncertainty: {self.uncertainty}, {int(np.sum(status == 'success'))} converged)")

    @property
    def origin(self) -> str:
        """What the values come from, for reports: "the <name> law", or a container's `source`
        (e.g. the power laws of an isoFLOP sweep)."""
        source = getattr(self, "source", None)
        return source if source else f"the {self.law.name} law"

    def value_of(self, name: str) -> np.ndarray:
        """(K,) point estimate of a quantity."""
        return np.asarray(getattr(self, name))

    @property
    def status(self) -> np.ndarray:
        """(K,) outcome of the solve at every point: "success"; "max_steps" (it stopped without
        meeting its test, the values there are unreliable); "nonfinite" (no finite answer, e.g. a
        budget whose cost overflows or a cost function returning NaN)."""
        finite = np.all([np.isfinite(self.value_of(n)) for n in self.quantities], axis=0)
        codes = np.where(finite, np.asarray(self.solve_status), int(Status.NONFINITE))
        return np.array([Status(int(c)).label for c in codes.ravel()], dtype=object).reshape(codes.shape).astype(str)

    @property
    def converged(self) -> np.ndarray:
        """(K,) whether the solve met its convergence test at each point (point estimate)."""
        return read_only(np.asarray(self.solve_status) == int(Status.SUCCESS))

    @property
    def quantities(self) -> tuple:
        return self.QUANTITIES

    @property
    def positive_quantities(self) -> tuple:
        return self.POSITIVE

    def _warn_failed(self, what: str, points: np.ndarray) -> None:
        status = self.status
        bad = np.flatnonzero(status != "success")
        if bad.size:
            shown = ", ".join(f"{points[k]:.3g} ({status[k]})" for k in bad[:5]) + (" ..." if bad.size > 5 else "")
            warnings.warn(ConvergenceWarning(
                f"{what}: the solve failed at {bad.size} of {status.size} points: {shown}. Their values are not "
                "answers (`status` says which; table() marks them)."), stacklevel=3)

    def interval(self, name: str, level: float = 0.95, method: str | None = None) -> Interval:
        """95% (or `level`) band of a quantity at every point, an `Interval` of (K,) arrays.

        From a `BootstrapResult`: the percentile (default) or "basic" interval over the draws
        whose fit converged (and whose solve did). From a `FitResult`: the delta method ("delta")
        with the implicit derivatives of the optimum, in log space for positive quantities.
        """
        level = check_level(level)
        if name not in self.quantities:
            raise ValueError(f"name must be one of {', '.join(self.quantities)}; got {name!r}"
                             f"{closest(str(name), self.quantities)}.")
        estimate = self.value_of(name)
        if self.draws is not None:
            method = "percentile" if method is None else method
            if method not in ("percentile", "basic"):
                raise ValueError(f"method must be 'percentile' or 'basic' for bootstrap bands; got {method!r}.")
            values = self.draws_of(name)
            if not np.isfinite(values).any():
                raise ValueError("No bootstrap draw is usable for these bands.")
            q = np.nanquantile(values, [0.5 - level / 2, 0.5 + level / 2], axis=0)
            if method == "basic":
                q = (2 * estimate - q[1], 2 * estimate - q[0])
            return Interval(np.asarray(q[0]), np.asarray(q[1]))
        if self.sd is None:
            raise ValueError("No uncertainty to band: these values come from fixed parameters (params=).")
        method = "delta" if method is None else method
        if method != "delta":
            raise ValueError(f"method must be 'delta' for curvature-based bands; got {method!r}.")
        half = normal_quantile(0.5 + level / 2) * self.sd[name]
        if name in self.positive_quantities:
            return Interval(estimate * np.exp(-half), estimate * np.exp(half))
        return Interval(estimate - half, estimate + half)

    def draws_of(self, name: str) -> np.ndarray:
        """(B, K) per-draw values of a quantity (NaN where the draw or its solve failed)."""
        if self.draws is None:
            raise ValueError("These values come from a single fit, not a bootstrap; there are no draws.")
        return np.where(self.draw_ok, self.draws[name], np.nan)
