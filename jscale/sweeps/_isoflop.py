"""IsoFLOP sweeps: Chinchilla's Approach 2 (Hoffmann et al. 2022, section 3.2).

At each compute budget C a sweep trains several model sizes N (with D tokens, C = 6 N D or the
data's own compute). Approach 2 fits a parabola of log loss in log N per budget, takes its
minimum N*(C) (and, from the parabola in log D, D*(C)), and fits the power laws
N*(C) = G_N C^a and D*(C) = G_D C^b through the minima in log space.

Pitfalls handled here rather than left to the user:
- a budget whose minimum lies at or beyond the edge of its sweep (the parabola extrapolates, or
  opens downwards) is excluded from the power laws and named in a `SweepWarning`;
- a budget with fewer than 3 distinct sizes cannot hold a parabola: excluded and named;
- the parabola and the power laws are fitted in log space, and the minimum is the parabola's
  (never the per-budget argmin, which biases N* low);
- uncertainty: runs are resampled within each budget (all budgets and resamples in one jitted
  call); every resample refits the parabolas and the power laws, and bands are percentiles over
  the resamples whose every included budget kept a minimum inside its sweep.
"""

from __future__ import annotations

import dataclasses
import functools
import warnings

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from jscale.base._interval import Interval
from jscale.base._json import strict_json
from jscale.base._numerics import read_only, x64_scope
from jscale.base._status import Status
from jscale.base._warnings import Diagnostic, DiagnosticWarning, SweepWarning, renamed, warn_all
from jscale.data._data import ScalingData
from jscale.decisions._allocation import Allocation, compute_optimal
from jscale.fitting._bootstrap import DEFAULT_RESAMPLES, as_key_data
from jscale.inference._uncertainty import bootstrap_interval, check_level
from jscale.losses._losses import Squared, resolve_loss

# The quantities with a band: per budget, and of the power laws.
PER_BUDGET = ("n_params", "n_tokens", "loss")
EXPONENTS = ("a", "b", "a_plus_b", "loss_exponent")


def group_by_compute(compute: np.ndarray, budgets, rtol: float) -> tuple[np.ndarray, np.ndarray]:
    """Budget index of every run (-1 for none) and the budgets' compute (G,).

    With `budgets` given, a run belongs to the budget within `rtol` (relative) of its compute;
    otherwise runs sorted by compute start a new budget when they exceed the first run of the
    current one by more than `rtol`, and a budget's compute is the median of its runs'.
    """
    if budgets is not None:
        budgets = np.sort(np.atleast_1d(np.asarray(budgets, np.float64)))
        if budgets.ndim != 1 or not np.all(np.isfinite(budgets) & (budgets > 0)):
            raise ValueError(f"budgets must be positive finite numbers; got {budgets!r}.")
        gap = np.abs(np.log(compute)[:, None] - np.log(budgets)[None, :])
        nearest = np.argmin(gap, axis=1)
        within = gap[np.arange(len(compute)), nearest] <= np.log1p(rtol)
        return np.where(within, nearest, -1), budgets
    order = np.argsort(compute, kind="stable")
    label = np.empty(len(compute), np.int64)
    first, g = compute[order[0]], 0
    for i in order:
        if compute[i] > first * (1 + rtol):
            g, first = g + 1, compute[i]
        label[i] = g
    return label, np.array([np.median(compute[label == k]) for k in range(g + 1)])


# A sweep reaching further than this factor beyond its minimum, or with its minimum in the outer
# fifth of its range of log N, biases the parabola's vertex (the loss is not a parabola in log N).
WIDE = 4.0
OFF_CENTRE = 0.2


# A planned sweep: at most this many sizes per budget, reaching at most this factor either side.
MAX_SIZES = 1000
MAX_SPAN = 1e3


def band(values, level: float):
    """(low, high): the central `level` percentile band of resampled values (B, ...) over B."""
    return Interval(*bootstrap_interval(values, None, None, check_level(level), "percentile"))


def legacy_dict(allocation: Allocation, names: tuple, level: float) -> dict:
    """An allocation as the dict the sweeps' `predict` returned until 0.3.0: (K,) arrays of
    `names` and, where there are bands, name_low and name_high."""
    out = {name: np.asarray(allocation.value_of(name)) for name in names}
    if allocation.draws is not None:
        for name in names:
            out[f"{name}_low"], out[f"{name}_high"] = allocation.interval(name, level)
    return out


# The power laws of a sweep: quantity of an allocation -> (its exponent, its log prefactor).
FRONTIER = {"n_params": ("a", "log_gn"), "n_tokens": ("b", "log_gd"), "loss": ("loss_exponent", "log_gl")}


