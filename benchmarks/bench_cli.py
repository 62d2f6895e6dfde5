"""Times the README's default job, `jscale fit`, as a new user meets it: fresh processes.

    python benchmarks/bench_cli.py              # 2 rounds, appends to RESULTS.md
    python benchmarks/bench_cli.py --rounds 1 --no-append

Each round runs, in fresh processes and in a new empty compilation-cache folder
(`JSCALE_CACHE_DIR`):

* the first `jscale fit` (everything compiles; the cache is written),
* the same command again (programs read back from the cache),
* `jscale fit --no-cache` (compiles everything, writes nothing: the run before this issue's cache).

Wall time is the whole process (interpreter start, imports, fit, 1,000 resamples, allocation,
summary and five plots). The table also gives the compile time JAX logs for each run (the sum of
its "Finished XLA compilation" lines, cache reads included), how many programs were compiled and
which of jscale's own programs were compiled more than once.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench_chinchilla_grid import append_results, commit

HERE = Path(__file__).resolve().parent


def _jscale() -> list[str]:
    found = shutil.which("jscale", path=str(Path(sys.executable).parent)) or shutil.which("jscale")
    return [found, "fit"] if found else [sys.executable, "-m", "jscale", "fit"]


def _jitted_in_jscale() -> set[str]:
    """Names of the functions jscale's modules define under a jax.jit decorator."""
    names = set()
    for path in (HERE.parent / "jscale").glob("*.py"):
        names.update(re.findall(r"@(?:functools\.partial\(jax\.jit|jax\.jit)[^\n]*\ndef (\w+)", path.read_text()))
    return names


def run(cache: Path, out: Path, extra: list[str]) -> dict:
    """One `jscale fit` in a fresh process: wall seconds, compile seconds and programs compiled."""
    env = {**os.environ, "JSCALE_CACHE_DIR": str(cache), "JAX_LOG_COMPILES": "1"}
    start = time.perf_counter()
    done = subprocess.run([*_jscale(), "--out", str(out), *extra], env=env, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"jscale fit failed ({done.returncode}):\n{done.stderr[-3000:]}")
    found = re.findall(r"Finished XLA compilation of (\S+) in ([0-9.eE+-]+) sec", done.stderr)
    compiles = [float(seconds) for _, seconds in found]
    # jscale's own jitted functions (not JAX's one-operation programs such as jit(exp) or
    # jit(_where), jnp.where's) compiled more than once.
    own = [name for name, _ in found if name[4:-1] in _jitted_in_jscale()]
    twice = sorted({name for name in own if own.count(name) > 1})
    return {"wall": wall, "compile": sum(compiles), "programs": len(compiles), "twice": twice}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=2, help="rounds, each in a new empty cache folder")
    parser.add_argument("--no-append", action="store_true", help="print only; do not append to RESULTS.md")
    args = parser.parse_args(argv)
    measured = commit()
    rows = {"first run (empty cache)": [], "repeat (cache filled)": [], "--no-cache": []}
    for _ in range(args.rounds):
        with tempfile.TemporaryDirectory() as tmp:
            tmp = Path(tmp)
            rows["first run (empty cache)"].append(run(tmp / "cache", tmp / "out1", []))
            rows["repeat (cache filled)"].append(run(tmp / "cache", tmp / "out2", []))
            rows["--no-cache"].append(run(tmp / "nocache", tmp / "out3", ["--no-cache"]))
    lines = ["| `jscale fit` | wall (s), each round | best (s) | XLA compile (s) | programs compiled | "
             "jscale programs compiled twice |", "|---|---|---|---|---|---|"]
    for name, runs in rows.items():
        best = min(runs, key=lambda r: r["wall"])
        walls = ", ".join(f"{r['wall']:.1f}" for r in runs)
        lines.append(f"| {name} | {walls} | {best['wall']:.1f} | "
                     f"{best['compile']:.1f} | {best['programs']} | {', '.join(best['twice']) or 'none'} |")
    table = "\n".join(lines)
    print(table)
    if not args.no_append:
        append_results("jscale fit, the README's default job, in fresh processes", "python benchmarks/bench_cli.py",
                       measured, "Fresh processes; the default job: 4,500-start fit, 1,000 row resamples with "
                       "jackknife, allocation table, summary.json and five plots. Wall time includes Python start "
                       "and imports.", table)


if __name__ == "__main__":
    main()
