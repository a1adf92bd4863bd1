"""Lidar perturbations: ``Scan -> Scan`` kernels registered as ``lidar_*``.

Importing this package registers every family: dropout (random dropout, beam
missing, beam reduction, FOV and sector loss, local cutout, range limit), noise
(Gaussian/uniform/impulse jitter, intensity noise, crosstalk, sun glare), motion
(ego-motion distortion), weather (fog, rain, snow, wet ground; the ray-level
physics :func:`perturbations.lidar.weather.ray_weather` is shared with the
simulators) and echo (incomplete echo). Severity tables: ``severities.py``.
"""

from perturbations.lidar import dropout, echo, motion, noise, weather
from perturbations.lidar.scan import Scan, scan_from_numpy

__all__ = ["Scan", "dropout", "echo", "motion", "noise", "scan_from_numpy", "weather"]
