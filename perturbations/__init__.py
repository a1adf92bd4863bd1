"""Sensor corruptions for camera, lidar and fused frames (NumPy or CuPy).

Importable on its own: ``perturb(image, "fog", 3, np.random.default_rng(0))``.
"""

from perturbations.registry import (
    REGISTRY,
    Applied,
    Perturbation,
    check_severity,
    get,
    names,
    perturb,
    perturb_recorded,
    perturbation,
    replay,
    severity_value,
)

__all__ = [
    "REGISTRY",
    "Applied",
    "Perturbation",
    "check_severity",
    "get",
    "names",
    "perturb",
    "perturb_recorded",
    "perturbation",
    "replay",
    "severity_value",
]
