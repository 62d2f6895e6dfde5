"""Times every `jscale` command as a new user meets it: fresh processes, a first run and a repeat.

    python benchmarks/bench_cli.py              # 2 rounds, appends to RESULTS.md
    python benchmarks/bench_cli.py --rounds 1 --no-append

Each round runs, in fresh processes:

* the README's default job, `jscale fit`, in a new empty compilation-cache folder
  (`JSCALE_CACHE_DIR`): the first run (everything compiles; the cache is written), the same
  command again (programs read back from the cache), and `jscale fit --no-cache` (compiles
  everything, writes nothing: the run before the cache existed);
* every other command on small inputs, each in a new empty cache folder of its own (so that no
  program compiled by `jscale fit` is read back: its first run compiles everything it needs), then
  once more in that folder. The inputs: the fit's two result files (allocate, predict, plot,
  plan isoflop, compare: two Chinchilla results), the bundled chinchilla runs (plan next), the
  bundled luo2025 curves (curves: three schedules of the 25M model, as the paper fits), and two
  sweeps written here from known laws (isoflop: 3 budgets x 7 sizes of Epoch AI's Chinchilla law;
  hyperparameters: 8 cells x 7 learning rates of Step Law's optimum), each with 0.5% noise.

Wall time is the whole process (interpreter start, imports, the command); CPU time is the child's
user + system time (`resource.getrusage(RUSAGE_CHILDREN)`), which a busy machine inflates less
than wall time. The table also gives the compile time JAX logs for each run (the sum of its
"Finished XLA compilation" lines, cache reads included), how many programs were compiled and
which of jscale's own jitted functions were compiled more than once (for other shapes or other
static arguments: `compare` compiles its `_on_pairs` once for the budgets and once for the
crossover, by design; a function compiled twice for one shape would be a bug).
"""

from __future__ import annotations

import argparse
import csv
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from bench_chinchilla_grid import append_results, commit

HERE = Path(__file__).resolve().parent
FIT_RUNS = ("first run (empty cache)", "repeat (cache filled)", "--no-cache")
# Epoch AI's refit of Chinchilla (Besiroglu et al. 2024): the isoFLOP sweep's law.
EPOCH = dict(E=1.81686, A=482.00572, B=2085.43420, alpha=0.34781, beta=0.36585)
LUO_RUNS = ("cosine_24000", "constant_24000", "wsdcon_9")  # the schedules Luo et al. fit on


def _jscale() -> list[str]:
    found = shutil.which("jscale", path=str(Path(sys.executable).parent)) or shutil.which("jscale")
    return [found] if found else [sys.executable, "-m", "jscale"]


def _jitted_in_jscale() -> set[str]:
    """Names of the functions jscale's modules (every room) define under a jax.jit decorator."""
    names = set()
    for path in (HERE.parent / "jscale").rglob("*.py"):
        names.update(re.findall(r"@(?:functools\.partial\(jax\.jit|jax\.jit)[^\n]*\ndef (\w+)", path.read_text()))
    return names


