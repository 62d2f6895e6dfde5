"""Times the full Hoffmann-grid Chinchilla fit: jscale beside every strong baseline, in one run and one table.

    python benchmarks/bench_chinchilla_grid.py            # full grid, appends to RESULTS.md
    python benchmarks/bench_chinchilla_grid.py --scipy-starts 300 --no-append   # quick look

Every row fits the 240 kept rows of the Epoch AI Chinchilla data (jscale.datasets.load("chinchilla"))
from the 4,500 starts of Hoffmann's grid and minimises the same objective: the sum of Huber (delta
1e-3) losses of the log residuals of the Chinchilla law, float64 throughout. The rows:

* scipy `minimize(method="L-BFGS-B")` (scipy's defaults: no bounds, default options) with
  `fast_objective`, the fastest NumPy objective and gradient we found: log N, log D and log L
  precomputed once, one call returning (value, gradient), a log-sum-exp shifted by np.maximum, the
  three exponentials in one preallocated (3, rows) buffer and the gradient as one (3, rows) x
  (rows, 3) product. Variants tried, time per call against this one's: five separate reductions
  1.1x, np.clip for the clamp 1.25x, two np.logaddexp 1.3x, `scipy_objectives`' 7-10x. Whole fits
  differ less among the first four, since scipy's own work per evaluation (about 25 us on a quiet
  2-core Xeon) is about that of the objective (18 us); all four reach the same optimum to 1e-9;
* the same with `scipy_objectives`' analytic gradient (scipy.special.logsumexp over stacked terms);
* the same with finite-difference gradients, as Epoch AI ran it (`--skip-fd` skips it);
* optimistix `minimise(fn, BFGS(rtol=1e-8, atol=1e-8), y0, max_steps=500, throw=False)` and
  jaxopt `LBFGS(fun, maxiter=300, tol=1e-12, maxls=10).run`, each vmapped over the starts under
  jit in float64 (x64 enabled in their own process only). Under vmap every start runs until the
  slowest stops, so time grows with the step limit, not with the typical start. The settings give
  the most starts at the best without absurd time, on evenly spaced starts: optimistix (300
  starts) reached 48 at rtol=atol=1e-6 and 300 steps, 53 at 1e-8 and 300 steps, and 54 at 1e-8
  and 500 steps, as at 1000 steps and at 1e-10 or 1e-12; jaxopt (150 starts, tol on the gradient's
  norm) reached 5 at tol=1e-8 and 150 iterations, 19 at 300, 500 or 1000, then 21, 26 and 27 at
  tol=1e-10, 1e-12 and 1e-14 (300 iterations), and 28 at 1e-12 with 500 iterations for 1.7x the
  time. maxls=10 instead of jaxopt's default 30: every vmapped line search runs to the worst
  start's trial count, and on 60 starts the default took 25 s against 2.8 s for as many starts at
  the best. A peer that cannot be imported is printed as not installed;
* jscale (`jscale.fit`, default solver) on 1 CPU device, and on as many CPU devices as there are
  cores (`JAX_NUM_CPU_DEVICES`);
* jscale with `solver=jscale.solvers.LBFGS()` (optax L-BFGS, zoom line search) on 1 device, one warm call.

The JAX rows each run in a fresh subprocess, so one device and thread configuration is clean
and compile time is measured apart; their time is the median of up to `--repeats` warm calls
(fewer once warm calls have taken a minute), their compile time the first call minus a warm one.
The scipy rows take turns over chunks of 50 starts, so that a shared machine's changing load
falls on them alike. The starts at the best count the starts within relative 1e-8 of the lowest
objective any row found in the run. Ratios are fits per second against the fastest scipy row of
the same run. `--scipy-starts` (and `--peer-starts`, which defaults to it) time the baselines on
an evenly spaced subset; their grid time is then projected from their rate.
"""

from __future__ import annotations

