"""Sweeps: isoFLOP parabolas (Approaches 1 and 2) and the envelope."""