def frontier(budgets, exponents: dict, prefactors: dict, draws: dict | None, ok, source: str) -> Allocation:
    """The `Allocation` of a sweep's power laws N*(C), D*(C), L*(C) at `budgets` (K,): point
    values from `exponents` and `prefactors`, and per resample from `draws` (rows B) where `ok`
    (B,) marks the usable resamples. A law missing from the sweep (files of older versions) is
    NaN."""
    log_c = np.log(budgets)

    def at(exp: dict, pre: dict, rows: tuple) -> dict:
        out = {}
        for name, (slope, log_g) in FRONTIER.items():
            e = np.asarray(exp.get(slope, np.full(rows, np.nan)), np.float64).reshape(*rows, 1)
            g = np.asarray(pre.get(log_g, np.full(rows, np.nan)), np.float64).reshape(*rows, 1)
            out[name] = np.exp(g + e * log_c)
            out[f"exponent_{name.removeprefix('n_')}"] = np.broadcast_to(e, out[name].shape)
        out["tokens_per_param"] = out["n_tokens"] / out["n_params"]
        del out["exponent_loss"]
        return {k: read_only(v) for k, v in out.items()}

    values = at(exponents, prefactors, ())
    per_draw = draw_ok = None
    if draws is not None:
        per_draw = at(draws, draws, (len(ok),))
        draw_ok = read_only(np.broadcast_to(np.asarray(ok, bool)[:, None], (len(ok), len(budgets))))
    return Allocation(law=None, cost=None, compute=read_only(budgets),
                      solve_status=read_only(np.full(len(budgets), int(Status.SUCCESS))),
                      draws=per_draw, draw_ok=draw_ok, source=source, **values)


def check_resamples(n_resamples) -> int:
    """`n_resamples`, checked: 0 (none) or at least 2; None: the default, 1000."""
    if n_resamples is None:
        return DEFAULT_RESAMPLES
    if isinstance(n_resamples, bool) or not isinstance(n_resamples, (int, np.integer)) or n_resamples < 0 \
            or n_resamples == 1:
        raise ValueError(f"n_resamples must be 0 (none) or an integer of at least 2; got {n_resamples!r}.")
    return int(n_resamples)


def _cubic_shift(x, y, star):
    """Relative change of N* when a cubic in log N replaces the parabola (None with < 4 sizes or no
    cubic minimum): the size of the bias that the parabola's symmetry causes."""
    if len(np.unique(x)) < 4:
        return None
    a3, a2, a1, _ = np.polyfit(x - star, y, 3)
    roots = np.roots([3 * a3, 2 * a2, a1])
    roots = roots[np.isreal(roots)].real
    minima = roots[6 * a3 * roots + 2 * a2 > 0]
    if not len(minima):
        return None
    return float(np.expm1(minima[np.argmin(np.abs(minima))]))


def _shape_notes(budgets, log_n, log_l, w, star, use) -> list[str]:
    """Warnings (budgets kept) about wide and off-centre sweeps, with the cubic's estimate of the bias."""
    notes = []
    for g in np.flatnonzero(use):
        x, y = log_n[g][w[g] > 0], log_l[g][w[g] > 0]
        position = (star[g] - x.min()) / (x.max() - x.min())
        reach = float(np.exp(max(star[g] - x.min(), x.max() - star[g])))
        found = ([f"wide ({reach:.1f}x beyond its minimum)"] if reach > WIDE else []) + \
            ([f"off-centre (its minimum at {position:.0%} of its range of log N)"]
             if min(position, 1 - position) < OFF_CENTRE else [])
        if found:
            shift = _cubic_shift(x, y, star[g])
            notes.append(f"budget {budgets[g]:.3g} FLOP is {' and '.join(found)}: " + (
                f"its parabola's N* is off by about {-shift:+.1%} (a cubic through its runs puts N* {shift:+.1%} "
                "from it)"
                if shift is not None else "its parabola's N* may be biased (too few sizes to estimate by how much)"))
    return notes


def _padded(values: np.ndarray, label: np.ndarray, n_groups: int, width: int) -> np.ndarray:
    """(G, width) array of each budget's values, padded with its first value (weight 0 there)."""
    out = np.zeros((n_groups, width))
    for g in range(n_groups):
        v = values[label == g]
        out[g, :len(v)] = v
        out[g, len(v):] = v[0] if len(v) else 1.0
    return out


# Reweighting steps of a robust parabola (a Huber fit settles in far fewer).
_IRLS_STEPS = 30


def _parabola(x, y, w, loss):
    """y = c0 + c1 u + c2 u^2 with u = x - center, for one budget (x (M,)): `_quadratic` in one
    variable. Returns ((c0, c1, c2), center), center a scalar."""
    coef, center = _quadratic(x[:, None], y, w, loss)
    return coef, center[0]


def _basis(u):
    """Quadratic basis of (M, k) centred log values: 1, u_i, then u_i u_j (i <= j)."""
    k = u.shape[1]
    cols = [jnp.ones(u.shape[0], u.dtype)] + [u[:, i] for i in range(k)]
    cols += [u[:, i] * u[:, j] for i in range(k) for j in range(i, k)]
    return jnp.stack(cols, axis=-1)