import argparse
import datetime
import importlib
import json
import os
import platform
import shlex
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
DELTA = 1e-3
AT_BEST_RTOL = 1e-8
PEERS = {  # JAX peer -> its settings (see the module docstring for how they were chosen)
    "optimistix": "optimistix BFGS (rtol=atol=1e-8, max_steps=500), vmapped, 1 CPU device",
    "jaxopt": "jaxopt LBFGS (tol=1e-12, maxiter=300, maxls=10), vmapped, 1 CPU device",
}
WARM_BUDGET_S = 60.0  # stop repeating warm calls once they have taken this long


def load_problem():
    import jscale

    data = jscale.datasets.load("chinchilla")
    starts = jscale.laws.Chinchilla().default_starts()  # free order: log_E, log_A, log_B, alpha, beta
    return np.log(data.n_params), np.log(data.n_tokens), np.log(data.loss), starts


def evenly_spaced(starts, n: int | None):
    """`n` evenly spaced rows of `starts` (all of them when n is None or 0)."""
    if not n:
        return starts
    return starts[np.linspace(0, len(starts) - 1, n).round().astype(int)]


def scipy_objectives(log_n, log_d, log_l):
    from scipy.special import logsumexp

    def huber(r):
        a = np.abs(r)
        return np.where(a <= DELTA, 0.5 * r * r, DELTA * (a - 0.5 * DELTA))

    def f(x):
        e, a, b, alpha, beta = x
        pred = logsumexp([a - alpha * log_n, b - beta * log_d, np.full_like(log_n, e)], axis=0)
        return huber(log_l - pred).sum()

    def f_and_grad(x):
        e, a, b, alpha, beta = x
        z = np.stack([np.full_like(log_n, e), a - alpha * log_n, b - beta * log_d])
        pred = logsumexp(z, axis=0)
        s = np.exp(z - pred)
        r = log_l - pred
        psi = np.clip(r, -DELTA, DELTA)
        dpred = np.stack([s[0], s[1], s[2], -s[1] * log_n, -s[2] * log_d])
        return huber(r).sum(), -(dpred * psi).sum(axis=1)

    return f, f_and_grad


def fast_objective(log_n, log_d, log_l):
    """The Huber objective and its analytic gradient in one call, with as few NumPy calls as we found.

    Huber's value is psi (r - psi / 2) with psi = clip(r, -delta, delta), its derivative. The
    three exponents are shifted by their maximum, exponentiated in one preallocated buffer and
    then scaled by psi / their sum, so that one product with the columns (1, log N, log D) holds
    every gradient entry.
    """
    log_n, log_d, log_l = (np.ascontiguousarray(v, dtype=np.float64) for v in (log_n, log_d, log_l))
    terms = np.empty((3, log_n.size))  # rows: the E, A and B terms
    columns = np.stack([np.ones_like(log_n), log_n, log_d], axis=1)
    pick = np.array([0, 3, 6, 4, 8])  # of the flat 3x3 product: E, A, B against 1; A against log N; B against log D
    sign = np.array([-1.0, -1.0, -1.0, 1.0, 1.0])

    def f_and_grad(x):
        e, a, b, alpha, beta = x
        z_a = a - alpha * log_n
        z_b = b - beta * log_d
        top = np.maximum(np.maximum(z_a, z_b), e)
        np.subtract(e, top, out=terms[0])
        np.subtract(z_a, top, out=terms[1])
        np.subtract(z_b, top, out=terms[2])
        np.exp(terms, out=terms)
        total = terms.sum(axis=0)
        r = log_l - top - np.log(total)
        psi = np.minimum(np.maximum(r, -DELTA), DELTA)
        np.multiply(terms, psi / total, out=terms)
        return float(psi @ (r - 0.5 * psi)), (terms @ columns).take(pick) * sign

    return f_and_grad


