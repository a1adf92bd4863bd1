"""Camera perturbations: RGB uint8 H x W x 3 (H, W >= 32) -> same shape and dtype.

Importing this package registers every family:

* ``noise``: gaussian_noise, shot_noise, impulse_noise, speckle_noise;
* ``blur``: gaussian_blur, glass_blur, defocus_blur, motion_blur, zoom_blur;
* ``weather``: snow, frost (procedural texture, no photographs), fog, spatter;
* ``digital``: brightness, contrast, saturate, pixelate, jpeg_compression, elastic_transform;
* ``sensor_faults``: low_light, over_exposure, sun_glare, vignetting, lens_dirt,
  lens_raindrops, dead_pixels, dead_lines, channel_failure, frozen_frame (a stale
  frame approximated from the current one; see that module).

The 19 corruptions shared with ImageNet-C / ``imagecorruptions`` use its names and
its published 1..5 severity parameters (``severities.py``), so results are
comparable with that benchmark; where a kernel departs from the published code
(rounding instead of truncation, a vectorised glass blur, a centred zoom,
a procedural frost texture) its docstring says so.

Backends: filters run through OpenCV on NumPy and the ``cupyx.scipy.ndimage``
twins on CuPy (``filters.py``); random layers (noise, flakes, splashes, fractals,
textures) are drawn on the host from the seed in the Params (``fields.py``) or by
CuPy's generator on the device. Host fallbacks (the image is copied to the host on
a GPU): ``pixelate`` and ``jpeg_compression`` (OpenCV resize / JPEG codec).
"""

from perturbations.camera import blur, digital, noise, sensor_faults, weather

__all__ = ["blur", "digital", "noise", "sensor_faults", "weather"]