def _quadratic(x, y, w, loss):
    """Weighted least squares (iteratively reweighted for a robust loss) of y on the quadratic
    basis of x - center, center the weighted mean of x (M, k). Returns (coef, center)."""
    center = jnp.sum(w[:, None] * x, axis=0) / jnp.sum(w)
    basis = _basis(x - center[None, :])

    def solve(weights):
        return _solve((basis * weights[:, None]).T @ basis, (basis * weights[:, None]).T @ y)

    coef = solve(w)
    if not isinstance(loss, Squared):
        coef = jax.lax.fori_loop(0, _IRLS_STEPS, lambda _, c: solve(w * loss.irls_weight(y - basis @ c)), coef)
    return coef, center


def _solve(m, r):
    """m^-1 r for a small symmetric system: closed forms for 2 x 2 and 3 x 3 (a few fused
    operations under vmap, where batched LAPACK calls compile slowly and loop over tiny
    matrices; NaN or inf where singular), `jnp.linalg.solve` beyond."""
    if m.shape[0] == 3:
        return _solve3(m, r)
    if m.shape[0] == 2:
        det = m[0, 0] * m[1, 1] - m[0, 1] * m[1, 0]
        return jnp.stack([m[1, 1] * r[0] - m[0, 1] * r[1], m[0, 0] * r[1] - m[1, 0] * r[0]]) / det
    return jnp.linalg.solve(m, r)


def _solve3(m, r):
    """m^-1 r for a 3 x 3 matrix by its adjugate (NaN or inf where singular): a few fused
    operations under vmap, where a batched LAPACK call compiles slowly and loops over tiny matrices."""
    cof = jnp.stack([jnp.cross(m[1], m[2]), jnp.cross(m[2], m[0]), jnp.cross(m[0], m[1])])  # rows: cofactors
    det = jnp.dot(m[0], cof[0])
    return (cof.T @ r) / det


def _minimum(coef, center, low, high):
    """(x*, y*, inside): the parabola's vertex and whether it is a minimum strictly inside (low, high)."""
    c0, c1, c2 = coef[0], coef[1], coef[2]
    u = -c1 / (2 * c2)
    x = center + u
    inside = (c2 > 0) & (x > low) & (x < high) & jnp.isfinite(x)
    return x, c0 - c1 * c1 / (4 * c2), inside


def fit_line(x, y, w):
    """Weighted least squares y = intercept + slope x; returns (slope, intercept)."""
    mx = jnp.sum(w * x) / jnp.sum(w)
    my = jnp.sum(w * y) / jnp.sum(w)
    slope = jnp.sum(w * (x - mx) * (y - my)) / jnp.sum(w * (x - mx) ** 2)
    return slope, my - slope * mx


def _sweep(w, log_n, log_d, log_l, log_c, use, real, loss):
    """One data set (full or resampled): per-budget minima and the power laws through the used ones.

    w, log_n, log_d, log_l, real (the sweep's runs, whose range is the sweep's edge): (G, M);
    log_c, use: (G,). Returns a dict of arrays.
    """
    def one(w, xn, xd, y, real):
        big = jnp.finfo(xn.dtype).max
        cn, mn = _parabola(xn, y, w, loss)
        cd, md = _parabola(xd, y, w, loss)
        n_star, l_star, in_n = _minimum(cn, mn, jnp.min(jnp.where(real, xn, big)), jnp.max(jnp.where(real, xn, -big)))
        d_star, _, in_d = _minimum(cd, md, jnp.min(jnp.where(real, xd, big)), jnp.max(jnp.where(real, xd, -big)))
        return {"log_n": n_star, "log_d": d_star, "log_l": l_star, "inside": in_n & in_d,
                "coef_n": cn, "center_n": mn, "coef_d": cd, "center_d": md}

    per = jax.vmap(one)(w, log_n, log_d, log_l, real)
    ok = per["inside"] | ~use
    weight = jnp.where(use, 1.0, 0.0)
    safe = lambda v: jnp.where(use, v, 0.0)  # noqa: E731 (unused budgets must not carry NaN into the sums)
    a, log_gn = fit_line(log_c, safe(per["log_n"]), weight)
    b, log_gd = fit_line(log_c, safe(per["log_d"]), weight)
    gamma, log_gl = fit_line(log_c, safe(per["log_l"]), weight)
    return {**per, "a": a, "log_gn": log_gn, "b": b, "log_gd": log_gd, "loss_exponent": gamma, "log_gl": log_gl,
            "ok": jnp.all(ok)}


@functools.partial(jax.jit, static_argnames=("loss",))
def _full(w, real, log_n, log_d, log_l, log_c, use, *, loss):
    return _sweep(w, log_n, log_d, log_l, log_c, use, real, loss)


