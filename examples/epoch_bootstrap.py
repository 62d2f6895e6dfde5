"""Chinchilla's Approach 3 and Epoch AI's replication with intervals (Besiroglu et al. 2024).

    python examples/epoch_bootstrap.py

Fits the Chinchilla law to the 240 runs Epoch AI keeps, bootstraps it (4,000 row resamples,
each refitted from the full-data optimum), and prints standard errors and 95% intervals of
every parameter, of the allocation exponent a = beta/(alpha + beta) and of the compute-optimal
tokens per parameter at Chinchilla's budget, next to the curvature-based (sandwich) intervals;
then checks Hoffmann et al.'s published Approach 3 estimate against those intervals.
"""

import warnings

import jax.numpy as jnp

import jscale

BUDGET = 5.76e23  # FLOP of Chinchilla itself (70B parameters, 1.4T tokens)
# Hoffmann et al. 2022, Approach 3, unrounded (from the paper's TeX source, via Epoch AI).
APPROACH_3 = dict(E=1.69337368, A=406.401018, B=410.722827, alpha=0.33917084, beta=0.2849083)


def exponent(p):
    """a in N* ~ C^a (Hoffmann et al. 2022, eq. 4)."""
    return p["beta"] / (p["alpha"] + p["beta"])


def tokens_per_param(p, compute=BUDGET):
    """D*/N* at `compute` FLOP under C = 6ND: the closed form G^-2 (C/6)^(b - a)."""
    a = exponent(p)
    g = (p["alpha"] * p["A"] / (p["beta"] * p["B"])) ** (1 / (p["alpha"] + p["beta"]))
    return g**-2 * jnp.power(compute / 6, 1 - 2 * a)


def main(n_resamples: int = 4000, every: int = 1):
    data = jscale.datasets.load("chinchilla")
    law = jscale.laws.Chinchilla()
    fit = jscale.fit(law, data, starts=law.default_starts()[::every])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", jscale.warnings.IntervalWarning)  # A-alpha, B-beta: see README
        boot = jscale.bootstrap(law, data, n_resamples=n_resamples, key=42, starts="optimum", full_fit=fit)
        print(boot.summary())
        print()
        print(f"  {'quantity':<22} {'estimate':>10}   {'bootstrap 95%':<22} {'BCa 95%':<22} {'sandwich 95%':<22}")
        for name, fn in [("a = beta/(alpha+beta)", exponent), (f"D*/N* at {BUDGET:.3g}", tokens_per_param)]:
            value = float(fn(fit.params))
            # The delta method on the log keeps a positive, skewed quantity's interval positive.
            rows = [boot.interval(fn), boot.interval(fn, method="bca"), fit.interval(fn, log=fn is tokens_per_param)]
            cells = "".join(f"({lo:8.4g}, {hi:8.4g})      " for lo, hi in rows)
            print(f"  {name:<22} {value:>10.4g}   {cells}")
    print("\n  Hoffmann et al.'s Approach 3 against these 95% bootstrap intervals (Besiroglu et al.'s finding):")
    for name, value in APPROACH_3.items():
        low, high = boot.interval(name)
        print(f"  {name:<6} {value:>10.5g}  {'inside' if low <= value <= high else 'OUTSIDE'} ({low:.4g}, {high:.4g})")
    return boot


if __name__ == "__main__":
    main()
