"""Shared problems with known answers for the jscale tests.

* `synthetic_chinchilla`: exact Chinchilla losses on a log-spaced N x D grid, so a correct fit
  recovers the generating parameters to rounding.
* `CHINCHILLA_REFERENCE`, `CHINCHILLA_HUBER_SUM`: the grid-fit optimum on the 240 runs Epoch AI
  keeps (Besiroglu et al. 2024, arXiv:2404.10102, `data_analysis.ipynb`; see
  shared/data/SOURCES.md section 1).
* `chinchilla_objective_and_grad`: the same objective written in NumPy, for scipy references.
"""

from __future__ import annotations

import collections
import contextlib
import functools
import warnings
from pathlib import Path

import jax
import numpy as np

import jscale

# Parameters of the synthetic problem: close to the Chinchilla fit but not equal to it.
SYNTHETIC_PARAMS = dict(E=1.7, A=400.0, B=1500.0, alpha=0.33, beta=0.29)

# Published grid-fit optimum on the 240 kept runs, natural parameters (SOURCES.md section 1).
CHINCHILLA_REFERENCE = dict(A=477.8, B=2143.0, E=1.8172, alpha=0.34731, beta=0.36718)
# Its objective: the sum of Huber losses (delta = 1e-3) of log residuals.
CHINCHILLA_HUBER_SUM = 0.00101827402
CHINCHILLA_ROWS = 240

# Hoffmann et al. 2022 Approach 3, unrounded (Epoch AI's notebook; SOURCES.md section 1): a second
# synthetic truth, with B much smaller than above.
HOFFMANN_PARAMS = dict(E=1.69337368, A=406.401018, B=410.722827, alpha=0.33917084, beta=0.2849083)

# Every 113th start of Hoffmann's grid: 40 starts that reach the global optimum, several
# degenerate minima (E -> 0) and a few stalls, in a couple of seconds per fit.
SUBSET_STEP = 113


def synthetic_chinchilla(params: dict | None = None, n: int = 8) -> jscale.ScalingData:
    """Exact losses L = E + A N^-alpha + B D^-beta on an n x n log-spaced grid.

    N runs over 1e7..1e10 parameters and D over 1e8..1e11 tokens, n values each (n^2 rows).

    Args:
        params: natural parameters E, A, B, alpha, beta; default `SYNTHETIC_PARAMS`.
        n: grid points per axis.

    Returns:
        A ScalingData with n_params, n_tokens, compute (derived) and loss.
    """
    p = dict(SYNTHETIC_PARAMS if params is None else params)
    n_params, n_tokens = np.meshgrid(np.logspace(7, 10, n), np.logspace(8, 11, n), indexing="ij")
    n_params, n_tokens = n_params.ravel(), n_tokens.ravel()
    loss = chinchilla_loss(p, n_params, n_tokens)
    return jscale.ScalingData.from_arrays(n_params=n_params, n_tokens=n_tokens, loss=loss)


def problem_of(law, data, loss=None, **kwargs):
    """The kernel's `Problem` of `data` as JAX arrays (call inside `x64_scope`)."""
    from jscale.engine._problem import build, to_device

    return to_device(build(law, loss or jscale.losses.Huber(), data, **kwargs))


def chinchilla_loss(params: dict, n_params, n_tokens) -> np.ndarray:
    """L = E + A / N^alpha + B / D^beta in NumPy float64 (Hoffmann et al. 2022, eq. 2)."""
    n_params = np.asarray(n_params, np.float64)
    n_tokens = np.asarray(n_tokens, np.float64)
    p = params
    return p["E"] + p["A"] * n_params ** -p["alpha"] + p["B"] * n_tokens ** -p["beta"]


def chinchilla_free(params: dict) -> np.ndarray:
    """Natural parameters to the free vector (log E, log A, log B, alpha, beta)."""
    return np.array(
        [np.log(params["E"]), np.log(params["A"]), np.log(params["B"]), params["alpha"], params["beta"]]
    )


