"""Every warning and error class of jscale, and the `Diagnostic` record (a leaf module).

Every diagnostic, from every entry point, is a `DiagnosticWarning`, so one filter silences all
of them: `warnings.simplefilter("ignore", jscale.warnings.DiagnosticWarning)`. Each kind has its own
class, so one kind can be filtered and the others kept. The kinds that concern intervals also
derive from `IntervalWarning`.

| kind | class | when |
|---|---|---|
| convergence | ConvergenceWarning | the best start stopped before its convergence test held |
| starts | StartsWarning | fewer than 3 starts reached the best objective |
| bound | BoundWarning | a parameter at (or within 1e-6 of) a bound of its domain |
| correlation | CorrelationWarning | two parameters with abs. correlation above 0.99 |
| configurations | ConfigurationsWarning | fewer distinct configurations than twice the parameters |
| curvature | CurvatureWarning | the Hessian at the optimum is singular: no curvature intervals |
| draws | DrawsWarning | bootstrap draws whose fit did not converge |
| resamples | ResamplesWarning | a bootstrap of fewer than 100 resamples |
| irreducible_loss | IrreducibleLossWarning | the fitted E above the lowest observed loss |
| compute | ComputeWarning | given compute outside 0.8-1.25 times 6ND |
| repetition | RepetitionWarning | data repeated (D/U > 1) under a law without unique_tokens |
| extrapolation | ExtrapolationWarning | predictions or allocations outside the fitted data |
| form | FormWarning | a backtest's held-out errors beyond what the fit's uncertainty allows |
| sweep | SweepWarning | an isoFLOP budget left out (under 3 sizes, or its minimum at the sweep's edge) |
"""

from __future__ import annotations

import dataclasses
import warnings


class ConvergenceError(RuntimeError):
    """No start produced a finite objective, or `strict=True` and the best start did not converge."""


class DiagnosticWarning(UserWarning):
    """Base class of every jscale diagnostic: something about a fit or a prediction to check."""


class IntervalWarning(DiagnosticWarning):
    """Intervals may not be trustworthy (base class of the bound, correlation, configurations,
    curvature and draws kinds)."""


class ConvergenceWarning(DiagnosticWarning):
    """The best start of a fit stopped before its convergence test held (the gradient norm there
    is reported)."""


class StartsWarning(DiagnosticWarning):
    """Only a few starts reached the best objective: a lower basin may have been missed."""


class BoundWarning(IntervalWarning):
    """A parameter is at or near a bound of its domain."""


class CorrelationWarning(IntervalWarning):
    """Two parameters are strongly correlated: each is poorly determined alone."""


class ConfigurationsWarning(IntervalWarning):
    """The data has fewer distinct configurations than twice the law's parameters."""


class CurvatureWarning(IntervalWarning):
    """The Hessian of the objective at the optimum is not positive definite: curvature
    (sandwich, Hessian) intervals are undefined."""


class DrawsWarning(IntervalWarning):
    """Some bootstrap draws did not converge and are left out of the statistics."""


class ResamplesWarning(IntervalWarning):
    """A bootstrap of fewer than 100 resamples: its intervals are rough."""


class IrreducibleLossWarning(DiagnosticWarning):
    """The fitted irreducible loss E lies above the lowest loss observed."""


class ComputeWarning(DiagnosticWarning):
    """The given compute column is not about 6ND (ratio outside 0.8-1.25)."""


class RepetitionWarning(DiagnosticWarning):
    """The data repeats tokens (epochs above 1) but the law ignores repetition."""


class SweepWarning(DiagnosticWarning):
    """An isoFLOP budget left out: too few sizes for a parabola, or its minimum at the sweep's edge."""


class ScheduleWarning(DiagnosticWarning):
    """The training curves' schedules cannot identify a curve law's parameters (e.g. no curve
    ever lowers its learning rate, so nothing measures the loss drop of annealing)."""


class ExtrapolationWarning(DiagnosticWarning):
    """A prediction or allocation lies outside the range of the fitted data."""


class FormWarning(IntervalWarning):
    """A law fitted to the smaller runs mispredicts the larger ones by more than its uncertainty
    allows (the trend test of `jscale.backtest`): its form may be wrong beyond the data."""


@dataclasses.dataclass(frozen=True)
class Diagnostic:
    """One finding: its `kind` (see the module table), a plain-words `message`, the warning
    `category` and the figures behind it (`values`: name -> number or array)."""

    kind: str
    message: str
    category: type
    values: dict = dataclasses.field(default_factory=dict, compare=False, hash=False)

    def warn(self, stacklevel: int = 2) -> None:
        warnings.warn(self.message, self.category, stacklevel=stacklevel + 1)

    def __str__(self) -> str:
        return f"{self.category.__name__}: {self.message}"


def warn_all(found, stacklevel: int = 2) -> None:
    """Warns once with each `Diagnostic` of `found` (`stacklevel` counted from the caller)."""
    for d in found:
        d.warn(stacklevel=stacklevel + 1)


def renamed(owner: str, old: str, new: str, why: str) -> property:
    """A read-only property under a name that left in 0.3.0: it warns (DeprecationWarning, until
    0.4.0) and reads `new`."""
    def get(self):
        warnings.warn(f"{owner}.{old} is now {new} ({why}); {old} goes in 0.4.0.", DeprecationWarning, stacklevel=2)
        return getattr(self, new)
    return property(get, doc=f"The old name of `{new}` (until 0.4.0).")
