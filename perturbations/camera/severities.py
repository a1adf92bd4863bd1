"""Severity tables of the camera corruptions: levels 1..5, typed module-level constants.

The 19 shared corruptions carry the published parameters of ImageNet-C
(Hendrycks & Dietterich, ICLR 2019) as packaged by ``imagecorruptions``
(Michaelis et al. 2019); the values are facts of the benchmark, restated here so
that results stay comparable. Pixel-valued entries are on the [0, 1] scale of
the published code unless the name says otherwise.

The vehicle sensor faults have no published benchmark; their tables are ours,
chosen so that level 1 is a mild fault a camera still works through and level 5
a failure a perception stack must notice. Each table's comment gives the unit.
"""

from __future__ import annotations

Table = tuple[float, float, float, float, float]
Table2 = tuple[tuple[float, float], ...]

# --- noise -------------------------------------------------------------------------------
GAUSSIAN_NOISE_STD: Table = (0.08, 0.12, 0.18, 0.26, 0.38)  # std of additive noise, [0, 1] scale
SHOT_NOISE_PHOTONS: Table = (60.0, 25.0, 12.0, 5.0, 3.0)  # photon count at white (Poisson)
IMPULSE_NOISE_AMOUNT: Table = (0.03, 0.06, 0.09, 0.17, 0.27)  # share of values flipped to 0 or 1
SPECKLE_NOISE_STD: Table = (0.15, 0.2, 0.35, 0.45, 0.6)  # std of multiplicative noise

# --- blur --------------------------------------------------------------------------------
GAUSSIAN_BLUR_SIGMA: Table = (1.0, 2.0, 3.0, 4.0, 6.0)  # px
# (sigma px, max displacement px, iterations)
GLASS_BLUR: tuple[tuple[float, float, float], ...] = (
    (0.7, 1, 2), (0.9, 2, 1), (1.0, 2, 3), (1.1, 3, 2), (1.5, 4, 2),
)
DEFOCUS_BLUR: Table2 = ((3, 0.1), (4, 0.5), (6, 0.5), (8, 0.5), (10, 0.5))  # (disk radius px, alias sigma px)
MOTION_BLUR: Table2 = ((10, 3), (15, 5), (15, 8), (15, 12), (20, 15))  # (kernel radius px, sigma px)
MOTION_BLUR_ANGLE_DEG = (-45.0, 45.0)  # uniform range of the blur direction
# zoom blur averages the image zoomed by 1, 1 + step, ... up to the largest value < end
ZOOM_BLUR: Table2 = ((1.11, 0.01), (1.16, 0.01), (1.21, 0.02), (1.26, 0.02), (1.31, 0.03))  # (end, step)

# --- weather -----------------------------------------------------------------------------
# (noise mean, noise std, zoom, threshold, blur radius px, blur sigma px, image blend)
SNOW: tuple[tuple[float, ...], ...] = (
    (0.1, 0.3, 3, 0.5, 10, 4, 0.8),
    (0.2, 0.3, 2, 0.5, 12, 4, 0.7),
    (0.55, 0.3, 4, 0.9, 12, 8, 0.7),
    (0.55, 0.3, 4.5, 0.85, 12, 8, 0.65),
    (0.55, 0.3, 2.5, 0.85, 12, 12, 0.55),
)
SNOW_ANGLE_DEG = (-135.0, -45.0)
FROST: Table2 = ((1.0, 0.4), (0.8, 0.6), (0.7, 0.7), (0.65, 0.7), (0.6, 0.75))  # (image weight, frost weight)
FOG: Table2 = ((1.5, 2.0), (2.0, 2.0), (2.5, 1.7), (2.5, 1.5), (3.0, 1.4))  # (fog strength, fractal decay)
# (noise mean, noise std, blur sigma px, threshold, colour gain or mud blur sigma, mud flag)
SPATTER: tuple[tuple[float, ...], ...] = (
    (0.65, 0.3, 4, 0.69, 0.6, 0),
    (0.65, 0.3, 3, 0.68, 0.6, 0),
    (0.65, 0.3, 2, 0.68, 0.5, 0),
    (0.65, 0.3, 1, 0.65, 1.5, 1),
    (0.67, 0.4, 1, 0.65, 1.5, 1),
)
SPATTER_WATER_RGB = (175 / 255, 238 / 255, 238 / 255)  # pale turquoise
SPATTER_MUD_RGB = (63 / 255, 42 / 255, 20 / 255)  # mud brown