def chinchilla_objective_and_grad(data: jscale.ScalingData, delta: float = 1e-3):
    """The Chinchilla Huber objective and its analytic gradient, in NumPy, for scipy.

    F(x) = sum_i huber_delta(log L_i - LSE(log A - alpha log N_i, log B - beta log D_i, log E)),
    with x = (log E, log A, log B, alpha, beta) (Besiroglu et al. 2024).

    Returns:
        A function x (5,) -> (F, dF/dx (5,)).
    """
    log_n, log_d, log_l = np.log(data.n_params), np.log(data.n_tokens), np.log(data.loss)

    def f_and_grad(x):
        log_e, log_a, log_b, alpha, beta = x
        ta, tb = log_a - alpha * log_n, log_b - beta * log_d
        m = np.maximum(np.maximum(ta, tb), log_e)
        ea, eb, ee = np.exp(ta - m), np.exp(tb - m), np.exp(log_e - m)
        total = ea + eb + ee
        r = log_l - (m + np.log(total))
        a = np.abs(r)
        rho = np.where(a <= delta, 0.5 * r * r, delta * (a - 0.5 * delta))
        # dF/dx = -sum_i psi(r_i) d log_pred_i / dx, with the softmax weights of the three terms.
        c = -np.clip(r, -delta, delta) / total
        grad = np.array([c @ ee, c @ ea, c @ eb, -(c * ea) @ log_n, -(c * eb) @ log_d])
        return float(rho.sum()), grad

    return f_and_grad


def subset_starts(law=None) -> np.ndarray:
    """A (40, 5) subset of the default grid: `law.default_starts()[::SUBSET_STEP]`."""
    law = jscale.laws.Chinchilla() if law is None else law
    return law.default_starts()[::SUBSET_STEP]


@functools.cache
def chinchilla_grid_fit() -> jscale.results.FitResult:
    """The published replication: Chinchilla on the 240 kept runs from all 4,500 grid starts.

    Cached, so the ~5 s fit runs once per test session whichever module asks first. A
    `ConvergenceWarning` is an error here: the best start must converge. Its expected finding
    (A with alpha and B with beta strongly correlated) is named here, not in whichever module
    happens to ask first.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("error", jscale.warnings.ConvergenceWarning)
        warnings.simplefilter("ignore", jscale.warnings.CorrelationWarning)
        return jscale.fit(jscale.laws.Chinchilla(), jscale.datasets.load("chinchilla"))


@functools.cache
def synthetic_fit(loss: str = "huber", which: str = "synthetic") -> jscale.results.FitResult:
    """A fit of `synthetic_chinchilla` (`which`: "synthetic" or "hoffmann" truth) from the subset.

    Cached and shared by the fit, batch and results tests (one compilation per loss).
    """
    params = SYNTHETIC_PARAMS if which == "synthetic" else HOFFMANN_PARAMS
    data = synthetic_chinchilla(params)
    with warnings.catch_warnings():
        warnings.simplefilter("error", jscale.warnings.ConvergenceWarning)
        return jscale.fit(jscale.laws.Chinchilla(), data, starts=subset_starts(), loss=loss)


def shared_data_dir() -> Path | None:
    """The project's shared/data folder (../shared/data beside the repo), or None if absent."""
    path = Path(__file__).resolve().parents[2] / "shared" / "data"
    return path if path.is_dir() else None


# Epoch AI's bootstrap of the 240 kept runs: 4,000 row resamples, each refit by BFGS (Besiroglu
# et al. 2024, Table 1; SOURCES.md section 1): standard errors and 95% percentile intervals.
EPOCH_BOOTSTRAP_SE = dict(E=0.02566, A=124.52232, B=1293.28410, alpha=0.01540, beta=0.02060)
EPOCH_BOOTSTRAP_CI = dict(
    E=(1.769, 1.871), A=(285.214, 743.626), B=(1042.357, 5810.344), alpha=(0.317, 0.373), beta=(0.331, 0.415)
)


