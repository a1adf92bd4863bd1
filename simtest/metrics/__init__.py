"""Evaluation core: matching (detections to ground truth), safety (miss rates,
confidence bounds, gates) and risk (per-episode losses, VaR/CVaR).

Import the submodules directly: ``from simtest.metrics.safety import miss_rates``.
"""
