"""Severity tables of the lidar perturbations, levels 1..5.

Where 3D_Corruptions_AD (Dong et al., CVPR 2023, ``LiDAR_corruptions.py``) defines
the corruption, its five levels are used as published. Robo3D (Kong et al., ICCV
2023) publishes three levels, light / moderate / heavy; they correspond to our
levels 1 / 3 / 5. Where neither benchmark has the corruption, or its value could
not be checked, the table is chosen here and says so. Float severities
interpolate between levels (:func:`perturbations.registry.severity_value`).
"""

from __future__ import annotations

# --- weather (3D_Corruptions_AD) -------------------------------------------------
FOG_ALPHA: tuple[float, ...] = (0.005, 0.01, 0.02, 0.03, 0.06)
"""Fog extinction coefficient alpha (1/m); 3D_Corruptions_AD ``fog_sim`` (Hahner et al.'s values).
Meteorological optical range 3.0/alpha: 599, 300, 150, 100, 50 m."""

RAIN_RATE: tuple[float, ...] = (0.20, 0.73, 1.5625, 3.125, 7.29)
"""Rain rate (mm/h); 3D_Corruptions_AD ``rain_sim``."""

SNOWFALL_RATE: tuple[float, ...] = (0.20, 0.73, 1.5625, 3.125, 7.29)
"""Snowfall rate (mm/h liquid-water equivalent); 3D_Corruptions_AD ``snow_sim``."""

WET_GROUND_WETNESS: tuple[float, ...] = (0.2, 0.4, 0.6, 0.8, 1.0)
"""Fraction of the road's diffuse return replaced by the wet-surface response; chosen here
(Robo3D has wet ground but its levels are not reproduced)."""

# --- density (3D_Corruptions_AD) ---------------------------------------------------
DROPOUT_FRACTION: tuple[float, ...] = (0.06, 0.12, 0.18, 0.24, 0.30)
"""Share of points removed at random; 3D_Corruptions_AD ``density_dec_global`` (0.2..1.0 x 30 %)."""

CUTOUT_HOLES: tuple[float, ...] = (2, 3, 5, 7, 10)
"""Number of local holes; 3D_Corruptions_AD ``cutout_local`` (which removes the 2 % nearest
neighbours of each centre)."""
CUTOUT_RADIUS_M = 2.0
"""Radius (m) of a hole; chosen here so that a hole around a random return of a 64-beam
scan removes on the order of the 2 % of 3D_Corruptions_AD (most returns are near the sensor)."""

FOV_HALF_ANGLE_DEG: tuple[float, ...] = (105.0, 90.0, 75.0, 60.0, 45.0)
"""Half-angle (deg) of the frontal field of view that is kept; 3D_Corruptions_AD ``fov_filter``."""

SECTOR_LOSS_DEG: tuple[float, ...] = (15.0, 30.0, 45.0, 60.0, 90.0)
"""Width (deg) of one blinded azimuth sector at a random heading; chosen here."""

BEAM_MISSING_FRACTION: tuple[float, ...] = (0.1, 0.2, 0.3, 0.4, 0.5)
"""Share of rings (whole beams) lost; chosen here (Robo3D's beam missing levels not reproduced)."""

BEAM_REDUCTION_BEAMS: tuple[float, ...] = (48, 32, 24, 16, 8)
"""Beams of the emulated sensor per 64 beams (scaled to the scan's ``num_beams``): level 2 is
64 -> 32 (every other ring), level 4 is 64 -> 16 (every fourth ring); the others chosen here."""

RANGE_LIMIT_M: tuple[float, ...] = (80.0, 60.0, 45.0, 30.0, 20.0)
"""Maximum range (m) kept, as for a sensor with a weak receiver; chosen here."""

# --- noise (3D_Corruptions_AD) ---------------------------------------------------
GAUSSIAN_JITTER_M: tuple[float, ...] = (0.02, 0.04, 0.06, 0.08, 0.10)
"""Standard deviation (m) of x, y, z jitter; 3D_Corruptions_AD ``gaussian_noise``."""

UNIFORM_JITTER_M: tuple[float, ...] = (0.02, 0.04, 0.06, 0.08, 0.10)
"""Half-width (m) of uniform x, y, z jitter; 3D_Corruptions_AD ``uniform_noise``."""

IMPULSE_FRACTION: tuple[float, ...] = (1 / 30, 1 / 25, 1 / 20, 1 / 15, 1 / 10)
"""Share of points displaced by +-IMPULSE_STEP_M per axis; 3D_Corruptions_AD ``impulse_noise``."""
IMPULSE_STEP_M = 0.1

INTENSITY_NOISE_STD: tuple[float, ...] = (0.02, 0.05, 0.10, 0.15, 0.20)
"""Standard deviation of additive intensity noise (reflectivity units, clipped to [0, 1]); chosen here."""

CROSSTALK_FRACTION: tuple[float, ...] = (0.004, 0.008, 0.012, 0.016, 0.020)
"""Share of points hit by another lidar's pulses; 3D_Corruptions_AD ``lidar_crosstalk_noise``."""
CROSSTALK_STD_M = 3.0

SUN_GLARE_FRACTION: tuple[float, ...] = (0.01, 0.02, 0.03, 0.04, 0.05)
"""Share of points corrupted by sunlight; 3D_Corruptions_AD ``scene_glare_noise`` (which adds 2 m
Gaussian noise to them; we place them on their ray, see ``lidar_sun_glare``)."""
SUN_GLARE_HALF_WIDTH_DEG = 30.0
"""Half-width (deg) of the azimuth sector around the sun where glare acts; chosen here."""

# --- motion ---------------------------------------------------------------------
EGO_SPEED_MPS: tuple[float, ...] = (5.0, 10.0, 15.0, 20.0, 30.0)
"""Ego speed (m/s) left uncompensated over one sweep; chosen here (urban to motorway)."""

EGO_YAW_RATE: tuple[float, ...] = (0.05, 0.1, 0.2, 0.3, 0.5)
"""Ego yaw rate (rad/s) left uncompensated; chosen here. The sign is drawn at random."""

# --- echo -------------------------------------------------------------------------
INCOMPLETE_ECHO_FRACTION: tuple[float, ...] = (0.75, 0.8, 0.85, 0.9, 0.95)
"""Share of an object's returns lost (dark paint absorbs the pulse); chosen here to span
Robo3D's light-to-heavy range."""