@functools.partial(jax.jit, static_argnames=("n_resamples", "loss"))
def _resampled(key_data, w, real, log_n, log_d, log_l, log_c, use, *, n_resamples, loss):
    """Every resample at once: each budget's runs drawn with replacement, (B, ...) outputs.

    All picks come from one uniform draw of shape (B, G, M) (one random-number kernel: a vmap of
    per-resample keys compiles several times slower)."""
    n_runs = jnp.sum(real, axis=1)  # (G,): a budget's runs fill its first slots
    width = w.shape[1]
    u = jax.random.uniform(jax.random.wrap_key_data(key_data), (n_resamples, *w.shape), dtype=w.dtype)
    picks = jnp.minimum(jnp.floor(u * n_runs[None, :, None]),
                        n_runs[None, :, None] - 1)  # (B, G, M), run index in budget
    used = jnp.arange(width)[None, :] < n_runs[:, None]  # (G, M): slots that draw
    counts = jnp.sum((picks[..., None] == jnp.arange(width)[None, None, None, :]) & used[None, :, :, None],
                     axis=-2).astype(w.dtype)
    return jax.vmap(lambda c: _sweep(w * c, log_n, log_d, log_l, log_c, use, real, loss))(counts)


class IsoFLOPResult(struct.PyTreeNode, kw_only=True):
    """Approach 2 of an isoFLOP sweep: per-budget minima and the power laws through them.

    Per run of the data (R,): `budget_index` (its budget, -1 for none). Per budget (G,): `budgets`
    (compute C, FLOP), `n_runs`, `included` (used by the power laws),
    `n_params`, `n_tokens`, `loss` (N*, D*, L* of its parabolas; NaN without a minimum), the
    parabola coefficients in log space (`coef_params`, `center_params`, `coef_tokens`,
    `center_tokens`: log L = c0 + c1 u + c2 u^2, u = log N - center or log D - center). Power laws:
    `a` (N* ~ C^a), `b` (D* ~ C^b), `loss_exponent` (L* ~ C^gamma) and their log prefactors.
    `draws` holds the same per resample, `draw_ok` which resamples count in the bands; `notes`
    the budgets left out and why. `jscale.compute_optimal(result, compute)` evaluates the power
    laws at any budgets, with bands.
    """

    budgets: np.ndarray
    budget_index: np.ndarray  # (R,) the budget of every run of the data, -1 for none
    n_runs: np.ndarray
    included: np.ndarray
    n_params: np.ndarray
    n_tokens: np.ndarray
    loss: np.ndarray
    coef_params: np.ndarray
    center_params: np.ndarray
    coef_tokens: np.ndarray
    center_tokens: np.ndarray
    exponents: dict  # a, b, a_plus_b, loss_exponent (scalars)
    prefactors: dict  # log G_N, log G_D, log G_L (scalars)
    draws: dict | None = None  # per-budget (B, G) and exponents / prefactors (B,)
    draw_ok: np.ndarray | None = None  # (B,)
    key: np.ndarray | None = None
    notes: tuple = struct.field(pytree_node=False, default=())

    usable = renamed("IsoFLOPResult", "usable", "draw_ok", "the usable-draw mask's one name")

    @property
    def n_resamples(self) -> int:
        return 0 if self.draw_ok is None else len(self.draw_ok)

    @property
    def banded(self) -> bool:
        """Whether at least 2 resamples are usable, so that there are bands."""
        return self.draws is not None and self.draw_ok.sum() >= 2

    def __allocation__(self, budgets) -> Allocation:
        """`jscale.compute_optimal(self, budgets)`: the power laws at `budgets`, banded over the
        usable resamples."""
        return frontier(budgets, self.exponents, self.prefactors, self.draws if self.banded else None,
                        self.draw_ok, "the isoFLOP sweep's power laws (Approach 2)")

    def diagnostics(self) -> list:
        """What the sweep left out or found doubtful (budgets under 3 sizes, minima at a sweep's
        edge, lopsided parabolas), as `jscale.warnings.Diagnostic` records; `jscale.isoflop` warned
        with them."""
        if not self.notes:
            return []
        return [Diagnostic("sweep", "isoFLOP sweep: " + "; ".join(self.notes) + ".", SweepWarning,
                           {"budgets": len(self.budgets), "included": int(np.sum(self.included))})]

    def interval(self, name: str, level: float = 0.95):
        """Percentile band over the usable resamples: of an exponent ("a", "b", "a_plus_b",
        "loss_exponent"), a scalar pair; of a per-budget quantity ("n_params", "n_tokens", "loss"),
        (G,) arrays."""
        if self.draws is None:
            raise ValueError("This result holds no resamples; run jscale.isoflop with n_resamples >= 2.")
        if name not in EXPONENTS + PER_BUDGET:
            raise ValueError(f"name must be one of {', '.join(EXPONENTS + PER_BUDGET)}; got {name!r}.")
        values = np.asarray(self.draws[name])[self.draw_ok]
        if len(values) < 2:
            raise ValueError("Fewer than 2 usable resamples: no band.")
        return band(values, level)

    def predict(self, compute, level: float = 0.95) -> dict:
        """Deprecated (until 0.4.0): `jscale.compute_optimal(result, compute)` gives the same
        values as an `Allocation` with `interval()`. A dict of (K,) arrays (n_params, n_tokens,
        loss and their _low / _high)."""
        warnings.warn("IsoFLOPResult.predict(compute) is now jscale.compute_optimal(result, compute) (predict "
                      "takes points and returns values); predict goes in 0.4.0.", DeprecationWarning, stacklevel=2)
        return legacy_dict(compute_optimal(self, compute), ("n_params", "n_tokens", "loss"), level)

    def compare(self, approach3, compute, level: float = 0.95) -> list[dict]:
        """N* and D* of this sweep's power laws (Approach 2) beside those of a law fitted to the
        same runs (Approach 3: `approach3` a FitResult or BootstrapResult, allocated under
        C = 6 N D), with their bands, at each `compute`: one dict per budget, with the ratio of
        the two N*."""
        c = np.atleast_1d(np.asarray(compute, np.float64))
        two = legacy_dict(compute_optimal(self, c), ("n_params", "n_tokens"), level)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DiagnosticWarning)  # the table says where the data ends
            three = compute_optimal(approach3, c)
            bands = {n: three.interval(n, level) for n in ("n_params", "n_tokens")} \
                if three.draws is not None or three.sd is not None else {}
        rows = []
        for k, ck in enumerate(c):
            row = {"compute": float(ck)}
            for name in ("n_params", "n_tokens"):
                row[f"{name}_2"] = float(two[name][k])
                for side in ("low", "high"):
                    if f"{name}_{side}" in two:
                        row[f"{name}_2_{side}"] = float(two[f"{name}_{side}"][k])
                row[f"{name}_3"] = float(getattr(three, name)[k])
                if name in bands:
                    row[f"{name}_3_low"], row[f"{name}_3_high"] = float(bands[name][0][k]), float(bands[name][1][k])
            row["ratio_n_params"] = row["n_params_2"] / row["n_params_3"]
            rows.append(row)
        return rows

    def summary(self, level: float = 0.95, *, approach3=None, compute=None) -> str:
        """The budgets' minima and the exponents with their bands; given `approach3` (a fit of a
        law of N and D to the same runs) and `compute`, N* of both approaches side by side."""
        lines = [f"jscale isoflop (Approach 2): {int(self.included.sum())} of {len(self.budgets)} budgets used"
                 + (f", {int(self.draw_ok.sum())} of {self.n_resamples} resamples usable" if self.draws is not None
                    else "")]
        lines.append(f"  {'compute':>10} {'runs':>5} {'N*':>11} {'D*':>11} {'L*':>8}  used")
        for k, c in enumerate(self.budgets):
            lines.append(f"  {c:10.3g} {int(self.n_runs[k]):5d} {self.n_params[k]:11.4g} {self.n_tokens[k]:11.4g} "
                         f"{self.loss[k]:8.4f}  {'yes' if self.included[k] else 'no'}")
        for name, label in (("a", "N* ~ C^a"), ("b", "D* ~ C^b"), ("a_plus_b", "a + b (1 under C = 6ND)"),
                            ("loss_exponent", "L* ~ C^gamma")):
            band = ""
            if self.banded:
                low, high = self.interval(name, level)
                band = f"   {100 * level:g}% ({low:.4f}, {high:.4f})"
            lines.append(f"  {label:<26} {self.exponents[name]:.4f}{band}")
        if approach3 is not None:
            if compute is None:
                raise ValueError("summary(approach3=...) needs compute= (the budgets to compare at).")
            lines.append(f"  N*(C), Approach 2 against Approach 3 ({100 * level:g}% bands):")
            for r in self.compare(approach3, compute, level):
                band2 = f" ({r['n_params_2_low']:.3g}, {r['n_params_2_high']:.3g})" if "n_params_2_low" in r else ""
                band3 = f" ({r['n_params_3_low']:.3g}, {r['n_params_3_high']:.3g})" if "n_params_3_low" in r else ""
                lines.append(f"    C = {r['compute']:.3g}: {r['n_params_2']:.4g}{band2} against {r['n_params_3']:.4g}"
                             f"{band3}, ratio {r['ratio_n_params']:.3f}")
        lines += [f"  note: {n}" for n in self.notes]
        return "\n".join(lines)

    def __repr__(self) -> str:
        return (f"IsoFLOPResult(Approach 2: {int(self.included.sum())} of {len(self.budgets)} budgets, "
                f"a={self.exponents['a']:.4f}, b={self.exponents['b']:.4f}, {self.n_resamples} resamples)")

    def to_dict(self, level: float = 0.95) -> dict:
        """Strict-JSON-ready: budgets, exponents, notes and (when resampled) the exponents' bands
        at `level`."""
        level = check_level(level)
        out = {"kind": "isoflop", "approach": 2, "n_resamples": self.n_resamples,
               "budgets": [{"compute": float(c), "n_runs": int(self.n_runs[k]), "included": bool(self.included[k]),
                            "n_params": float(self.n_params[k]), "n_tokens": float(self.n_tokens[k]),
                            "loss": float(self.loss[k])} for k, c in enumerate(self.budgets)],
               "exponents": {k: float(v) for k, v in self.exponents.items()}, "notes": list(self.notes)}
        if self.banded:
            out["level"] = level
            out["intervals"] = {k: [float(v) for v in self.interval(k, level)] for k in EXPONENTS}
        return strict_json(out)


