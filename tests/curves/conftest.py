"""The logged curves of Luo et al. 2025 (arXiv:2503.12811; ../shared/data/multipower_curves, SOURCES.md
section 6) and their schedules, for the tests of jscale.curves; tests skip where the data is absent."""

import numpy as np
import pytest
from helpers import shared_data_dir

from jscale.curves import parse_schedule
from jscale.curves._luo import LUO2025_PUBLISHED, LUO2025_SCHEDULES, LUO2025_TRAIN

LUO2025 = LUO2025_SCHEDULES  # SOURCES.md section 6


def _luo_csv(size: str, name: str):
    """(steps, lr, loss) of one logged curve, rows with step >= T dropped; skips without the data."""
    root = shared_data_dir()
    path = None if root is None else root / "multipower_curves" / f"csv_{size}" / f"{name}.csv"
    if path is None or not path.is_file():
        pytest.skip("../shared/data/multipower_curves is absent")
    table = np.loadtxt(path, delimiter=",", skiprows=1)
    table = table[table[:, 0] < parse_schedule(LUO2025[name]).steps]
    return table[:, 0].astype(np.int64), table[:, 1], table[:, 2]


# Published best parameters (L0, A, alpha, B, C, beta, gamma) and PredE recomputed from them.
PUBLISHED = {size: (list(params), pred_e) for (size, params), pred_e in zip(LUO2025_PUBLISHED.items(),
                                                                             (0.001102, 0.001425))}
TRAIN = LUO2025_TRAIN


@pytest.fixture(scope="session")
def luo_csv():
    return _luo_csv


@pytest.fixture(scope="session")
def luo_schedule():
    return lambda name: parse_schedule(LUO2025[name])


@pytest.fixture(scope="session")
def luo_published():
    return PUBLISHED, TRAIN, tuple(LUO2025)