# --- digital -----------------------------------------------------------------------------
BRIGHTNESS_SHIFT: Table = (0.1, 0.2, 0.3, 0.4, 0.5)  # added to HSV value
CONTRAST_FACTOR: Table = (0.4, 0.3, 0.2, 0.1, 0.05)  # scale about the channel mean
SATURATE: Table2 = ((0.3, 0.0), (0.1, 0.0), (2.0, 0.0), (5.0, 0.1), (20.0, 0.2))  # HSV saturation (gain, offset)
PIXELATE_SCALE: Table = (0.6, 0.5, 0.4, 0.3, 0.25)  # down-scale factor
JPEG_QUALITY: Table = (25.0, 18.0, 15.0, 10.0, 7.0)
ELASTIC_ALPHA: Table = (250 * 0.05, 250 * 0.065, 250 * 0.085, 250 * 0.1, 250 * 0.12)
ELASTIC_SIGMA_PER_PX = 0.01  # smoothing sigma as a share of the image height / width
ELASTIC_MAX_SHIFT_PER_PX = 0.005  # raw displacement range as a share of the image height
ELASTIC_TRUNCATE = 3.0  # smoothing kernel radius in sigmas

# --- vehicle sensor faults (our tables) ---------------------------------------------------
# low light: (stops of light lost, read noise in electrons); full well at white: LOW_LIGHT_FULL_WELL_E
LOW_LIGHT: Table2 = ((1.0, 2.0), (2.0, 3.0), (3.0, 4.0), (4.0, 5.0), (5.0, 6.0))
LOW_LIGHT_FULL_WELL_E = 2000.0  # electrons collected at white before darkening
LOW_LIGHT_GAIN_SHARE = 0.5  # share of the lost stops the ISP's digital gain recovers
OVER_EXPOSURE_STOPS: Table = (0.5, 1.0, 1.5, 2.0, 3.0)  # extra exposure, clipped at the full well
# sun glare: (peak added linear radiance, halo radius as share of the image diagonal, veil)
SUN_GLARE: tuple[tuple[float, float, float], ...] = (
    (0.6, 0.06, 0.02), (1.0, 0.09, 0.05), (1.5, 0.12, 0.1), (2.5, 0.16, 0.16), (4.0, 0.22, 0.25),
)
LENS_DIRT_COVER: Table = (0.03, 0.06, 0.1, 0.16, 0.25)  # share of the image under dirt
LENS_DIRT_OPACITY = 0.85  # opacity of a dirt blotch at its core
LENS_RAINDROPS_COUNT: Table = (4.0, 10.0, 20.0, 35.0, 60.0)  # drops on the lens
LENS_RAINDROP_RADIUS_PER_PX = (0.015, 0.06)  # drop radius range, share of the image height
DEAD_PIXELS_SHARE: Table = (2e-4, 1e-3, 3e-3, 1e-2, 3e-2)  # share of pixels dead, hot or stuck
DEAD_LINES_COUNT: Table = (1.0, 2.0, 4.0, 8.0, 16.0)  # dead rows plus columns
VIGNETTING_CORNER_GAIN: Table = (0.8, 0.65, 0.5, 0.35, 0.2)  # relative illumination in the corners
CHANNEL_FAILURE_LOSS: Table = (0.2, 0.4, 0.6, 0.8, 1.0)  # share of one colour channel's signal lost
# frozen frame: relative depth change of the scene centre between the stale and the true frame
FROZEN_FRAME_DEPTH_CHANGE: Table = (0.02, 0.05, 0.1, 0.18, 0.3)
