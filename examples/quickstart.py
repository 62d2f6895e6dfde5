"""Quick start: fit the Chinchilla law to the bundled data and plan a training run.

    python examples/quickstart.py
"""

import jscale


def main(every: int = 1):
    """Fits from every `every`-th start of Hoffmann's grid (1: all 4,500) and prints the results."""
    data = jscale.datasets.load("chinchilla")
    law = jscale.laws.Chinchilla()
    result = jscale.fit(law, data, starts=law.default_starts()[::every])
    print(result.summary())

    # Loss predicted for Chinchilla itself (70B parameters, 1.4T tokens).
    print("predicted loss at N=70e9, D=1.4e12:", float(result.predict(n_params=[70e9], n_tokens=[1.4e12])[0]))

    # Compute-optimal allocation at Chinchilla's budget, C = 6 N D = 5.76e23 FLOP.
    best = jscale.compute_optimal(result, [5.76e23])
    low, high = best.interval("tokens_per_param")
    print(f"compute-optimal at 5.76e23 FLOP: N* = {best.n_params[0]:.3g}, D* = {best.n_tokens[0]:.3g}, "
          f"D*/N* = {best.tokens_per_param[0]:.1f} (95% delta-method band {low[0]:.1f}-{high[0]:.1f}), "
          f"L* = {best.loss[0]:.4f}")
    return result


if __name__ == "__main__":
    main()
