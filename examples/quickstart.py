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
    n_opt, d_opt, loss_opt = law.compute_optimal(result.params, 5.76e23)
    print(f"compute-optimal at 5.76e23 FLOP: N* = {float(n_opt):.3g}, D* = {float(d_opt):.3g}, "
          f"D*/N* = {float(d_opt / n_opt):.1f}, L* = {float(loss_opt):.4f}")
    return result


if __name__ == "__main__":
    main()