def run(cache: Path | None, argv: list[str]) -> dict:
    """`jscale ARGV` in a fresh process with the cache folder `cache` (None: --no-cache): wall and
    CPU seconds, compile seconds and programs compiled."""
    env = {**os.environ, "JAX_LOG_COMPILES": "1"}
    if cache is not None:
        env["JSCALE_CACHE_DIR"] = str(cache)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run([*_jscale(), *argv], env=env, capture_output=True, text=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"jscale {' '.join(argv)} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    found = re.findall(r"Finished XLA compilation of (\S+) in ([0-9.eE+-]+) sec", done.stderr)
    compiles = [float(seconds) for _, seconds in found]
    # jscale's own jitted functions (not JAX's one-operation programs such as jit(exp) or
    # jit(_where), jnp.where's) compiled more than once.
    own = [name for name, _ in found if name[4:-1] in _jitted_in_jscale()]
    twice = sorted({name for name in own if own.count(name) > 1})
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {"wall": wall, "cpu": cpu, "compile": sum(compiles), "programs": len(compiles), "twice": twice}


def _isoflop_sweep(path: Path) -> None:
    """3 budgets x 7 model sizes on Epoch's Chinchilla law, 0.5% noise."""
    rng = np.random.default_rng(0)
    with open(path, "w", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(["n_params", "n_tokens", "loss"])
        for c in (1e18, 1e19, 1e20):
            for n in np.geomspace(3e7, 3e9, 7) * (c / 1e19) ** 0.5:
                d = c / (6 * n)
                loss = EPOCH["E"] + EPOCH["A"] * n ** -EPOCH["alpha"] + EPOCH["B"] * d ** -EPOCH["beta"]
                out.writerow([n, d, loss * np.exp(0.005 * rng.standard_normal())])


def _lr_sweep(path: Path) -> None:
    """8 cells (model size x tokens) x 7 learning rates around Step Law's optimum, 0.5% noise."""
    rng = np.random.default_rng(0)
    with open(path, "w", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(["n_params", "n_tokens", "learning_rate", "loss"])
        for n in (1e8, 3e8, 1e9, 3e9):
            for d in (2e10, 1e11):
                best = 1.79 * n ** -0.713 * d ** 0.307
                for lr in best * np.logspace(-0.8, 0.7, 7):
                    loss = (1.7 + 400 / n ** 0.34 + 410 / d ** 0.28) * np.exp(0.08 * np.log(lr / best) ** 2)
                    out.writerow([n, d, lr, loss * np.exp(0.005 * rng.standard_normal())])


def _luo_curves(path: Path) -> None:
    """The bundled luo2025 curves of the 25M model under the three schedules Luo et al. fit on."""
    import jscale
    from jscale.curves import LUO2025_SCHEDULES

    data = jscale.datasets.load("luo2025")
    table = {name: np.asarray(data[name]) for name in ("size", "run", "step", "loss")}
    with open(path, "w", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(["run", "step", "loss", "schedule"])
        for size, name, step, loss in zip(*table.values()):
            if str(size) == "25M" and str(name) in LUO_RUNS:
                out.writerow([name, int(step), float(loss), LUO2025_SCHEDULES[str(name)]])


def commands(tmp: Path, fits: tuple[Path, Path]) -> dict[str, list[str]]:
    """Every command but fit (and its --no-cache run), on small inputs: name -> argv."""
    a, b = (str(f / "result.jscale") for f in fits)
    iso, lr, curves = tmp / "isoflop.csv", tmp / "lr.csv", tmp / "curves.csv"
    _isoflop_sweep(iso)
    _lr_sweep(lr)
    _luo_curves(curves)
    return {
        "allocate": ["allocate", a, "--compute", "1e21", "1e22", "1e23", "1e24"],
        "predict": ["predict", a, "--n-params", "7e10", "--n-tokens", "1.4e12"],
        "plot": ["plot", a, "--kind", "allocation", "--out", str(tmp / "allocation.png")],
        "compare": ["compare", a, b],
        "compare --plot": ["compare", a, b, "--plot", str(tmp / "multiplier.png")],
        "isoflop": ["isoflop", str(iso), "--out", str(tmp / "isoflop")],
        "plan isoflop": ["plan", "isoflop", "--budgets", "1e20", "1e21", "--result", a],
        "plan next": ["plan", "next", "chinchilla", "--compute", "1e24", "--budget", "1e21", "--out",
                      str(tmp / "next.csv")],
        "hyperparameters": ["hyperparameters", str(lr), "--over", "learning_rate", "--cell", "7e9,2e12", "--out",
                            str(tmp / "hyper")],
        "curves": ["curves", str(curves), "--predict",
                   "wsd(steps=24000, peak=3e-4, decay_start=20000, floor=3e-5, warmup=2160)"],
        "datasets": ["datasets"],
    }


def _row(command: str, name: str, runs: list[dict]) -> str:
    best = min(runs, key=lambda r: r["wall"])
    walls = ", ".join(f"{r['wall']:.1f}" for r in runs)
    return (f"| `jscale {command}` | {name} | {walls} | {best['wall']:.1f} | {best['cpu']:.1f} | "
            f"{best['compile']:.1f} | {best['programs']} | {', '.join(best['twice']) or 'none'} |")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=2, help="rounds, each in new empty cache folders")
    parser.add_argument("--no-append", action="store_true", help="print only; do not append to RESULTS.md")
    args = parser.parse_args(argv)
    measured = commit()
    fit_rows = {name: [] for name in FIT_RUNS}
    rows: dict[str, dict[str, list]] = {}
    for _ in range(args.rounds):
        with tempfile.TemporaryDirectory() as tmp:
            tmp = Path(tmp)
            fit_rows[FIT_RUNS[0]].append(run(tmp / "cache", ["fit", "--out", str(tmp / "out1")]))
            fit_rows[FIT_RUNS[1]].append(run(tmp / "cache", ["fit", "--out", str(tmp / "out2")]))
            fit_rows[FIT_RUNS[2]].append(run(None, ["fit", "--out", str(tmp / "out3"), "--no-cache"]))
            for name, command in commands(tmp, (tmp / "out1", tmp / "out2")).items():
                cache = tmp / f"cache-{name.replace(' ', '-')}"
                got = rows.setdefault(name, {"first run (empty cache)": [], "repeat (cache filled)": []})
                got["first run (empty cache)"].append(run(cache, command))
                got["repeat (cache filled)"].append(run(cache, command))
    lines = ["| command | run | wall (s), each round | best (s) | CPU (s), best | XLA compile (s) | "
             "programs compiled | jscale functions compiled more than once |", "|---|---|---|---|---|---|---|---|"]
    lines += [_row("fit", name, runs) for name, runs in fit_rows.items()]
    lines += [_row(command, name, runs) for command, by in rows.items() for name, runs in by.items()]
    table = "\n".join(lines)
    print(table)
    if not args.no_append:
        append_results("Every jscale command in fresh processes", "python benchmarks/bench_cli.py", measured,
                       "Fresh processes. fit: the default job (4,500-start fit, 1,000 row resamples with jackknife, "
                       "allocation table, summary.json and five plots); the other commands on the inputs the "
                       "script's docstring names, each first in an empty cache folder of its own. Wall time includes "
                       "Python start and imports; CPU time is the child's user + system time.", table)


if __name__ == "__main__":
    main()
