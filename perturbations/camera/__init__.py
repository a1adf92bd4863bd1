"""Camera perturbations: RGB uint8 H x W x 3 (H, W >= 32) -> same shape and dtype.

Importing this package registers every family:

* ``noise``: gaussian_noise, shot_noise, impulse_noise, speckle_noise;
* ``blur``: gaussian_blur, glass_blur, defocus_blur, motion_blur, zoom_blur.

The 19 corruptions shared with ImageNet-C / ``imagecorruptions`` use its names and
its published 1..5 severity parameters (``severities.py``), so results are
comparable with that benchmark. Filters run through OpenCV on NumPy and the
``cupyx.scipy.ndimage`` twins on CuPy (``filters.py``); seeded noise fields come
from ``fields.py``.
"""

from perturbations.camera import blur, digital, noise, sensor_faults, weather

__all__ = ["blur", "digital", "noise", "sensor_faults", "weather"]
