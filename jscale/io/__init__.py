"""Saving and loading results."""
