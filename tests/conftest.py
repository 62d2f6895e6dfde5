"""Fixtures shared by the test modules (the problems themselves live in helpers.py)."""

import pytest
from helpers import chinchilla_grid_fit


@pytest.fixture(scope="session")
def grid_fit():
    """The published replication, fitted once per session (see helpers.chinchilla_grid_fit)."""
    return chinchilla_grid_fit()
