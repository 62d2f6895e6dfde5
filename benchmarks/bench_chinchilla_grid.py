"""Times the full Hoffmann-grid Chinchilla fit: jscale against scipy L-BFGS-B, in one run.

    python benchmarks/bench_chinchilla_grid.py            # full grid, appends to RESULTS.md
    python benchmarks/bench_chinchilla_grid.py --scipy-starts 500 --no-append   # quick look

Fits the 240 kept rows of the Epoch AI Chinchilla data (jscale.datasets.load("chinchilla"))
from the 4,500 starts of Hoffmann's grid, minimising the sum of Huber (delta 1e-3) losses of log
residuals, with:

* scipy `minimize(method="L-BFGS-B")` with finite-difference gradients (as Epoch AI ran it);
* the same with an analytic gradient;
* jscale (`jscale.fit`, default solver) on 1 CPU device, and on as many CPU devices as there
  are cores (`JAX_NUM_CPU_DEVICES`), each in a fresh subprocess so that compile time is measured
  apart;
* jscale with `solver=jscale.solvers.LBFGS()` (optax L-BFGS, zoom line search) on 1 device, one warm call.

jscale's time is the median of `--repeats` warm calls; compile time is the first call minus a
warm one. Ratios are fits per second against scipy measured in this same run.
"""

from __future__ import annotations

import argparse
import datetime
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


def load_problem():
    import jscale

    data = jscale.datasets.load("chinchilla")
    starts = jscale.laws.Chinchilla().default_starts()  # free order: log_E, log_A, log_B, alpha, beta
    return np.log(data.n_params), np.log(data.n_tokens), np.log(data.loss), starts


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


def run_scipy(starts, log_n, log_d, log_l, analytic: bool):
    from scipy.optimize import minimize

    f, fg = scipy_objectives(log_n, log_d, log_l)
    kwargs = {"fun": fg, "jac": True} if analytic else {"fun": f}
    objectives, nfev = [], 0
    t0 = time.perf_counter()
    for x0 in starts:
        res = minimize(x0=x0, method="L-BFGS-B", **kwargs)
        objectives.append(res.fun)
        nfev += res.nfev
    seconds = time.perf_counter() - t0
    objectives = np.asarray(objectives)
    best = objectives.min()
    return {
        "seconds": seconds, "fits_per_s": len(starts) / seconds, "evals_per_start": nfev / len(starts),
        "best": float(best), "n_at_best": int(np.sum(objectives <= best + AT_BEST_RTOL * best)),
        "n_starts": len(starts),
    }


def run_jscale_child(repeats: int, solver: str) -> dict:
    """Runs in a subprocess: times jscale.fit on the full grid and prints JSON."""
    import jax

    import jscale

    data = jscale.datasets.load("chinchilla")
    law = jscale.laws.Chinchilla()
    kwargs = {"solver": jscale.solvers.LBFGS()} if solver == "lbfgs" else {}
    backend_compile = []  # XLA's own compile time (tracing and lowering apart)
    jax.monitoring.register_event_duration_secs_listener(
        lambda event, seconds, **kw: backend_compile.append(seconds)
        if event == "/jax/core/compile/backend_compile_duration" else None)
    t0 = time.perf_counter()
    result = jscale.fit(law, data, **kwargs)
    first = time.perf_counter() - t0
    xla_seconds = float(sum(backend_compile))
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        result = jscale.fit(law, data, **kwargs)
        times.append(time.perf_counter() - t0)
    seconds = float(np.median(times))
    flops = None
    if solver != "lbfgs":  # FLOPs of the run: XLA's count for one step of one fit x the steps taken
        from bench_scaling import step_flops

        from jscale.engine import _problem
        from jscale.losses._losses import resolve_loss

        problem = _problem.to_device(_problem.build(law, resolve_loss("huber", None), data))
        solver = jscale.solvers.RobustGaussNewton()
        flops = step_flops(law, result.loss_function, problem, solver) * float(np.sum(result.n_steps))
    return {
        "seconds": seconds, "min_seconds": float(min(times)), "compile_seconds": first - seconds,
        "xla_compile_seconds": xla_seconds, "flops": flops,
        "fits_per_s": result.n_starts / seconds, "evals_per_start": float(np.mean(result.n_steps)),
        "best": result.objective, "n_at_best": result.n_at_best, "n_starts": result.n_starts,
        "devices": jax.local_device_count(), "params": result.params,
    }


