"""Solvers and their outcome: the fit kernels' hyperparameter objects and `Status`, the one status
type of every solve (a fit's start, a bootstrap draw, an optimum at a point)."""

from jscale._solve import LBFGS as LBFGS
from jscale._solve import RobustGaussNewton as RobustGaussNewton
from jscale._status import Status as Status

__all__ = ["LBFGS", "RobustGaussNewton", "Status"]
