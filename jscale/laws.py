"""Scaling-law forms. See `jscale._laws` for the contract a new form implements.

Every law has `fix(**values)` and `tie(**pairs)` for fixed and tied parameters, e.g.
`Chinchilla().tie(beta="alpha")` or `DataConstrained().fix(E=1.87, A=520.8, ...)`.
"""

from jscale._laws import Chinchilla as Chinchilla
from jscale._laws import Constrained as Constrained
from jscale._laws import DataConstrained as DataConstrained
from jscale._laws import Law as Law

__all__ = ["Chinchilla", "Constrained", "DataConstrained", "Law"]
