"""Scaling-law forms. See `jscale._laws` for the contract a new form implements."""

from jscale._laws import Chinchilla as Chinchilla
from jscale._laws import Law as Law

__all__ = ["Law", "Chinchilla"]
