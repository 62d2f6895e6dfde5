"""Muennighoff et al. (2023): the data-constrained law on their runs, and how to spend a budget.

    python examples/data_constrained.py

Fits the decay constants R_D* and R_N* of the data-constrained law (`jscale.laws.DataConstrained`)
to the 182 runs of the paper's fit (`jscale.datasets.load("datablations")`) with the C4 base law
held at its published values, as the paper did; bootstraps the fit (the objective is flat in
R_D*, so the interval matters more than the point); then asks the paper's README question: with
1e22 FLOP and 25e9 unique tokens, how many parameters, tokens and epochs?
"""

import warnings

import numpy as np

import jscale

# The C4 base law (log A, log B, log E, alpha = beta) of the paper.
C4 = dict(E=np.exp(0.6254804), A=np.exp(6.255414), B=np.exp(7.3049974), alpha=0.3526596, beta=0.3526596)
PUBLISHED = dict(R_D=15.387756, R_N=5.309743)


def main(n_resamples: int = 1000):
    data = jscale.datasets.load("datablations")
    law = jscale.laws.DataConstrained().fix(**C4)
    fit = jscale.fit(law, data)
    print(fit.summary())
    at_published = jscale.fit(law, data, starts=law.to_free([PUBLISHED["R_D"], PUBLISHED["R_N"]]))
    print(f"\nfrom the published values: R_D* = {at_published.params['R_D']:.3f}, "
          f"R_N* = {at_published.params['R_N']:.3f}, "
          f"Huber sum {at_published.objective:.10f} (a local minimum; the best above is {fit.objective:.10f})")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", jscale.warnings.IntervalWarning)
        boot = jscale.bootstrap(law, data, n_resamples=n_resamples, key=0, full_fit=fit)
    print()
    print(boot.summary())

    params = {**C4, **PUBLISHED}
    best = jscale.compute_optimal(jscale.laws.DataConstrained(), [1e22], params=params, fixed={"unique_tokens": 25e9})
    print(f"\n1e22 FLOP, 25e9 unique tokens: N* = {best.n_params[0]:.4g} parameters, D* = {best.n_tokens[0]:.4g} "
          f"tokens, {best.epochs[0]:.2f} epochs, loss {best.loss[0]:.4f}")
    print("  (the paper's README, by grid search: 7.022e9 parameters, 2.373e11 tokens, 9.49 epochs)")
    return fit, boot, best


if __name__ == "__main__":
    main()
