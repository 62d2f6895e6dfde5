"""The best schedule through the fitted multi-power law, and its gain over cosine and WSD (issue 35 item 5).

    python benchmarks/bench_best_schedule.py [--draws 200] [--spread 0.02] [--objective final]

At the setting of Luo et al. 2025 (arXiv:2503.12811): 24,000 steps, peak 3e-4, warmup 2,160
(linear from 0), floor 3e-5, `jscale.curves._best.best_schedule` optimises the schedule after
the warmup (non-increasing, in [floor, peak], 128 knots, L-BFGS through the exact law) for
three parameter sets: 25M fitted (our fit of Luo et al.'s three training curves), 25M and 100M
published. Printed per set: the predicted final loss of the best schedule, cosine to the floor,
WSD (linear decay over the last 20%) and Luo et al.'s own WSD (linear decay from step 20,000),
the gains, where the best schedule leaves the peak, and the wall time (first call, with
compilation, and a repeat). With `--draws B > 0`, bands of the gains over B log-normal
perturbations of the parameters (`--spread` wide: a stand-in for bootstrap refits, which this
benchmark does not run). Appends the output to RESULTS.md (--no-append: print only).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from bench_chinchilla_grid import append_results, command_line, commit  # same folder

from jscale.curves import MULTIPOWER_PARAMS, multipower_loss, parse_schedule
from jscale.curves._best import best_schedule
from jscale.curves._luo import LUO2025_PUBLISHED, LUO2025_SCHEDULES

SETTING = dict(steps=24000, peak=3e-4, warmup=2160, floor=3e-5)
PARAMS = {
    "25M fitted": (2.988, 0.5627, 0.4911, 747.0, 0.3785, 0.1129, 0.8952),
    "25M published": LUO2025_PUBLISHED["25M"],
    "100M published": LUO2025_PUBLISHED["100M"],
}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--draws", type=int, default=200, help="perturbed parameter draws for the bands (200; 0: none)")
    parser.add_argument("--spread", type=float, default=0.02, help="log-normal width of the perturbations (0.02)")
    parser.add_argument("--objective", default="final", help="'final' or k: the mean loss of the last k steps")
    parser.add_argument("--no-append", action="store_true", help="print only; do not append to RESULTS.md")
    args = parser.parse_args(argv)
    objective = args.objective if args.objective == "final" else int(args.objective)
    luo_wsd = parse_schedule(LUO2025_SCHEDULES["wsdld_20000_24000"])
    rng = np.random.default_rng(0)
    out = [f"setting: {SETTING}, objective {objective!r}"]
    for name, theta in PARAMS.items():
        theta = np.asarray(theta, np.float64)
        draws = None
        if args.draws > 0:
            draws = theta[None, :] * np.exp(args.spread * rng.standard_normal((args.draws, theta.size)))
        times = []
        for _ in range(2):
            start = time.perf_counter()
            best = best_schedule(dict(zip(MULTIPOWER_PARAMS, theta)), objective=objective, draws=draws, **SETTING)
            times.append(time.perf_counter() - start)
        luo_loss = float(multipower_loss(theta, [(luo_wsd, [SETTING["steps"] - 1])], method="exact")[0])
        state = "converged" if best.converged else "max_steps"
        out.append(f"\n{name}: {best.n_iterations} L-BFGS iterations ({state}); "
                   f"{times[0]:.2f} s first call, {times[1]:.2f} s repeat")
        out.append(best.summary())
        if objective == "final":
            out.append(f"  Luo et al.'s WSD (linear from 20000) {luo_loss:.6f}: gain {luo_loss - best.loss:.6f}")
        if draws is not None:
            out.append(f"  (bands over {args.draws} log-normal perturbations of the parameters, spread "
                       f"{args.spread:g}: a stand-in for bootstrap refits)")

    body = "```\n" + "\n".join(out) + "\n```"
    print(body)
    if not args.no_append:
        append_results("Best schedule by jax.grad through the multi-power law", command_line("bench_best_schedule.py",
                       argv), commit(), "gains over cosine and WSD at Luo et al.'s setting", body)

if __name__ == "__main__":
    main()
