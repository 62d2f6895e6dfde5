"""Scaling-law data sets bundled with jscale, loaded as `ScalingData`.

Example:
    >>> import jscale.datasets
    >>> jscale.datasets.list()
    ['chinchilla', 'datablations', 'gadre2024', 'luo2025']
    >>> data = jscale.datasets.load("chinchilla")
    >>> len(data), data.columns
    (240, ('n_params', 'n_tokens', 'compute', 'loss'))
"""

from __future__ import annotations

import builtins
import dataclasses
import importlib.resources
import json

import numpy as np

from jscale.base._text import closest
from jscale.data._data import ScalingData

__all__ = ["load", "list", "info"]


@dataclasses.dataclass(frozen=True)
class _Dataset:
    file: str  # under jscale/datasets/data/
    drop_when: tuple[str, str] | None  # (column, value): such rows are dropped unless include_outliers
    info: str


_DATASETS = {
    "chinchilla": _Dataset(
        file="chinchilla.csv",
        drop_when=("excluded_by_epoch", "1"),
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
    "datablations": _Dataset(
        file="datablations.csv",
        drop_when=("in_paper_fit_set", "0"),
        info="""\
datablations: the data-constrained C4 runs of Muennighoff et al. 2023 (final validation losses).

296 runs: N (n_params, 7.1e6 to 8.7e9), D (n_tokens, total tokens seen, 1e8 to 9e11), U
(unique_tokens, 1e8 to 1.8e11; epochs D/U from 1 to 9,000), C = 6ND (compute) and loss (C4
validation, GPT-2 tokenizer, nats/token, 2.34 to 11.0); group = the run name without its seed
tag, so seeds of one configuration share a group. load() keeps the 182 runs of the paper's fit
(the notebook's curated list); load(..., include_outliers=True) gives all 296.

Source: github.com/huggingface/datablations, utils/parametric_fit.ipynb (data values in its dict
literals), commit 13701315b163f1c54642b94ad237b2699187c3ee; runs with loss 0 (unfinished) and
*dedup runs excluded as the notebook excludes them. Licence: Apache-2.0. Cite:
  Muennighoff, Rush, Barak, Le Scao, Piktus, Tazi, Pyysalo, Wolf, Raffel (2023), Scaling
  Data-Constrained Language Models, NeurIPS 2023, arXiv:2305.16264.
Published fit (base law fixed to the C4 values, log A, log B, log E, alpha = beta = 6.255414,
7.3049974, 0.6254804, 0.3526596): R_D* = 15.387756, R_N* = 5.309743, Huber sum 0.0158259.""",
    ),
    "gadre2024": _Dataset(
        file="gadre2024.csv",
        drop_when=None,
        info="""\
gadre2024: the over-trained open_lm runs of Gadre et al. 2024 with their C4 loss and downstream
top-1 errors.

104 runs on three training sets (dataset: c4_original 34, rpj = RedPajama 35, rw_original =
RefinedWeb 35); model_config (0.011B to 6.9B); n_params (N, with embeddings, 1.06e7 to 6.89e9);
n_tokens (D = M N, 5.3e7 to 9.2e11); tokens_per_param (M, 5 to 640); loss (C4 eval loss,
nats/token, 2.38 to 6.12); err_avg_subset17 and err_avg_46 (mean top-1 error over the paper's
17-task and 46-task splits, not centred on chance); fit_role: loss_and_error_fit (the 5 runs
per training set of the loss law), error_fit_only (the 1.4B run at M = 20, added for the error
law), extrapolation_target (the 1.4B runs beyond M = 20 and the 6.9B run), unused.

Source: github.com/mlfoundations/scaling, commit a003c4913793ac2ae7ef87b28ecb562955d026d5,
exp_data/models/*.json and exp_data/evals/*_heavy.json (data values only). Licence: MIT,
Copyright (c) 2024 mlfoundations. Cite:
  Gadre, Smyrnis, Shankar, Gururangan, Wortsman, Shao, Mercat, Fang, Li, Keh, et al. (2024),
  Language models scale reliably with over-training and on downstream tasks, arXiv:2403.08540.
Reference (RedPajama; loss law E + A N^-a + B D^-a on the 5 loss_and_error_fit runs, error law
eps - k exp(-gamma L) on those and the error_fit_only run, both least squares): predicted
17-task error of the 1.4B M=640 run off by 3.6365%, of the 6.9B M=20 run by 0.0464%.""",
    ),
    "luo2025": _Dataset(
        file="luo2025.csv",
        drop_when=None,
        info="""\
luo2025: the training-loss curves of Luo et al. 2025 (the multi-power law) under nine learning-rate
schedules, for models of 25M and 100M parameters.

4,162 checkpoints: size ("25M" or "100M"), run (the schedule's name), step (logged about every
128 steps from 2,160, the end of warmup) and loss (training loss, nats). The nine schedules, as
jscale.curves specs (peak 3e-4 after a linear warmup of 2,160 steps), are in
jscale.curves.LUO2025_SCHEDULES: cosine to 3e-5 and constant at 24,000 and 72,000 steps, WSD to
3e-5 with geometric (wsd_20000_24000) and linear (wsdld_20000_24000) decay from step 20,000, and
three two-stage schedules of 16,000 steps (wsdcon_k: 3e-4, then k e-5 from step 8,000). Rows at
step >= the schedule's length are dropped, as the paper's code drops them. The paper fits on
cosine_24000, constant_24000 and wsdcon_9 and tests on the other six:
    curves = jscale.curves.curves_from_table(load("luo2025"), schedules=LUO2025_SCHEDULES, sets="size")

Source: github.com/thu-yao-01-luo/MultiPowerLaw, commit 8da9f1902602f3391b971a811e3cc51604541769,
loss_curve_repo/csv_25 and csv_100 (the step and loss columns; the lr column is regenerated by the
schedules). Licence: MIT, Copyright (c) 2025 Kairong Luo (data/luo2025_LICENSE.md). Cite:
  K. Luo et al. (2025), A Multi-Power Law for Loss Curve Prediction Across Learning Rate
  Schedules, ICLR 2025, arXiv:2503.12811.
Published parameters (L0, A, alpha, B, C, beta, gamma): 25M 3.0405, 0.5247, 0.5079, 363.79, 2.0656,
0.5828, 0.6414 (PredE 0.00110 on the six test curves); 100M 2.6514, 0.6012, 0.4530, 437.95,
2.1325, 0.5979, 0.6552 (PredE 0.00142).""",
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
            f"Unknown data set {name!r}{closest(name, _DATASETS)}; the bundled data sets are: "
            f"{', '.join(sorted(_DATASETS))}."
        )
    return _DATASETS[name]


def load(name: str, *, include_outliers: bool = False) -> ScalingData:
    """Loads a bundled data set.

    Args:
        name: the data set, one of `jscale.datasets.list()`, e.g. "chinchilla".
        include_outliers: keep the rows the data set's source leaves out of its fit (for
            "chinchilla", the 5 highest-loss runs that Epoch AI excludes: 245 rows instead of
            240; for "datablations", the runs outside the paper's fit set: 296 instead of 182).

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
    data = data.replace(source=json.dumps({"kind": "dataset", "name": name, "include_outliers": include_outliers}))
    if entry.drop_when is None:
        return data
    column, value = entry.drop_when
    flags = np.asarray(data[column])
    # The flag says how the source used a run; it is not data, so it is not kept as a column.
    data = data.replace(extra={k: v for k, v in data.extra.items() if k != column})
    return data if include_outliers else data.subset(flags != float(value))


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
