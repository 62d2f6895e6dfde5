"""Inference: result containers, bands, intervals, covariances, diagnostics and reports."""