def _budgets(data: ScalingData, budgets, rtol: float):
    """The runs grouped into budgets and padded to (G, M) arrays: (label (R,), budgets' compute
    (G,), runs per budget, real (G, M) slots holding a run, weights w (G, M), [log N, log D,
    log L] (G, M) each, budgets with under 3 sizes (G,), notes on what is left out)."""
    n = np.asarray(data.n_params, np.float64)
    d = np.asarray(data.n_tokens, np.float64)
    compute = np.asarray(data.compute, np.float64)  # given, or derived as 6 N D by ScalingData
    label, budget_c = group_by_compute(compute, budgets, rtol)
    n_groups = len(budget_c)
    n_runs = np.array([np.sum(label == g) for g in range(n_groups)])
    sizes = np.array([len(np.unique(n[label == g])) for g in range(n_groups)])
    notes = []
    few = sizes < 3
    for g in np.flatnonzero(few):
        notes.append(f"budget {budget_c[g]:.3g} FLOP has {sizes[g]} distinct model size"
                     f"{'s' if sizes[g] != 1 else ''}; a parabola needs at least 3: left out")
    outside = int(np.sum(label < 0))
    if outside:
        notes.append(f"{outside} run{'s are' if outside > 1 else ' is'} within rtol={rtol:g} of no budget: left out")
    width = max(3, int(n_runs.max()))
    weight = np.ones(len(n)) if data.weight is None else np.asarray(data.weight, np.float64)
    real = np.stack([np.arange(width) < k for k in n_runs])
    w = real * _padded(weight, label, n_groups, width)
    arrays = [_padded(np.log(v), label, n_groups, width) for v in (n, d, np.asarray(data.loss, np.float64))]
    # Budgets too small for a parabola get a placeholder, a well-posed dummy parabola, so that no
    # NaN reaches the batched sums; they are never used.
    for g in np.flatnonzero(few):
        arrays[0][g] = np.linspace(0.0, 1.0, width)
        arrays[1][g] = np.linspace(0.0, 1.0, width)
        arrays[2][g] = (arrays[0][g] - 0.5) ** 2
        w[g], real[g] = 1.0, True
    return label, budget_c, n_runs, real, w, arrays, few, notes


