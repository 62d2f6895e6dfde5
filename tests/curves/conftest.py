"""The logged curves of Luo et al. 2025 (arXiv:2503.12811; ../shared/data/multipower_curves, SOURCES.md
section 6) and their schedules, for the tests of jscale.curves; tests skip where the data is absent."""

import numpy as np
import pytest
from helpers import shared_data_dir

from jscale.curves import parse_schedule

# SOURCES.md section 6: every schedule warms up linearly to 3e-4 over 2160 steps.
LUO2025 = {
    "cosine_24000": "cosine(steps=24000, peak=3e-4, floor=3e-5, warmup=2160)",
    "cosine_72000": "cosine(steps=72000, peak=3e-4, floor=3e-5, warmup=2160)",
    "constant_24000": "constant(steps=24000, peak=3e-4, warmup=2160)",
    "constant_72000": "constant(steps=72000, peak=3e-4, warmup=2160)",
    "wsdcon_3": "two_stage(steps=16000, peak=3e-4, switch=8000, value=3e-5, warmup=2160)",
    "wsdcon_9": "two_stage(steps=16000, peak=3e-4, switch=8000, value=9e-5, warmup=2160)",
    "wsdcon_18": "two_stage(steps=16000, peak=3e-4, switch=8000, value=18e-5, warmup=2160)",
    "wsd_20000_24000": "wsd(steps=24000, peak=3e-4, decay_start=20000, floor=3e-5, decay=geometric, warmup=2160)",
    "wsdld_20000_24000": "wsd(steps=24000, peak=3e-4, decay_start=20000, floor=3e-5, decay=linear, warmup=2160)",
}


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
PUBLISHED = {
    "25M": ([3.04045406, 0.52468604, 0.50786857, 363.78751622, 2.06560812, 0.58279013, 0.64142257], 0.001102),
    "100M": ([2.6514477, 0.60115152, 0.45295811, 437.9464276, 2.13245612, 0.59785199, 0.65523644], 0.001425),
}
TRAIN = ("cosine_24000", "constant_24000", "wsdcon_9")


@pytest.fixture(scope="session")
def luo_csv():
    return _luo_csv


@pytest.fixture(scope="session")
def luo_schedule():
    return lambda name: parse_schedule(LUO2025[name])


@pytest.fixture(scope="session")
def luo_published():
    return PUBLISHED, TRAIN, tuple(LUO2025)
