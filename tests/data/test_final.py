"""A run's final value from its checkpoints (`ScalingData.final`): the last checkpoint, or the mean of
the last k, as published ladders define a run's final loss (issue 33, item 3)."""

import numpy as np
import pytest

import jscale


def checkpoints(shuffle=False):
    rng = np.random.default_rng(0)
    rows = []
    for run, n in (("small", 1e8), ("medium", 4e8), ("large", 1.6e9)):
        for d in np.linspace(1e9, 2e10, 8):
            loss = 1.7 + 400 / n**0.34 + 400 / d**0.28
            rows.append((n, d, loss * np.exp(0.01 * rng.normal()), 0.5 - 0.1 * np.log10(n / 1e8), run))
    if shuffle:
        rows = [rows[i] for i in rng.permutation(len(rows))]
    n, d, loss, err, run = map(np.array, zip(*rows))
    return jscale.ScalingData.from_arrays(n_params=n, n_tokens=d, loss=loss, err=err, run=run)


def test_the_mean_of_the_last_k_checkpoints_per_run():
    data = checkpoints()
    ends = data.final("run", k=3, mean=("loss", "err"))
    assert ends["run"].tolist() == ["large", "medium", "small"] and len(ends) == 3
    for k, label in enumerate(ends["run"]):
        mine = data.subset(data["run"] == label)
        last3 = np.argsort(mine.n_tokens)[-3:]
        assert ends.loss[k] == pytest.approx(np.mean(mine.loss[last3]), rel=1e-15)
        assert ends["err"][k] == pytest.approx(np.mean(mine["err"][last3]), rel=1e-15)
        assert ends.n_tokens[k] == mine.n_tokens.max() and ends.n_params[k] == mine.n_params[0]
    np.testing.assert_allclose(ends.compute, 6 * ends.n_params * ends.n_tokens)
    # the rows' order does not matter; k=1 is the last checkpoint itself
    assert checkpoints(shuffle=True).final("run", k=3, mean=("loss", "err")) == ends
    last = data.final("run")
    assert all(last.loss[k] == data.loss[(data["run"] == r) & (data.n_tokens == last.n_tokens[k])][0]
               for k, r in enumerate(last["run"]))


def test_final_says_what_is_wrong():
    data = checkpoints()
    with pytest.raises(ValueError, match="no column 'group'"):
        data.final()
    with pytest.raises(ValueError, match="has 8 checkpoint\\(s\\), fewer than k=9"):
        data.final("run", k=9)
    with pytest.raises(ValueError, match="'run' must be a numeric column"):
        data.final("run", along="run")
    with pytest.raises(ValueError, match="k must be a whole number"):
        data.final("run", k=0)
