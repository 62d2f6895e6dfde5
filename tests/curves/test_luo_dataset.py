"""The bundled curves of Luo et al. 2025 ("luo2025"): read as curves, they give the paper's PredE from
its published parameters, with no ../shared data needed."""

import numpy as np
import pytest

import jscale
from jscale.curves import LUO2025_PUBLISHED, LUO2025_SCHEDULES, LUO2025_TRAIN, curves_from_table, predict_curves


@pytest.fixture(scope="module")
def sets():
    return curves_from_table(jscale.datasets.load("luo2025"), schedules=LUO2025_SCHEDULES, sets="size")


def test_the_bundled_curves_are_the_nine_schedules_of_two_sizes(sets):
    assert list(sets) == ["25M", "100M"]
    for curves in sets.values():
        assert set(curves) == set(LUO2025_SCHEDULES)
        for schedule, steps, loss in curves.values():
            assert steps[0] >= 2160 and steps[-1] < schedule.steps and np.all(np.diff(steps) > 0)
            assert np.all((loss > 2.0) & (loss < 11.0))


@pytest.mark.parametrize(("size", "published"), [("25M", 0.001102), ("100M", 0.001425)])
def test_the_published_parameters_give_the_papers_pred_e(sets, size, published):
    test = {n: c for n, c in sets[size].items() if n not in LUO2025_TRAIN}
    predicted = predict_curves(LUO2025_PUBLISHED[size], [(s, steps) for s, steps, _ in test.values()]).split()
    pred_e = np.mean([np.mean(np.abs(p - loss) / loss) for p, (*_, loss) in zip(predicted, test.values())])
    assert pred_e == pytest.approx(published, abs=1e-6)


def test_the_bundled_curves_carry_their_schedules(sets):
    again = curves_from_table(jscale.datasets.load("luo2025"), sets="size")
    assert all(again[size][name][0] == sets[size][name][0] for size in sets for name in sets[size])
