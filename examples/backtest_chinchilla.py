"""Backtest the Chinchilla law: fit the smaller runs, predict the larger ones.

    python examples/backtest_chinchilla.py

On the 240 Chinchilla runs Epoch AI kept (Besiroglu et al. 2024; bundled), the law
L = E + A/N^alpha + B/D^beta is fitted (Hoffmann's 4,500-start grid, Huber loss) twice: on the
runs below the top quarter of training compute, then below the top quarter of model sizes. Each
fit predicts the held-out, larger runs; the relative errors are reported overall and by how many
decades beyond the largest training run a held-out run lies.
"""

import jscale


def main(starts=None, by=("compute", "n_params")):
    data = jscale.datasets.load("chinchilla")
    law = jscale.laws.Chinchilla()
    results = {}
    for column in by:
        bt = jscale.backtest(law, data, by=column, holdout=0.25, starts=starts)
        print(bt.summary())
        print("  fitted on the smaller runs: " + ", ".join(f"{k} = {v:.4g}" for k, v in bt.fit.params.items()))
        print()
        results[column] = bt
    return results


if __name__ == "__main__":
    main()