def run_jscale(n_devices: int, repeats: int, solver: str = "default") -> dict:
    env = dict(os.environ, JAX_NUM_CPU_DEVICES=str(n_devices), JAX_PLATFORMS="cpu")
    out = subprocess.run(
        [sys.executable, __file__, "--child", "--repeats", str(repeats), "--solver", solver],
        env=env, check=True, capture_output=True, text=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def versions() -> str:
    from importlib.metadata import version

    names = ["jax", "jaxlib", "optax", "flax", "numpy", "scipy"]
    return ", ".join(f"{n} {version(n)}" for n in names) + f", Python {platform.python_version()}"


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


def machine() -> str:
    """CPU model, its vector extensions (a figure without them is not a figure), cores and OS."""
    cpu = platform.processor() or platform.machine()
    vector = "vector extensions unknown"
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        lines = []
    for line in lines:
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
        elif line.startswith("flags"):
            flags = line.split(":", 1)[1].split()
            vector = " ".join(f for f in flags if f.startswith(("avx", "sse4", "fma"))) or "no AVX"
            break
    return f"{cpu} ({vector}), {os.cpu_count()} cores, {platform.system()} {platform.release()}"


def _peak_per_core() -> tuple[float, str]:
    """One core's float64 peak: clock x 2 FMA pipes x 4 doubles (AVX2) x 2 FLOP per FMA."""
    mhz = 2500.0
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("cpu MHz"):
                mhz = float(line.split(":")[1])
                break
    except OSError:
        pass
    return mhz * 1e6 * 16, f"{mhz / 1000:.2f} GHz x 2 FMA x 4 doubles x 2 = {mhz * 16 / 1000:.1f} GFLOP/s"


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


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scipy-starts", type=int, default=None, help="time scipy on an evenly spaced subset")
    parser.add_argument("--repeats", type=int, default=5, help="warm jscale calls per configuration")
    parser.add_argument("--no-append", action="store_true", help="print only; do not append to RESULTS.md")
    parser.add_argument("--skip-lbfgs", action="store_true", help="skip the optax L-BFGS comparison row")
    parser.add_argument("--skip-fd", action="store_true", help="skip scipy with finite differences (the slowest row)")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--solver", default="default", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(run_jscale_child(args.repeats, args.solver)))
        return

    measured = commit()  # read before the run: the tree may change while it runs
    log_n, log_d, log_l, starts = load_problem()
    scipy_starts = starts
    if args.scipy_starts:
        scipy_starts = starts[np.linspace(0, len(starts) - 1, args.scipy_starts).round().astype(int)]
    cores = os.cpu_count() or 1
    configs = [1] + ([cores] if cores > 1 else [])

    rows = {}
    print("jscale (first pass) ...", flush=True)
    first = {n: run_jscale(n, args.repeats) for n in configs}
    print("scipy L-BFGS-B, analytic gradient ...", flush=True)
    rows["scipy L-BFGS-B, analytic gradient"] = run_scipy(scipy_starts, log_n, log_d, log_l, analytic=True)
    if not args.skip_fd:
        print("scipy L-BFGS-B, finite differences ...", flush=True)
        rows["scipy L-BFGS-B, finite differences (Epoch)"] = run_scipy(scipy_starts, log_n, log_d, log_l,
                                                                       analytic=False)
    print("jscale (second pass) ...", flush=True)
    for n in configs:
        second = run_jscale(n, args.repeats)
        # Machines here are shared and noisy: keep the faster of the two passes around scipy.
        best = min(first[n], second, key=lambda r: r["seconds"])
        rows[f"jscale.fit, {n} CPU device{'s' if n > 1 else ''}"] = best
    if not args.skip_lbfgs:
        print("jscale with optax L-BFGS ...", flush=True)
        rows["jscale.fit, solver=jscale.solvers.LBFGS() (optax L-BFGS), 1 CPU device"] = run_jscale(1, 1, "lbfgs")

    fd = rows.get("scipy L-BFGS-B, finite differences (Epoch)", {}).get("fits_per_s", float("nan"))
    an = rows["scipy L-BFGS-B, analytic gradient"]["fits_per_s"]
    header = ("| method | starts | time (s) | first call's extra (s) | of which XLA compile (s) | fits/s | "
              "evals/start | "
              "GFLOP/s (share of the devices' fp64 peak) | best objective | starts within 1e-8 of best | x scipy FD | "
              "x scipy analytic |")
    lines = [header, "|" + "---|" * 12]
    for name, r in rows.items():
        compile_s = f"{r['compile_seconds']:.2f}" if "compile_seconds" in r else "-"
        xla_s = f"{r['xla_compile_seconds']:.2f}" if r.get("xla_compile_seconds") is not None else "-"
        rate = "-"
        if r.get("flops"):
            per_core, _ = _peak_per_core()
            peak = per_core * r["devices"]
            rate = f"{r['flops'] / r['seconds'] / 1e9:.1f} ({100 * r['flops'] / r['seconds'] / peak:.0f}%)"
        lines.append(
            f"| {name} | {r['n_starts']} | {r['seconds']:.3f} | {compile_s} | {xla_s} | {r['fits_per_s']:.0f} | "
            f"{r['evals_per_start']:.1f} | {rate} | {r['best']:.13g} | {r['n_at_best']} | {r['fits_per_s'] / fd:.1f} | "
            f"{r['fits_per_s'] / an:.1f} |"
        )
    table = "\n".join(lines) + f"\n\nfp64 peak per core: {_peak_per_core()[1]}."
    print(table)
    if not args.no_append:
        command = command_line("bench_chinchilla_grid.py", argv)
        append_results("Chinchilla grid fit (4,500 starts, 240 rows)", command, measured,
                       f"jscale time: median of {args.repeats} warm calls, faster of two passes (before and after "
                       "scipy); compile time reported apart.", table)


if __name__ == "__main__":
    main()