def noisy_chinchilla(params: dict | None = None, n: int = 10, sigma: float = 0.01, seed: int = 0,
                     n_range=(7, 10), d_range=(8, 11)) -> jscale.ScalingData:
    """Chinchilla losses on an n x n log-spaced grid times exp(N(0, sigma^2)) noise (log-normal)."""
    p = dict(SYNTHETIC_PARAMS if params is None else params)
    n_params, n_tokens = np.meshgrid(np.logspace(*n_range, n), np.logspace(*d_range, n), indexing="ij")
    n_params, n_tokens = n_params.ravel(), n_tokens.ravel()
    noise = np.random.default_rng(seed).normal(0.0, sigma, n_params.size)
    loss = chinchilla_loss(p, n_params, n_tokens) * np.exp(noise)
    return jscale.ScalingData.from_arrays(n_params=n_params, n_tokens=n_tokens, loss=loss)


def run_on_cpu_devices(code: str, n_devices: int) -> None:
    """Runs `code` in a fresh Python with `n_devices` forced CPU devices; it must print exactly "ok"."""
    import os
    import subprocess
    import sys
    import textwrap

    env = {k: v for k, v in os.environ.items() if k != "JAX_NUM_CPU_DEVICES"}
    flags = env.get("XLA_FLAGS", "") + f" --xla_force_host_platform_device_count={n_devices}"
    env.update(XLA_FLAGS=flags.strip(), JAX_PLATFORMS="cpu")
    out = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, env=env,
                         timeout=600)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok", out.stdout


def quiet(fn, *args, **kwargs):
    """fn(*args, **kwargs) with jscale.warnings.IntervalWarning silenced (tests that expect the warning say so)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", jscale.warnings.IntervalWarning)
        return fn(*args, **kwargs)


# JAX's own monitoring event for a top-level jit trace (jax._src.dispatch.JAXPR_TRACE_EVENT).
_TRACE_EVENT = "/jax/core/compile/jaxpr_trace_duration"


@contextlib.contextmanager
def traces():
    """Counts, by function name, the jit traces of top-level jitted calls while the block runs, from
    JAX's monitoring events: the library keeps no counter for its tests."""
    counts = collections.Counter()

    def listener(event, duration, **kwargs):
        if event == _TRACE_EVENT:
            counts[kwargs.get("fun_name")] += 1

    jax.monitoring.register_event_duration_secs_listener(listener)
    try:
        yield counts
    finally:
        jax.monitoring.unregister_event_duration_listener(listener)


# Epoch AI's refit of Chinchilla (Besiroglu et al. 2024): the truth of the small simulated studies below.
EPOCH = dict(E=1.81686, A=482.00572, B=2085.43420, alpha=0.34781, beta=0.36585)


def epoch_loss(n, d):
    """Exact losses of Epoch's Chinchilla law."""
    return EPOCH["E"] + EPOCH["A"] * n ** -EPOCH["alpha"] + EPOCH["B"] * d ** -EPOCH["beta"]


def isoflop_runs() -> jscale.ScalingData:
    """An exact isoFLOP sweep: 3 budgets x 7 sizes."""
    rows = [(n, c / (6 * n)) for c in (1e18, 1e19, 1e20) for n in np.geomspace(3e7, 3e9, 7)]
    n, d = map(np.array, zip(*rows))
    return jscale.ScalingData.from_arrays(n_params=n, n_tokens=d, loss=epoch_loss(n, d))


def curve_runs() -> jscale.ScalingData:
    """Exact training curves: 8 runs (the group column) of 12 checkpoints each."""
    rows = [(n, d, f"run{k}") for k, n in enumerate(np.geomspace(3e7, 3e9, 8)) for d in np.geomspace(1e9, 1e12, 12)]
    n, d, run = map(np.array, zip(*rows))
    return jscale.ScalingData.from_arrays(n_params=n, n_tokens=d, loss=epoch_loss(n, d), group=run)
