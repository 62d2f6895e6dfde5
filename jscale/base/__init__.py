"""Leaves: numerics, status codes, the interval type, JSON, warnings, progress, cache, version.

They import no other jscale module."""
