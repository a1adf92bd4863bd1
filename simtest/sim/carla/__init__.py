"""CARLA 0.9.x backend: the same scenarios, conditions and sensor rig on a CARLA server.

See docs/carla.md. Importing this package does not need the ``carla`` client;
connecting does.
"""

from simtest.sim.carla.errors import (
    CarlaConnectionError,
    CarlaMemoryExceeded,
    CarlaServerCrashed,
    CarlaServerError,
    CarlaTimeoutError,
)
from simtest.sim.carla.server import ServerConfig
from simtest.sim.carla.simulator import CarlaSimulator

__all__ = [
    "CarlaConnectionError",
    "CarlaMemoryExceeded",
    "CarlaServerCrashed",
    "CarlaServerError",
    "CarlaSimulator",
    "CarlaTimeoutError",
    "ServerConfig",
]
