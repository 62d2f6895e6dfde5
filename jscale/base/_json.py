"""Strict JSON: what every `to_dict` returns and the command line writes (a leaf module)."""

from __future__ import annotations

import math

import numpy as np


def strict_json(value):
    """`value` with NumPy arrays and numbers as Python lists and numbers, and NaN or infinite
    floats as None, so `json.dumps(..., allow_nan=False)` takes it."""
    if isinstance(value, dict):
        return {str(k): strict_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [strict_json(v) for v in value]
    if isinstance(value, np.ndarray):
        return strict_json(value.tolist())
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    return value
