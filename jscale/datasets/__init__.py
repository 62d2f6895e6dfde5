"""Scaling-law data sets bundled with jscale, loaded as `ScalingData`.

Example:
    >>> import jscale.datasets
    >>> jscale.datasets.list()
    ['chinchilla']
    >>> data = jscale.datasets.load("chinchilla")
    >>> len(data), data.columns
    (240, ('n_params', 'n_tokens', 'compute', 'loss'))
"""

from __future__ import annotations

import builtins
import csv
import dataclasses
import importlib.resources

import numpy as np

from jscale._data import ScalingData

__all__ = ["load", "list", "info"]


@dataclasses.dataclass(frozen=True)
class _Dataset:
    file: str  # under jscale/datasets/data/
    outlier_column: str | None  # a 0/1 column; rows with 1 are dropped unless include_outliers
    info: str


_DATASETS = {
    "chinchilla": _Dataset(
        file="chinchilla.csv",
        outlier_column="excluded_by_epoch",
        info="""\
chinchilla: the Figure 4 (left) training runs of Hoffmann et al. 2022, as reconstructed by Epoch AI.

245 runs: N (n_params, 5.7e7 to 1.6e10), D (n_tokens, D = C/(6N)), C (compute, 1.4e18 to
1.3e22 FLOP) and loss (nats/token, 2.08 to 5.01). load() keeps the 240 runs that Epoch keeps
(loss below the 5th-largest loss); load(..., include_outliers=True) gives all 245.

Source: github.com/epoch-research/analyzing-chinchilla, data/svg_extracted_data.csv, commit
92258837425e1b5f2851d624287f0120583a3d0e; points digitised from the paper's SVG figure, loss
decoded from marker colours. Licence: none declared upstream; cite both papers:
  Hoffmann et al. (2022), Training Compute-Optimal Large Language Models, arXiv:2203.15556.
  Besiroglu, Erdil, Barnett, You (2024), Chinchilla Scaling: A replication attempt,
  arXiv:2404.10102.
Epoch's fit on the 240 runs: E = 1.817, A = 482.0, B = 2085.4, alpha = 0.348, beta = 0.366.""",
    ),
}


def list() -> builtins.list[str]:  # noqa: A001 (public name shadows the builtin on purpose)
    """Returns the names of the bundled data sets, sorted.

    Example:
        >>> import jscale.datasets
        >>> "chinchilla" in jscale.datasets.list()
        True
    """
    return sorted(_DATASETS)


def _entry(name: str) -> _Dataset:
    if name not in _DATASETS:
        raise ValueError(
            f"Unknown data set {name!r}; the bundled data sets are: {', '.join(sorted(_DATASETS))}."
        )
    return _DATASETS[name]


def load(name: str, *, include_outliers: bool = False) -> ScalingData:
    """Loads a bundled data set.

    Args:
        name: the data set, one of `jscale.datasets.list()`, e.g. "chinchilla".
        include_outliers: keep the rows the data set's source drops (for "chinchilla", the 5
            highest-loss runs that Epoch AI excludes), giving 245 rows instead of 240.

    Returns:
        A ScalingData; for "chinchilla", with n_params (N), n_tokens (D), compute (C, FLOP) and
        loss (nats/token), all float64 of shape (240,) or (245,).

    Raises:
        ValueError: if `name` is not a bundled data set.

    Example:
        >>> import jscale.datasets
        >>> data = jscale.datasets.load("chinchilla")
        >>> len(data)
        240
        >>> len(jscale.datasets.load("chinchilla", include_outliers=True))
        245
    """
    entry = _entry(name)
    resource = importlib.resources.files(__name__) / "data" / entry.file
    with importlib.resources.as_file(resource) as path:
        data = ScalingData.from_csv(path)
        if entry.outlier_column is None or include_outliers:
            return data
        with open(path, newline="", encoding="utf-8") as f:
            flags = [row[entry.outlier_column] for row in csv.DictReader(f)]
    return data.subset(np.array(flags) == "0")


def info(name: str) -> str:
    """Returns a data set's description, provenance, licence note and citations.

    Args:
        name: the data set, one of `jscale.datasets.list()`.

    Raises:
        ValueError: if `name` is not a bundled data set.

    Example:
        >>> import jscale.datasets
        >>> "arXiv:2203.15556" in jscale.datasets.info("chinchilla")
        True
    """
    return _entry(name).info
