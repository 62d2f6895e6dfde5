"""Decisions from a fitted law: the optimum, allocation, marginal returns, compare, run design, two-stage prediction."""
