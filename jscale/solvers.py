"""Solvers and their outcome: the fit kernels' hyperparameter objects and `Status`, the one status
type of every solve (a fit's start, a bootstrap draw, an optimum at a point)."""

from jscale.base._status import Status as Status
from jscale.engine._solve import LBFGS as LBFGS
from jscale.engine._solve import RobustGaussNewton as RobustGaussNewton

__all__ = ["LBFGS", "RobustGaussNewton", "Status"]
