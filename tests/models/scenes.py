"""Fixed held-out embedded-simulator scenes for the model tests (cached per session).

The seeds differ from every seed of ``tools/train_reference.py`` (training data
20261123, card evaluation 777001-777005), so these scenes were never trained on.
"""

from __future__ import annotations

import functools
import os

import numpy as np

from simtest.types import Frame

HELD_OUT_SEED = 5150
FRAMES_PER_SCENARIO = 8
STEP = 0.5  # s between frames


@functools.lru_cache(maxsize=1)
def held_out_frames() -> tuple[Frame, ...]:
    """Clear-noon frames: every library scenario with parameters drawn from the held-out seed."""
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    from simtest.scenario import list_scenarios, load_scenario
    from simtest.sim.base import PRESETS, SensorRig
    from simtest.sim.embedded import EmbeddedSimulator

    frames = []
    with EmbeddedSimulator(SensorRig(), dt=STEP) as sim:
        for i, name in enumerate(list_scenarios()):
            rng = np.random.default_rng(np.random.SeedSequence([HELD_OUT_SEED, i]))
            sim.reset(load_scenario(name).sample(rng), PRESETS["clear_noon"], seed=int(rng.integers(2**31)))
            frames += [sim.step() for _ in range(FRAMES_PER_SCENARIO)]
    return tuple(frames)


@functools.lru_cache(maxsize=1)
def rendered_scene() -> tuple[Frame, ...]:
    """Default-parameter scenes at t = 2 s, clear noon: a stationary car, a braking lead car, a crosswalk group."""
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    from simtest.scenario import load_scenario
    from simtest.sim.base import PRESETS, SensorRig
    from simtest.sim.embedded import EmbeddedSimulator

    out = []
    with EmbeddedSimulator(SensorRig(), dt=2.0) as sim:
        for name in ("stationary_car_ahead", "braking_lead_car", "pedestrian_group_crosswalk"):
            sim.reset(load_scenario(name), PRESETS["clear_noon"], seed=0)
            sim.step()
            out.append(sim.step())
    return tuple(out)
