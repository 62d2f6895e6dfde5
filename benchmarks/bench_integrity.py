"""Integrity and hostile input (issue 17): corrupted result files, memory on large data, signals.

Measures, on this machine:
- flipped bits: result files of a fit and a bootstrap with 1-3 random bits flipped, loaded; how
  many are refused, load identical, or load to other numbers (the last must be 0);
- save and load time of the default 4,500-start Chinchilla fit;
- a fit of many rows (default 1,000,000) in a child process: solver slots under the memory
  budget and the child's peak resident memory;
- `jscale fit` sent SIGINT and SIGTERM while it compiles: exit status and seconds to exit;
- `ScalingData.from_csv` on a 200,000-line CSV.

    python benchmarks/bench_integrity.py [--flips 20000] [--rows 1000000] [--no-append]
"""

from __future__ import annotations

import argparse
import json
import signal
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
from bench_chinchilla_grid import append_results, commit

import jscale

HERE = Path(__file__).resolve().parent


def _numbers(result) -> list:
    fit = result.fit if isinstance(result, jscale.results.BootstrapResult) else result
    out = [fit.end_params, fit.objectives, fit.status, fit.n_steps, fit.starts, [fit.best_index, fit.n_rows]]
    if isinstance(result, jscale.results.BootstrapResult):
        out += [result.end_params, result.objectives, result.start_status, result.jackknife_params]
    return [np.asarray(a) for a in out]


def _small_results():
    rng = np.random.default_rng(3)
    n = np.repeat(np.logspace(7, 9, 5), 5)
    d = np.tile(np.logspace(9, 11, 5), 5)
    loss = (1.8 + 400 * n**-0.34 + 2000 * d**-0.37) * np.exp(rng.normal(0, 0.01, n.size))
    data = jscale.ScalingData.from_arrays(n_params=n, n_tokens=d, loss=loss)
    law = jscale.laws.Chinchilla()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", jscale.warnings.DiagnosticWarning)
        fit = jscale.fit(law, data, starts=law.default_starts()[::150])
        boot = jscale.bootstrap(law, data, n_resamples=100, key=2, full_fit=fit, starts="optimum")
    return fit, boot


def flipped_files(n_cases: int, folder: Path) -> tuple[dict, float]:
    counts = {"refused": 0, "identical": 0, "different": 0}
    rng = np.random.default_rng(0)
    results = _small_results()
    raws = [jscale.save(r, folder / f"{k}.jscale").read_bytes() for k, r in enumerate(results)]
    path = folder / "damaged.jscale"
    start = time.perf_counter()
    for i in range(n_cases):
        k = i % 2
        damaged = bytearray(raws[k])
        for _ in range(1 + rng.integers(3)):
            damaged[int(rng.integers(len(damaged)))] ^= 1 << int(rng.integers(8))
        path.write_bytes(bytes(damaged))
        try:
            back = jscale.load(path)
        except ValueError:
            counts["refused"] += 1
            continue
        same = all(a.shape == b.shape and np.array_equal(a, b, equal_nan=True)
                   for a, b in zip(_numbers(back), _numbers(results[k])))
        counts["identical" if same else "different"] += 1
    return counts, time.perf_counter() - start


def save_and_load(folder: Path) -> tuple[float, float, int]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", jscale.warnings.DiagnosticWarning)
        fit = jscale.fit(jscale.laws.Chinchilla(), jscale.datasets.load("chinchilla"))
    path = folder / "fit.jscale"
    saves, loads = [], []
    for _ in range(5):
        t = time.perf_counter()
        jscale.save(fit, path)
        saves.append(time.perf_counter() - t)
        t = time.perf_counter()
        jscale.load(path)
        loads.append(time.perf_counter() - t)
    return float(np.median(saves)), float(np.median(loads)), path.stat().st_size


_BIG = """
import json, resource, time, warnings
import numpy as np, jscale
from jscale.engine import _batch
rng = np.random.default_rng(0)
R = {rows}
n = 10 ** rng.uniform(7, 10, R); d = 10 ** rng.uniform(9, 12, R)
loss = (1.8 + 480 * n**-0.34 + 2000 * d**-0.37) * np.exp(rng.normal(0, 0.01, R))
data = jscale.ScalingData.from_arrays(n_params=n, n_tokens=d, loss=loss)
law = jscale.laws.Chinchilla()
t = time.time()
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    jscale.fit(law, data, starts=law.default_starts()[:{starts}], solver=jscale.solvers.RobustGaussNewton(max_steps=3))
print(json.dumps(dict(budget=_batch.memory_budget(), slots=_batch.slots_within_budget(256, R, 5),
                      seconds=time.time() - t, peak=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)))
"""


