"""Where a grid fit's time goes: the cost of one solver step of 256 slots, piece by piece.

    python benchmarks/bench_kernel.py            # prints the table, appends to RESULTS.md
    python benchmarks/bench_kernel.py --no-append

One device, the 240 Chinchilla rows, 256 starts of Hoffmann's grid, Huber(1e-3) of log
residuals; each piece is jitted and vmapped over the 256 slots as the refill loop runs them,
and timed as the best of 7 rounds of 20 calls:

* the prediction alone (log L-hat: two exponentials and a logarithm per row);
* the objective (prediction, residuals, Huber losses, the fixed-order row sum);
* objective and gradient (forward-mode Jacobian, J^T psi);
* objective, gradient and the curvature matrix J^T diag(k) J (`jscale.engine._solve.evaluate`);
* the whole step (evaluation, damping update, 5 x 5 Cholesky solve, model decrease, status).

The grid fit runs about 1,400 such steps at full width plus a tail in which the slots empty.
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("JAX_NUM_CPU_DEVICES", "1")

from bench_chinchilla_grid import append_results, commit  # noqa: E402

WIDTH = 256


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--no-append", action="store_true", help="print only; do not append to RESULTS.md")
    args = parser.parse_args(argv)
    measured = commit()

    import jax
    import jax.numpy as jnp
    import numpy as np

    import jscale
    from jscale.base._numerics import pairwise_sum, x64_scope
    from jscale.engine import _problem, _solve
    from jscale.losses._losses import resolve_loss

    law = jscale.laws.Chinchilla()
    problem = _problem.build(law, resolve_loss("huber", None), jscale.datasets.load("chinchilla"))
    starts = np.asarray(law.default_starts())[:WIDTH]
    solver = jscale.solvers.RobustGaussNewton()

    def prediction(p, t):
        return p.model(t)

    def objective(p, t):
        return p.objective(t)

    def objective_and_gradient(p, t):
        r = p.residuals(t)
        jac = jax.jacfwd(p.model)(t)
        return pairwise_sum(p.weight * p.loss.rho(r)), -(p.weight * p.loss.irls_weight(r) * r) @ jac

    def evaluation(p, t):
        return _solve.evaluate(p, t, False)

    rows = []
    with x64_scope():
        p = _problem.to_device(problem)
        x = jnp.asarray(starts)
        pieces = [("prediction", prediction), ("objective", objective),
                  ("objective + gradient", objective_and_gradient),
                  ("objective + gradient + curvature (evaluate)", evaluation)]
        fns = [(name, jax.jit(jax.vmap(lambda t, fn=fn: fn(p, t)))) for name, fn in pieces]
        states = jax.vmap(solver.init)(x)
        step = jax.jit(jax.vmap(lambda s: solver.step(s, p)))
        states = step(step(states))  # past the first (fresh) step
        fns.append(("whole solver step", lambda _, s=states: step(s)))
        for name, fn in fns:
            jax.block_until_ready(fn(x))
            best = float("inf")
            for _ in range(7):
                t0 = time.perf_counter()
                for _ in range(20):
                    out = fn(x)
                jax.block_until_ready(out)
                best = min(best, (time.perf_counter() - t0) / 20)
            rows.append((name, best))
    step_ms = rows[-1][1] * 1e3
    lines = ["| piece (256 slots x 240 rows) | ms per call | ns per row | share of a step |", "|---|---|---|---|"]
    for name, seconds in rows:
        lines.append(f"| {name} | {seconds * 1e3:.3f} | {seconds / (WIDTH * 240) * 1e9:.1f} | "
                     f"{100 * seconds * 1e3 / step_ms:.0f}% |")
    table = "\n".join(lines)
    print(table)
    if not args.no_append:
        append_results("Where a grid fit's time goes: one solver step of 256 slots",
                       "python benchmarks/bench_kernel.py", measured,
                       "1 CPU device; best of 7 rounds of 20 calls; each row includes the ones above it.", table)


if __name__ == "__main__":
    main()
