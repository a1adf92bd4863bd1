"""Lidar perturbations (Scan -> Scan); importing this package registers every family."""

from perturbations.lidar import weather  # noqa: F401
