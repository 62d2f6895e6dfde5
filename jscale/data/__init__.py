"""Data: `ScalingData`, its loaders and its checks."""