def isoflop(data: ScalingData, *, budgets=None, rtol: float = 0.1, loss="squared", delta=None,
            n_resamples: int | None = None, key=0, warn: bool | None = None) -> IsoFLOPResult:
    """Chinchilla's Approach 2 on an isoFLOP sweep: a parabola of log loss in log N (and in log D)
    per compute budget, its minimum, and the power laws N*(C) = G_N C^a, D*(C) = G_D C^b and
    L*(C) = G_L C^gamma through the minima, with bands from resampling runs within each budget.

    Args:
        data: the sweep's runs (n_params, n_tokens, loss; compute given or C = 6 N D; row weights,
            if given, weight the parabolas' least squares).
        budgets: the budgets' compute (FLOP); each run joins the one within `rtol` of its compute
            (runs near none are left out). Default: budgets found from the runs' compute.
        rtol: relative tolerance on compute within a budget.
        loss: of the parabolas' residuals in log loss: "squared" (weighted least squares, the
            default) or a robust loss, e.g. jscale.losses.Huber(1e-3), fitted by iteratively reweighted
            least squares (a run far off its budget's curve then moves the minimum less).
        delta: the Huber threshold with loss="huber" (default 1e-3), as for `jscale.fit`.
        n_resamples: resamples of runs within each budget (default 1000; 0 for none).
        key: integer seed or JAX PRNG key of the resamples.
        warn: deprecated (goes in 0.4.0): the findings are `jscale.warnings.SweepWarning`s, silenced
            as every diagnostic is, and listed by `IsoFLOPResult.diagnostics()`.

    Returns:
        An `IsoFLOPResult`.

    Example:
        >>> import jscale  # doctest: +SKIP
        >>> result = jscale.isoflop(sweep, n_resamples=1000, key=0)  # doctest: +SKIP
        >>> print(result.summary())  # doctest: +SKIP
    """
    if not isinstance(data, ScalingData):
        raise TypeError(f"data must be a jscale.ScalingData; got {type(data).__name__}.")
    data.require("n_params", "n_tokens", "loss", who="An isoFLOP sweep")
    if not (isinstance(rtol, (int, float)) and not isinstance(rtol, bool) and 0 < rtol < 1):
        raise ValueError(f"rtol must be a number in (0, 1); got {rtol!r}.")
    n_resamples = check_resamples(n_resamples)
    loss = resolve_loss(loss, delta)
    label, budget_c, n_runs, real, w, arrays, few, notes = _budgets(data, budgets, rtol)
    n_groups = len(budget_c)
    log_c = np.log(budget_c)
    use = ~few
    with x64_scope():
        args = [jnp.asarray(a) for a in (w, real, *arrays, log_c)]
        full = jax.tree.map(np.asarray, _full(*args, jnp.asarray(use), loss=loss))
        edge = use & ~full["inside"]
        for g in np.flatnonzero(edge):
            sizes_g = np.exp(arrays[0][g][real[g]])
            notes.append(f"budget {budget_c[g]:.3g} FLOP has its minimum at or beyond the edge of its sweep (sizes "
                         f"{sizes_g.min():.3g} to {sizes_g.max():.3g}): the parabola would extrapolate; left out")
        use = use & ~edge
        if use.sum() < 2:
            raise ValueError(
                f"An isoFLOP fit needs at least 2 budgets with a minimum inside their sweep; {int(use.sum())} of "
                f"{n_groups} have one ({'; '.join(notes) or 'no budget found'})."
            )
        if edge.any():
            full = jax.tree.map(np.asarray, _full(*args, jnp.asarray(use), loss=loss))
        notes += _shape_notes(budget_c, arrays[0], arrays[2], w, full["log_n"], use)
        draws = draw_ok = key_data = None
        if n_resamples:
            key_data = as_key_data(key)
            out = jax.tree.map(np.asarray, _resampled(jnp.asarray(key_data), *args, jnp.asarray(use),
                                                      n_resamples=int(n_resamples), loss=loss))
            draw_ok = out["ok"] & np.isfinite(out["a"]) & np.isfinite(out["b"])
            draws = {"n_params": np.exp(out["log_n"]), "n_tokens": np.exp(out["log_d"]), "loss": np.exp(out["log_l"]),
                     "a": out["a"], "b": out["b"], "a_plus_b": out["a"] + out["b"],
                     "loss_exponent": out["loss_exponent"], "log_gn": out["log_gn"], "log_gd": out["log_gd"],
                     "log_gl": out["log_gl"]}
            draws = {k: read_only(v) for k, v in draws.items()}
    nan = np.where(use, 1.0, np.nan)  # no minimum inside the sweep: none reported
    result = IsoFLOPResult(
        budgets=read_only(budget_c), budget_index=read_only(label), n_runs=read_only(n_runs),
        included=read_only(use),
        n_params=read_only(np.exp(full["log_n"]) * nan), n_tokens=read_only(np.exp(full["log_d"]) * nan),
        loss=read_only(np.exp(full["log_l"]) * nan),
        coef_params=read_only(full["coef_n"]), center_params=read_only(full["center_n"]),
        coef_tokens=read_only(full["coef_d"]), center_tokens=read_only(full["center_d"]),
        exponents={"a": float(full["a"]), "b": float(full["b"]), "a_plus_b": float(full["a"] + full["b"]),
                   "loss_exponent": float(full["loss_exponent"])},
        prefactors={"log_gn": float(full["log_gn"]), "log_gd": float(full["log_gd"]), "log_gl": float(full["log_gl"])},
        draws=draws, draw_ok=None if draw_ok is None else read_only(draw_ok),
        key=None if key_data is None else read_only(key_data), notes=tuple(notes),
    )
    if warn is not None:
        warnings.warn("isoflop's warn= goes in 0.4.0: its findings are jscale.warnings.SweepWarning, silenced as "
                      "every diagnostic is (warnings.simplefilter('ignore', jscale.warnings.SweepWarning)) and "
                      "listed by result.diagnostics().", DeprecationWarning, stacklevel=2)
    if warn is not False:
        warn_all(result.diagnostics(), stacklevel=2)
    return result