def run_scipy(starts, methods: dict, chunk: int = 50) -> dict:
    """scipy L-BFGS-B (its defaults) from every start with each method (name -> (fun, jac)); a row per name.

    The methods take turns over chunks of `chunk` starts, so that a shared machine's changing load
    falls on all of them alike.
    """
    from scipy.optimize import minimize

    seconds, nfev, objectives = dict.fromkeys(methods, 0.0), dict.fromkeys(methods, 0), {n: [] for n in methods}
    for i in range(0, len(starts), chunk):
        for name, (fun, jac) in methods.items():
            t0 = time.perf_counter()
            for x0 in starts[i:i + chunk]:
                res = minimize(fun, x0=x0, jac=jac, method="L-BFGS-B")
                objectives[name].append(res.fun)
                nfev[name] += res.nfev
            seconds[name] += time.perf_counter() - t0
    n = len(starts)
    return {name: {"seconds": seconds[name], "fits_per_s": n / seconds[name], "evals_per_start": nfev[name] / n,
                   "objectives": np.asarray(objectives[name]), "n_starts": n} for name in methods}


def xla_compile_listener() -> list:
    """A list that collects XLA's own compile times (tracing and lowering apart) from now on."""
    import jax

    seconds = []
    jax.monitoring.register_event_duration_secs_listener(
        lambda event, s, **kw: seconds.append(s) if event == "/jax/core/compile/backend_compile_duration" else None)
    return seconds


def timed_calls(call, repeats: int):
    """First call's seconds, warm calls' seconds and the last result.

    Warm calls: up to `repeats`, at least one, and no more once they have taken WARM_BUDGET_S.
    """
    t0 = time.perf_counter()
    call()
    first = time.perf_counter() - t0
    times = []
    while len(times) < max(repeats, 1) and (not times or sum(times) < WARM_BUDGET_S):
        t0 = time.perf_counter()
        result = call()
        times.append(time.perf_counter() - t0)
    return first, times, result


def timing(first: float, times: list, xla: list) -> dict:
    """The timing fields of a JAX row: median warm call, fastest, compile (first minus median), XLA's share."""
    seconds = float(np.median(times))
    return {"seconds": seconds, "min_seconds": float(min(times)), "compile_seconds": first - seconds,
            "xla_compile_seconds": float(sum(xla))}


def run_jscale_child(repeats: int, solver: str) -> dict:
    """Runs in a subprocess: times jscale.fit on the full grid and returns the row."""
    import jax

    import jscale

    data = jscale.datasets.load("chinchilla")
    law = jscale.laws.Chinchilla()
    kwargs = {"solver": jscale.solvers.LBFGS()} if solver == "lbfgs" else {}
    xla = xla_compile_listener()
    first, times, result = timed_calls(lambda: jscale.fit(law, data, **kwargs), repeats)
    row = timing(first, times, xla)
    flops = None
    if solver != "lbfgs":  # FLOPs of the run: XLA's count for one step of one fit x the steps taken
        from bench_scaling import step_flops

        from jscale.engine import _problem
        from jscale.losses._losses import resolve_loss

        problem = _problem.to_device(_problem.build(law, resolve_loss("huber", None), data))
        solver = jscale.solvers.RobustGaussNewton()
        flops = step_flops(law, result.loss_function, problem, solver) * float(np.sum(result.n_steps))
    return row | {
        "flops": flops, "fits_per_s": result.n_starts / row["seconds"],
        "evals_per_start": float(np.mean(result.n_steps)), "objectives": result.objectives.tolist(),
        "n_starts": result.n_starts, "devices": jax.local_device_count(),
    }


def jax_objective(x, data):
    """The same objective in jax.numpy: x in free order, data = (log N, log D, log L)."""
    import jax.numpy as jnp

    log_n, log_d, log_l = data
    e, a, b, alpha, beta = x
    r = log_l - jnp.logaddexp(jnp.logaddexp(a - alpha * log_n, b - beta * log_d), e)
    psi = jnp.clip(r, -DELTA, DELTA)
    return jnp.sum(psi * (r - 0.5 * psi))


def peer_solve(peer: str, data):
    """One start's solve with `peer`: x0 -> (objective at the end, steps taken)."""
    if peer == "optimistix":
        import optimistix as optx

        solver = optx.BFGS(rtol=1e-8, atol=1e-8)

        def solve(x0):
            sol = optx.minimise(jax_objective, solver, x0, args=data, max_steps=500, throw=False)
            return jax_objective(sol.value, data), sol.stats["num_steps"]
    else:
        import jaxopt

        solver = jaxopt.LBFGS(fun=jax_objective, maxiter=300, tol=1e-12, maxls=10)

        def solve(x0):
            params, state = solver.run(x0, data)
            return jax_objective(params, data), state.iter_num
    return solve


