"""Immutable fit results: every start's end state plus the index of the best one."""

from __future__ import annotations

from typing import Any

import numpy as np
from flax import struct

from jscale._solve import STATUS_NAMES, SUCCESS

# Relative gap to the best objective within which a start counts as having reached it.
AT_BEST_RTOL = 1e-8


class FitResult(struct.PyTreeNode, kw_only=True):
    """The outcome of `jscale.fit`: one law fitted from S starts to one dataset.

    Attributes:
        law: the law object (static).
        loss: the loss object, e.g. `Huber(delta=1e-3)` (static).
        starts: (S, P) free-space starting points.
        end_params: (S, P) free-space end point of every start.
        objectives: (S,) objective (sum of losses of log residuals) at every end point.
        status: (S,) integer status of every start (0 success, 1 max_steps, 2 stalled,
            3 nonfinite; see `jscale.STATUS`).
        n_steps: (S,) objective evaluations used by every start.
        best_index: index of the start with the lowest objective (static).
        n_rows: number of data rows fitted (static).
        objective_floor: objective of residuals at the data's rounding level; gaps below it
            are not resolved (static).
    """

    law: Any = struct.field(pytree_node=False)
    loss: Any = struct.field(pytree_node=False)
    starts: np.ndarray
    end_params: np.ndarray
    objectives: np.ndarray
    status: np.ndarray
    n_steps: np.ndarray
    best_index: int = struct.field(pytree_node=False)
    n_rows: int = struct.field(pytree_node=False)
    objective_floor: float = struct.field(pytree_node=False, default=0.0)

    # --- the best fit -------------------------------------------------------------------------
    @property
    def free_params(self) -> dict[str, float]:
        """Best fit in the free parametrisation (log of positive parameters), name -> value."""
        x = self.end_params[self.best_index]
        return {n: float(v) for n, v in zip(self.law.free_names, x)}

    @property
    def params(self) -> dict[str, float]:
        """Best fit in natural units, name -> value (e.g. E, A, B, alpha, beta)."""
        x = np.asarray(self.law.to_natural(np.asarray(self.end_params[self.best_index])))
        return {n: float(v) for n, v in zip(self.law.param_names, x)}

    @property
    def objective(self) -> float:
        """Lowest objective over all starts."""
        return float(self.objectives[self.best_index])

    @property
    def best_status(self) -> str:
        """Status name of the best start ('success' when it converged)."""
        return STATUS_NAMES[int(self.status[self.best_index])]

    # --- all starts ---------------------------------------------------------------------------
    @property
    def n_starts(self) -> int:
        return int(self.objectives.shape[0])

    @property
    def n_converged(self) -> int:
        """Number of starts that ended with status success."""
        return int(np.sum(self.status == SUCCESS))

    def at_best(self, rtol: float = AT_BEST_RTOL) -> np.ndarray:
        """(S,) mask of starts within `rtol` (relative) of the best objective, or within the floor."""
        best = self.objective
        return self.objectives <= best + max(rtol * abs(best), self.objective_floor)

    @property
    def n_at_best(self) -> int:
        """Number of starts within 1e-8 (relative) of the best objective."""
        return int(np.sum(self.at_best()))

    @property
    def share_at_best(self) -> float:
        """Share of starts within 1e-8 (relative) of the best objective."""
        return self.n_at_best / self.n_starts

    def status_counts(self) -> dict[str, int]:
        """Number of starts per status name."""
        return {name: int(np.sum(self.status == code)) for code, name in STATUS_NAMES.items()}

    # --- use ----------------------------------------------------------------------------------
    def predict(self, data=None, **columns) -> np.ndarray:
        """Predicted loss of the best fit, shape (R,).

        Pass a `ScalingData` or the law's columns as keyword arrays, e.g.
        `result.predict(n_params=[1e9], n_tokens=[2e10])`.
        """
        from jscale._fit import predict

        return predict(self.law, self.end_params[self.best_index], data, **columns)

    def summary(self) -> str:
        """A readable table of the fit: objective, convergence and every parameter."""
        counts = ", ".join(f"{k} {v}" for k, v in self.status_counts().items() if v)
        lines = [
            f"jscale fit: {self.law.name} law, {self.n_rows} rows, loss {self.loss}",
            f"  objective     {self.objective:.10g}  (best of {self.n_starts} starts, start #{self.best_index}, "
            f"{self.best_status})",
            f"  starts        {counts}; {self.n_at_best} ({100 * self.share_at_best:.1f}%) within 1e-8 of the best",
            "",
            f"  {'parameter':<10} {'value':>14} {'free':>10} {'free value':>14}",
        ]
        for (name, value), (free, fv) in zip(self.params.items(), self.free_params.items()):
            lines.append(f"  {name:<10} {value:>14.6g} {free:>10} {fv:>14.8g}")
        return "\n".join(lines)

    def __repr__(self) -> str:
        params = ", ".join(f"{k}={v:.6g}" for k, v in self.params.items())
        return f"FitResult({self.law.name}: {params}; objective={self.objective:.6g}, starts={self.n_starts})"