@dataclasses.dataclass(frozen=True)
class SweepPlan:
    """The runs of a planned isoFLOP sweep, one row per run: `budget` (the sweep's compute C),
    `n_params`, `n_tokens` (D = C / 6N) and `compute` (6 N D, equal to the budget), NumPy (R,);
    `center` (G,) the predicted N* each budget's sizes are centred on."""

    budget: np.ndarray
    n_params: np.ndarray
    n_tokens: np.ndarray
    compute: np.ndarray
    center: np.ndarray

    @property
    def total_compute(self) -> float:
        """FLOP of all the planned runs together."""
        return float(np.sum(self.compute))

    def rows(self) -> list[dict]:
        """The runs as dicts (budget, n_params, n_tokens, compute)."""
        return [{"budget": float(c), "n_params": float(n), "n_tokens": float(d), "compute": float(f)}
                for c, n, d, f in zip(self.budget, self.n_params, self.n_tokens, self.compute)]

    def __repr__(self) -> str:
        n_budgets = len(np.unique(self.budget))
        return f"SweepPlan({n_budgets} budgets, {len(self.budget)} runs, {self.total_compute:.3g} FLOP)"

    def to_dict(self, level: float | None = None) -> dict:
        """Strict-JSON-ready: the runs and the centres. A plan has no bands: `level` is taken so that
        every result answers the same call, and changes nothing."""
        return strict_json({"kind": "sweep_plan", "runs": self.rows(), "center": self.center,
                            "total_compute": self.total_compute})

    def summary(self, level: float | None = None) -> str:
        """The runs, one line each (`level`: as in `to_dict`)."""
        n_budgets = len(np.unique(self.budget))
        lines = [f"isoFLOP sweep plan: {n_budgets} budget{'s' if n_budgets > 1 else ''}, {len(self.budget)} runs, "
                 f"{self.total_compute:.3g} FLOP in all",
                 f"  {'budget':>10} {'n_params':>11} {'n_tokens':>11} {'D/N':>8}"]
        lines += [f"  {c:10.3g} {n:11.4g} {d:11.4g} {d / n:8.2f}" for c, n, d in
                  zip(self.budget, self.n_params, self.n_tokens)]
        return "\n".join(lines)