def run_peer_child(peer: str, repeats: int, n_starts: int | None) -> dict:
    """Runs in a subprocess: times `peer`, vmapped over the starts under jit in float64, and returns the row."""
    try:
        importlib.import_module(peer)
    except ImportError:
        return {"missing": True}
    import jax

    jax.config.update("jax_enable_x64", True)  # this process only
    import jax.numpy as jnp

    log_n, log_d, log_l, starts = load_problem()
    data = tuple(jnp.asarray(v, dtype=jnp.float64) for v in (log_n, log_d, log_l))
    x0 = jnp.asarray(evenly_spaced(starts, n_starts), dtype=jnp.float64)
    solve = jax.jit(jax.vmap(peer_solve(peer, data)))
    xla = xla_compile_listener()
    first, times, (objectives, steps) = timed_calls(lambda: [np.asarray(v) for v in solve(x0)], repeats)
    row = timing(first, times, xla)
    return row | {"fits_per_s": len(x0) / row["seconds"], "evals_per_start": float(np.mean(steps)),
                  "objectives": objectives.tolist(), "n_starts": len(x0)}


def run_child(args: list, n_devices: int = 1) -> dict:
    """This script with `args` in a fresh process on `n_devices` CPU devices; the row it prints."""
    env = dict(os.environ, JAX_NUM_CPU_DEVICES=str(n_devices), JAX_PLATFORMS="cpu")
    out = subprocess.run([sys.executable, __file__, *args], env=env, check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def run_jscale(n_devices: int, repeats: int, solver: str = "default") -> dict:
    return run_child(["--child", "--repeats", str(repeats), "--solver", solver], n_devices)


def run_peer(peer: str, repeats: int, n_starts: int | None) -> dict:
    """`peer`'s row (one that says it is not installed where it cannot be imported)."""
    return run_child(["--peer", peer, "--repeats", str(repeats), "--starts", str(n_starts or 0)])


def versions() -> str:
    """Versions of the packages measured (the bench extra's where installed) and of Python."""
    from importlib.metadata import PackageNotFoundError, version

    found = []
    for name in ["jax", "jaxlib", "optax", "flax", "numpy", "scipy", "optimistix", "jaxopt"]:
        try:
            found.append(f"{name} {version(name)}")
        except PackageNotFoundError:
            pass
    return ", ".join(found) + f", Python {platform.python_version()}"


def commit() -> str:
    """The repository commit measured (with '+changes' when the tree differs from it)."""
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=HERE, capture_output=True, text=True,
                              check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "jscale"], cwd=HERE.parent,
                               capture_output=True, text=True).stdout.strip()
        return head + (" +changes" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def _cpuinfo() -> dict:
    """The first value of every field of /proc/cpuinfo (empty where there is none)."""
    fields = {}
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        lines = []
    for line in lines:
        key, _, value = line.partition(":")
        fields.setdefault(key.strip(), value.strip())
    return fields


def machine() -> str:
    """CPU model, its vector extensions (a figure without them is not a figure), cores and OS."""
    info = _cpuinfo()
    cpu = info.get("model name") or platform.processor() or platform.machine()
    vector = "vector extensions unknown"
    if "flags" in info:
        vector = " ".join(f for f in info["flags"].split() if f.startswith(("avx", "sse4", "fma"))) or "no AVX"
    return f"{cpu} ({vector}), {os.cpu_count()} cores, {platform.system()} {platform.release()}"


def _peak_per_core() -> tuple[float, str]:
    """One core's float64 peak FLOP/s and how it was reckoned: clock x FMA units x doubles per vector x 2.

    The vector width is read from /proc/cpuinfo's flags: avx512f 8 doubles, avx2 or avx 4, else 2
    (SSE2). Each FMA is 2 FLOP, and a core is assumed to have 2 FMA units, as AVX2 cores since
    Haswell and Zen and AVX-512 server cores have (parts with one 512-bit unit peak at half this).
    The clock is the first 'cpu MHz' of /proc/cpuinfo (2.5 GHz where there is none).
    """
    info = _cpuinfo()
    mhz = float(info.get("cpu MHz", 2500.0))
    flags = set(info.get("flags", "").split())
    width, isa = next(((w, f) for f, w in [("avx512f", 8), ("avx2", 4), ("avx", 4)] if f in flags), (2, "SSE2"))
    fma_units = 2
    gflops = mhz / 1000 * fma_units * width * 2
    return gflops * 1e9, (f"{mhz / 1000:.2f} GHz x {fma_units} FMA units x {width} doubles ({isa}) x 2 FLOP = "
                          f"{gflops:.1f} GFLOP/s")


def command_line(script: str, argv=None) -> str:
    """The command that ran a benchmark, as typed (`argv`, or the process's arguments), for RESULTS.md."""
    return shlex.join(["python", f"benchmarks/{script}", *(sys.argv[1:] if argv is None else argv)])


def append_results(title: str, command: str, measured: str, note: str, body: str) -> None:
    """Appends a block to RESULTS.md: title and time, command, commit, machine, versions, a note, the tables."""
    stamp = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    block = (f"\n## {title} — {stamp}\n\n- Command: `{command}`\n- Commit: {measured}\n- Machine: {machine()}\n"
             f"- Versions: {versions()}\n- {note}\n\n{body}\n")
    with open(HERE / "RESULTS.md", "a") as fh:
        fh.write(block)
    print(f"appended to {HERE / 'RESULTS.md'}")


def format_row(name: str, r: dict, grid: int, best: float, fastest: float) -> str:
    """One table row; `best` is the run's lowest objective, `fastest` the fastest scipy row's fits/s."""
    if r.get("missing"):
        return f"| {name} | not installed (pip install .[bench]) |" + " - |" * 9
    grid_s = f"{r['seconds']:.3f}" if r["n_starts"] == grid else f"≈{grid / r['fits_per_s']:.1f}"
    compile_s = f"{r['compile_seconds']:.2f}" if "compile_seconds" in r else "-"
    xla_s = f"{r['xla_compile_seconds']:.2f}" if "xla_compile_seconds" in r else "-"
    rate = "-"
    if r.get("flops"):
        peak = _peak_per_core()[0] * r["devices"]
        rate = f"{r['flops'] / r['seconds'] / 1e9:.1f} ({100 * r['flops'] / r['seconds'] / peak:.0f}%)"
    objectives = np.asarray(r["objectives"], dtype=float)
    at_best = int(np.sum(objectives <= best + AT_BEST_RTOL * abs(best)))
    return (f"| {name} | {r['n_starts']} | {grid_s} | {compile_s} | {xla_s} | {r['fits_per_s']:.1f} | "
            f"{r['evals_per_start']:.1f} | {rate} | {np.nanmin(objectives):.13g} | {at_best} | "
            f"{r['fits_per_s'] / fastest:.2f} |")


def table(rows: dict, grid: int) -> str:
    """The results table and its note."""
    ran = {name: r for name, r in rows.items() if not r.get("missing")}
    best = min(float(np.nanmin(r["objectives"])) for r in ran.values())
    scipy_name = max((n for n in ran if n.startswith("scipy")), key=lambda n: ran[n]["fits_per_s"])
    fastest = ran[scipy_name]["fits_per_s"]
    header = ("| method | starts | grid time (s) | first call's extra (s) | of which XLA compile (s) | fits/s | "
              "evals or steps/start | GFLOP/s (share of the devices' fp64 peak) | best objective | "
              "starts at the best | x fastest scipy |")
    lines = [header, "|" + "---|" * 11, *(format_row(n, r, grid, best, fastest) for n, r in rows.items())]
    note = (f"Starts at the best: starts within relative {AT_BEST_RTOL:g} of the run's global best, the lowest "
            f"objective any row found ({best:.13g}). x fastest scipy: fits/s over those of '{scipy_name}'. Grid "
            f"time: the {grid:,} starts' seconds, or (≈) projected from a subset's fits/s. Evals or steps per start: "
            "scipy's objective-and-gradient evaluations; jscale's and optimistix's steps (one evaluation each); "
            "jaxopt's iterations (line-search evaluations not counted). Under vmap the peers run every start to the "
            f"slowest one's stop. fp64 peak per core: {_peak_per_core()[1]}.")
    return "\n".join(lines) + "\n\n" + note


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scipy-starts", type=int, default=None, help="time the baselines on an evenly spaced subset")
    parser.add_argument("--peer-starts", type=int, default=None,
                        help="time the JAX peers on an evenly spaced subset (default: --scipy-starts)")
    parser.add_argument("--repeats", type=int, default=5, help="warm calls per JAX configuration")
    parser.add_argument("--no-append", action="store_true", help="print only; do not append to RESULTS.md")
    parser.add_argument("--skip-lbfgs", action="store_true", help="skip the optax L-BFGS comparison row")
    parser.add_argument("--skip-fd", action="store_true", help="skip scipy with finite differences (the slowest row)")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--solver", default="default", help=argparse.SUPPRESS)
    parser.add_argument("--peer", choices=sorted(PEERS), help=argparse.SUPPRESS)
    parser.add_argument("--starts", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child or args.peer:
        if args.peer:
            print(json.dumps(run_peer_child(args.peer, args.repeats, args.starts)))
        else:
            print(json.dumps(run_jscale_child(args.repeats, args.solver)))
        return

    measured = commit()  # read before the run: the tree may change while it runs
    log_n, log_d, log_l, starts = load_problem()
    scipy_starts = evenly_spaced(starts, args.scipy_starts)
    peer_starts = args.peer_starts if args.peer_starts is not None else args.scipy_starts
    cores = os.cpu_count() or 1
    configs = [1] + ([cores] if cores > 1 else [])
    f, f_and_grad = scipy_objectives(log_n, log_d, log_l)

    rows = {}
    print("jscale (first pass) ...", flush=True)
    first = {n: run_jscale(n, args.repeats) for n in configs}
    methods = {"scipy L-BFGS-B, fast NumPy objective and gradient": (fast_objective(log_n, log_d, log_l), True),
               "scipy L-BFGS-B, logsumexp analytic gradient": (f_and_grad, True)}
    if not args.skip_fd:
        methods["scipy L-BFGS-B, finite differences (Epoch)"] = (f, False)
    print(f"scipy L-BFGS-B: {len(methods)} objectives, taking turns over chunks of starts ...", flush=True)
    rows |= run_scipy(scipy_starts, methods)
    for peer, name in PEERS.items():
        print(f"{peer} ...", flush=True)
        rows[name] = run_peer(peer, args.repeats, peer_starts)
    print("jscale (second pass) ...", flush=True)
    for n in configs:
        second = run_jscale(n, args.repeats)
        # Machines here are shared and noisy: keep the faster of the two passes around the baselines.
        rows[f"jscale.fit, {n} CPU device{'s' if n > 1 else ''}"] = min(first[n], second, key=lambda r: r["seconds"])
    if not args.skip_lbfgs:
        print("jscale with optax L-BFGS ...", flush=True)
        rows["jscale.fit, solver=jscale.solvers.LBFGS() (optax L-BFGS), 1 CPU device"] = run_jscale(1, 1, "lbfgs")

    body = table(rows, len(starts))
    print(body)
    if not args.no_append:
        command = command_line("bench_chinchilla_grid.py", argv)
        append_results("Chinchilla grid fit (4,500 starts, 240 rows)", command, measured,
                       f"JAX rows: median of up to {args.repeats} warm calls (fewer once warm calls took "
                       f"{WARM_BUDGET_S:.0f} s); jscale's the faster of two passes (before and after the baselines); "
                       "compile time reported apart.", body)


if __name__ == "__main__":
    main()
