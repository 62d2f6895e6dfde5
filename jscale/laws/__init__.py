"""Scaling-law forms. See `jscale.laws._laws` for the contract a new form implements.

Every law has `fix(**values)` and `tie(**pairs)` for fixed and tied parameters, e.g.
`Chinchilla().tie(beta="alpha")` or `DataConstrained().fix(E=1.87, A=520.8, ...)`; `custom`
makes a law from a plain JAX function. `ExponentialLink` and `SigmoidLink` are link laws from the loss
to a task metric (see `jscale.two_stage`); `shared` fits one law to several data sets with some
parameters in common. `NAMED` maps the names the command line and saved files use (e.g.
"chinchilla") to the built-in law classes.
"""

from jscale.laws._laws import NAMED as NAMED
from jscale.laws._laws import BrokenPowerLaw as BrokenPowerLaw
from jscale.laws._laws import Chinchilla as Chinchilla
from jscale.laws._laws import Constrained as Constrained
from jscale.laws._laws import Custom as Custom
from jscale.laws._laws import DataConstrained as DataConstrained
from jscale.laws._laws import ExponentialLink as ExponentialLink
from jscale.laws._laws import HyperparameterLaw as HyperparameterLaw
from jscale.laws._laws import Kaplan as Kaplan
from jscale.laws._laws import Law as Law
from jscale.laws._laws import Param as Param
from jscale.laws._laws import PowerLaw as PowerLaw
from jscale.laws._laws import PurePowerLaw as PurePowerLaw
from jscale.laws._laws import Shared as Shared
from jscale.laws._laws import SigmoidLink as SigmoidLink
from jscale.laws._laws import custom as custom
from jscale.laws._laws import shared as shared

__all__ = [
    "BrokenPowerLaw",
    "Chinchilla",
    "Constrained",
    "Custom",
    "DataConstrained",
    "ExponentialLink",
    "HyperparameterLaw",
    "Kaplan",
    "Law",
    "NAMED",
    "Param",
    "PowerLaw",
    "PurePowerLaw",
    "Shared",
    "SigmoidLink",
    "custom",
    "shared",
]