def big_fit(rows: int, starts: int) -> dict:
    out = subprocess.run([sys.executable, "-c", _BIG.format(rows=rows, starts=starts)], capture_output=True,
                         text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def signalled(signum: int, after: float, folder: Path) -> tuple[int, float, bool]:
    """(exit status, seconds from the signal to the exit, crash text seen) of `jscale fit` signalled
    `after` seconds into its run (while it compiles, with --no-cache)."""
    out = folder / f"out-{signum}"
    proc = subprocess.Popen([sys.executable, "-m", "jscale", "fit", "--no-cache", "--out", str(out)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, cwd=folder)
    time.sleep(after)
    sent = time.perf_counter()
    proc.send_signal(signum)
    _, err = proc.communicate(timeout=120)
    crashed = any(s in err for s in ("Segmentation fault", "Fatal Python error", "Traceback"))
    return proc.returncode, time.perf_counter() - sent, crashed


def csv_read(folder: Path, lines: int = 200_000) -> float:
    rng = np.random.default_rng(1)
    path = folder / "runs.csv"
    n, d = 10 ** rng.uniform(7, 10, lines), 10 ** rng.uniform(9, 12, lines)
    with open(path, "w") as fh:
        fh.write("# generated\nparams,tokens,loss\n")
        for a, b in zip(n, d):
            fh.write(f"{a:.6g},{b:.6g},{1.8 + 480 * a**-0.34 + 2000 * b**-0.37:.6f}\n")
    times = []
    for _ in range(3):
        t = time.perf_counter()
        jscale.ScalingData.from_csv(path)
        times.append(time.perf_counter() - t)
    return min(times)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--flips", type=int, default=20_000, help="damaged files loaded (default 20,000)")
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows of the large fit (default 1e6; 0 skips)")
    parser.add_argument("--starts", type=int, default=512, help="starts of the large fit (3 steps each)")
    parser.add_argument("--signal-after", type=float, default=6.0, help="seconds before the signal (default 6)")
    parser.add_argument("--no-append", action="store_true", help="print only; do not append to RESULTS.md")
    args = parser.parse_args(argv)
    measured = commit()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        counts, seconds = flipped_files(args.flips, folder)
        rows.append(f"| {args.flips:,} result files (fit, bootstrap) with 1-3 flipped bits | refused "
                    f"{counts['refused']:,}, loaded identical {counts['identical']:,}, loaded to other numbers "
                    f"{counts['different']:,} | {seconds:.1f} s |")
        print(rows[-1], flush=True)
        save, load, size = save_and_load(folder)
        rows.append(f"| save / load of the 4,500-start Chinchilla fit ({size / 1e3:.0f} kB), median of 5 | "
                    f"{1e3 * save:.1f} ms / {1e3 * load:.1f} ms | - |")
        print(rows[-1], flush=True)
        if args.rows:
            big = big_fit(args.rows, args.starts)
            rows.append(f"| fit of {args.rows:,} rows, {args.starts} starts, 3 steps (child process) | "
                        f"{big['slots']} solver slots under a {big['budget'] / 2**30:.2f} GiB budget; peak RSS "
                        f"{big['peak'] / 2**30:.2f} GiB | {big['seconds']:.0f} s |")
            print(rows[-1], flush=True)
        for signum in (signal.SIGINT, signal.SIGTERM):
            code, seconds, crashed = signalled(signum, args.signal_after, folder)
            rows.append(f"| `jscale fit --no-cache` sent {signal.Signals(signum).name} {args.signal_after:g} s in "
                        f"(compiling) | exit {code}; {'a crash or traceback' if crashed else 'no crash, no traceback'}"
                        f" | {seconds:.2f} s to exit |")
            print(rows[-1], flush=True)
        seconds = csv_read(folder)
        rows.append(f"| `ScalingData.from_csv`, 200,000 lines, best of 3 | - | {seconds:.2f} s |")
        print(rows[-1], flush=True)
    table = "| what | outcome | time |\n|---|---|---|\n" + "\n".join(rows)
    print(table)
    if not args.no_append:
        append_results("Integrity and hostile input", "python benchmarks/bench_integrity.py", measured,
                       "Damaged files must never load to other numbers; the large fit's memory stays within "
                       "JSCALE_MEMORY_BUDGET (default a quarter of free memory); signals end `jscale fit` at once.",
                       table)


if __name__ == "__main__":
    main()