def plan_isoflop(budgets, result, *, n_sizes: int = 7, span: float = 4.0, params=None, width=None) -> SweepPlan:
    """An isoFLOP sweep centred on the predicted compute-optimal size of each budget.

    At each budget C, `n_sizes` model sizes spaced evenly in log N from N* / `span` to
    N* `span`, where N* is the compute-optimal size that `result` predicts (`compute_optimal`
    under C = 6 N D); each run trains on D = C / 6N tokens. Centred sweeps keep Approach 2's
    parabola symmetric about its minimum; narrow ones (span 2 to 4) keep its bias small, and an
    odd `n_sizes` puts one run at the predicted optimum.

    Args:
        budgets: compute budgets C (FLOP).
        result: a `FitResult`, a `BootstrapResult`, an `IsoFLOPResult` (its power law N*(C)) or a
            law object with `params=`.
        n_sizes: model sizes per budget (at least 3).
        span: factor either side of N* that the sizes reach (more than 1).
        params: natural parameters when `result` is a law.
        width: the old name of `span` (until 0.4.0; `width` means an interval's relative width
            elsewhere, e.g. in `runs_needed`).

    Returns:
        A `SweepPlan` (its runs, `total_compute`, `summary()`, `rows()`).

    Example:
        >>> import jscale
        >>> law = jscale.laws.Chinchilla()
        >>> epoch = dict(E=1.81686, A=482.00572, B=2085.43420, alpha=0.34781, beta=0.36585)
        >>> plan = jscale.plan_isoflop([1e19, 1e20], law, params=epoch, n_sizes=5, span=3.0)
        >>> len(plan.n_params), f"{plan.total_compute:.2g}"
        (10, '5.5e+20')
    """
    budgets = np.atleast_1d(np.asarray(budgets, np.float64))
    if budgets.ndim != 1 or not budgets.size or not np.all(np.isfinite(budgets) & (budgets > 0)):
        raise ValueError(f"budgets must be positive finite numbers; got {budgets!r}.")
    if isinstance(n_sizes, bool) or not isinstance(n_sizes, (int, np.integer)) or not 3 <= n_sizes <= MAX_SIZES:
        raise ValueError(f"n_sizes must be an integer from 3 (a parabola needs 3 sizes) to {MAX_SIZES}; got "
                         f"{n_sizes!r}.")
    if width is not None:
        warnings.warn("plan_isoflop's width= is now span= (width is an interval's relative width elsewhere); "
                      "width= goes in 0.4.0.", DeprecationWarning, stacklevel=2)
        span = width
    if isinstance(span, bool) or not isinstance(span, (int, float)) or not (1 < span <= MAX_SPAN):
        raise ValueError(f"span must be a factor above 1 and at most {MAX_SPAN:g} (e.g. 4.0: sizes from N*/4 to "
                         f"4 N*); got {span!r}.")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DiagnosticWarning)  # planning beyond the data is the point
        center = np.asarray(compute_optimal(result, budgets, params=params).n_params)
    sizes = center[:, None] * np.geomspace(1 / span, span, int(n_sizes))[None, :]
    budget = np.repeat(budgets, int(n_sizes))
    n = sizes.ravel()
    d = budget / (6 * n)
    bad = ~(np.isfinite(n) & np.isfinite(d) & np.isfinite(6 * n * d) & (n > 0) & (d > 0))
    if bad.any():
        raise ValueError(f"The sweep at budget {budget[np.argmax(bad)]:.3g} has no finite sizes and tokens (N = "
                         f"{n[np.argmax(bad)]:.3g}, D = {d[np.argmax(bad)]:.3g}): a budget or span beyond what float64 "
                         "holds, or a law whose optimum there is not finite.")
    return SweepPlan(budget=read_only(budget), n_params=read_only(n), n_tokens=read_only(d),
                     compute=read_only(6 * n * d), center=read_only(center))
