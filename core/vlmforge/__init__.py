"""vlmforge: turn agent rollouts into VLM training data and trained models."""

__version__ = "0.1.0"
