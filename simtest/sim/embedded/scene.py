"""One frame's ray-casting scene: the static world plus the actors where they are now.

A RaycastingScene cannot move meshes, so the scene is rebuilt every frame from
two geometries: the merged static world (geometry 0) and all actors merged
(geometry 1). Per-triangle arrays map a hit to its material and its actor.
The scene's coordinates are the world's axes about a per-frame ``origin``
(the ego's position): vertices are moved by ``-origin`` once, when the scene is
built, so the sensors' rays, whose origins then stay fixed relative to the
ego, need not be rewritten every frame, and float32 positions keep their
precision near the ego whatever the world coordinates.
Listing every intersection along a ray answers "which actors would this ray
cross if nothing occluded them" for the visible-fraction ground truth.
``ray_log``, when given a list, records the scene and every batch of rays cast, as
``("scene", FrameScene)`` and ``(kind, rays)`` with kind ``cast``, ``occlusion``
or ``list`` (for the benchmark's bare-Embree reference); the rays may be views of a renderer's
buffers, valid until its next frame.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from simtest.open3d_loader import import_open3d
from simtest.sim.embedded import kernels
from simtest.sim.embedded.meshes import Mesh

SURFACE_OFFSET = 0.02  # m, secondary rays start this far off the surface


@dataclass(frozen=True)
class Hits:
    """First hits of a batch of rays (in the scene's coordinates: world axes about its origin).

    ``t`` is the distance along the (unit) ray, ``inf`` on a miss; ``normal`` the
    triangle normal turned towards the ray's origin; ``material`` the material id
    (-1 on a miss); ``actor`` the actor index (-1 for the static world or a miss).
    """

    t: np.ndarray
    normal: np.ndarray
    material: np.ndarray
    actor: np.ndarray

    @property
    def hit(self) -> np.ndarray:
        return np.isfinite(self.t)


def _tensor(a: np.ndarray):  # noqa: ANN202 - an open3d.core.Tensor
    o3d = import_open3d()
    return o3d.core.Tensor.from_numpy(np.ascontiguousarray(a))


class FrameScene:
    """Static world + actors of one frame, ready to cast rays.

    ``origin`` (3,): the world point at the scene's (0, 0, 0) (default the world's origin); rays
    and hits are in scene coordinates, world minus ``origin`` (:meth:`to_world` converts points).
    ``static`` and ``actors`` keep the meshes as cast, in scene coordinates.
    """

    def __init__(self, static: Mesh, actors: Mesh, actor_of_triangle: np.ndarray, nthreads: int = 0,
                 ray_log: list[tuple[str, Any]] | None = None, origin: np.ndarray | None = None) -> None:
        o3d = import_open3d()
        self.nthreads = nthreads
        self.ray_log = ray_log
        self.origin = np.zeros(3) if origin is None else np.asarray(origin, np.float64).reshape(3)
        if self.origin.any():
            static, actors = _moved(static, -self.origin), _moved(actors, -self.origin)
        self.static, self.actors, self.actor_of_triangle = static, actors, actor_of_triangle
        if ray_log is not None:
            ray_log.append(("scene", self))
        self.scene = o3d.t.geometry.RaycastingScene()
        self.scene.add_triangles(_tensor(static.vertices), _tensor(static.triangles))
        # per-triangle lookups over both geometries: index = primitive id (+ the static count for actors)
        self._num_static = static.num_triangles
        self._material_of = np.concatenate([static.materials, actors.materials]).astype(np.int32)
        self._actor_of = np.concatenate([np.full(static.num_triangles, -1, np.int32), actor_of_triangle.astype(np.int32)])
        self._actor_tri = self._actor_of[self._num_static:]  # the actors' triangles (a view)
        if actors.num_triangles:
            self.scene.add_triangles(_tensor(actors.vertices), _tensor(actors.triangles))

    def to_world(self, points: np.ndarray) -> np.ndarray:
        """World coordinates of scene ``points`` (N, 3)."""
        return points + self.origin

    def cast(self, rays: np.ndarray, dirs: np.ndarray | None = None) -> Hits:
        """First hits of ``rays`` (N, 6) float32: origin xyz, unit direction xyz.

        Given the rays' directions ``dirs`` (N, 3) float32 (contiguous, cheaper to read than the
        rays), normals are turned towards the rays' origins; else their sign is arbitrary.
        """
        if self.ray_log is not None:
            self.ray_log.append(("cast", rays))
        out = self.scene.cast_rays(_tensor(rays), nthreads=self.nthreads)
        t = out["t_hit"].numpy()
        geom = out["geometry_ids"].numpy()
        prim = out["primitive_ids"].numpy()
        normal = out["primitive_normals"].numpy()
        material, actor = kernels.decode_hits(geom, prim, normal, _NO_DIRECTIONS if dirs is None else dirs,
                                              self._num_static, self._material_of, self._actor_of)
        return Hits(t, normal, material, actor)

    def occluded(self, rays: np.ndarray, tfar: float | np.ndarray = np.inf) -> np.ndarray:
        """Whether each ray (N, 6) meets any surface before ``tfar`` (shadow rays)."""
        if self.ray_log is not None:
            self.ray_log.append(("occlusion", rays))
        if np.ndim(tfar) == 0:
            out = self.scene.test_occlusions(_tensor(rays), tfar=float(tfar), nthreads=self.nthreads)
            return out.numpy().astype(bool)
        out = self.scene.cast_rays(_tensor(rays), nthreads=self.nthreads)["t_hit"].numpy()
        return out < tfar

    def unoccluded_actor_counts(self, rays: np.ndarray, num_actors: int) -> np.ndarray:
        """How many of ``rays`` cross each actor when every other surface is ignored (num_actors,):
        every intersection along each ray is listed, and each actor crossed counts once per ray."""
        counts = np.zeros(num_actors, np.int64)
        if not len(self._actor_tri) or not len(rays):
            return counts
        if self.ray_log is not None:
            self.ray_log.append(("list", rays))
        out = self.scene.list_intersections(_tensor(rays), nthreads=self.nthreads)
        return kernels.crossing_counts(out["ray_splits"].numpy(), out["geometry_ids"].numpy(),
                                       out["primitive_ids"].numpy(), self._actor_tri, num_actors)


_NO_DIRECTIONS = np.zeros((0, 3), np.float32)


def _moved(mesh: Mesh, shift: np.ndarray) -> Mesh:
    return Mesh((mesh.vertices + shift).astype(np.float32), mesh.triangles, mesh.materials)


def rays_from(origins: np.ndarray, directions: np.ndarray) -> np.ndarray:
    """Pack origins (N, 3) (or one (3,)) and unit directions (N, 3) into rays (N, 6) float32."""
    rays = np.empty((len(directions), 6), np.float32)
    write_rays(rays, origins, directions)
    return rays


def write_rays(rays: np.ndarray, origins: np.ndarray, directions: np.ndarray) -> None:
    """Write origins (N, 3) or one origin (3,), and unit directions (N, 3), into ``rays`` (N, 6)."""
    if np.ndim(origins) == 1:  # one origin: a compiled pass
        kernels.write_rays(rays, np.asarray(origins, np.float32), np.asarray(directions, np.float32))
    else:  # column by column: several times faster than assigning a strided (N, 3) block
        for c in range(3):
            rays[:, c] = origins[..., c]
            rays[:, 3 + c] = directions[:, c]


class SensorRays:
    """A sensor's rays (N, 6) in a frame's scene coordinates, from its fixed unit directions
    ``dirs_sensor`` (N, 3) in its own frame. The scene is centred on the ego, so the rays stay the
    same from frame to frame: they are rewritten only when the sensor's pose in the scene changes
    (the ego turns), or after :meth:`write` put other rays (per-ray origins) in the buffer."""

    def __init__(self, dirs_sensor: np.ndarray) -> None:
        self.dirs_sensor = dirs_sensor
        self.rays = np.empty((len(dirs_sensor), 6), np.float32)
        self.dirs = dirs_sensor
        """The directions in scene coordinates (N, 3), contiguous."""
        self._key: bytes | None = None

    def at(self, T_scene_from_sensor: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Make ``rays`` and ``dirs`` those of the pose (4x4); returns its rotation (3x3) and origin (3,), float32."""
        R = T_scene_from_sensor[:3, :3].astype(np.float32)
        origin = T_scene_from_sensor[:3, 3].astype(np.float32)
        key = R.tobytes() + origin.tobytes()
        if self._key != key:
            self.dirs = self.dirs_sensor @ R.T
            write_rays(self.rays, origin, self.dirs)
            self._key = key
        return R, origin

    def write(self, origins: np.ndarray, directions: np.ndarray) -> np.ndarray:
        """Write rays of their own origins (N, 3) and directions (N, 3) into the buffer (a lidar's
        sweep under motion distortion) and return it; the next :meth:`at` writes the pose's rays again."""
        write_rays(self.rays, origins, directions)
        self._key = None
        return self.rays
