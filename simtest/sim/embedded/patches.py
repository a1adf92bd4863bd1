"""Physical patches in the embedded simulator: textured quads riding on actors.

Each patch (:class:`perturbations.patch.Patch`) becomes one flat quad per actor
it applies to, built once per episode in the actor's local frame on the
actor's real surface: rays cast at the actor's rest-pose mesh over the patch
footprint find the outermost surface point, and the quad sits
``PATCH_STANDOFF`` in front of it. Every frame the quads are moved with their
actor's pose (like the actor's mesh) and merged into the actor geometry, so the
patch belongs to that actor for occlusion, shadows, visible fraction and lidar
labels.

A quad spans ``corner + u * e_u + v * e_v`` for ``u, v`` in [0, 1], with ``u``
running to the right and ``v`` downwards as seen by a viewer facing the patch
(texture row 0 at the top). The camera's shading asks :meth:`PatchFrame.apply_albedo`
for the albedo at each hit on a patch: ``(u, v)`` come from the hit point on the
(planar) quad - the same numbers as interpolating the corners' UVs with the
hit's barycentric coordinates - and the texture's linear albedo is sampled
bilinearly with the conventions of ``torch.nn.functional.grid_sample``
(``align_corners=False``, border padding), so the differentiable renderer in
:mod:`simtest.patch` reproduces it exactly. Lidar sees a patch through its
material's reflectivity (printed ink on fabric or film, from its mean albedo).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from perturbations.patch import Patch, PatchError, Placement
from simtest.open3d_loader import import_open3d
from simtest.scenario import ActorSpec, MoverState
from simtest.sim.embedded.actors import PlacedActors
from simtest.sim.embedded.assets import cyclist, pedestrian, vehicle
from simtest.sim.embedded.materials import Material, paint
from simtest.sim.embedded.meshes import Mesh, merge, quad
from simtest.types import rotation_z

PATCH_STANDOFF = 0.005  # m in front of the actor's surface (no z-fighting)
PROBE_GRID = 9  # rays per side probing the actor surface under the footprint

# surface -> (outward normal, u axis (viewer's right), v axis (down the image)), actor-local frame
_FACES: dict[str, tuple[tuple[float, float, float], tuple[float, float, float], tuple[float, float, float]]] = {
    "front": ((1, 0, 0), (0, 1, 0), (0, 0, -1)),
    "back": ((-1, 0, 0), (0, -1, 0), (0, 0, -1)),
    "left": ((0, 1, 0), (-1, 0, 0), (0, 0, -1)),
    "right": ((0, -1, 0), (1, 0, 0), (0, 0, -1)),
    "top": ((0, 0, 1), (0, -1, 0), (-1, 0, 0)),
}


def rest_mesh(actor: ActorSpec, material: int = 0) -> tuple[Mesh, tuple[float, float, float]]:
    """The actor's mesh in its local frame at rest (standing, pedals level) and its box size."""
    if actor.cls == "vehicle":
        return vehicle(actor.model, material)
    if actor.cls == "pedestrian":
        return pedestrian(actor.model, material, 0.0, 0.0)
    return cyclist(material, 0.0)


@dataclass(frozen=True)
class LocalQuad:
    """A patch quad in its actor's local frame: corner at (u, v) = (0, 0), edge vectors (m)."""

    actor: int
    patch: int
    corner: np.ndarray
    e_u: np.ndarray
    e_v: np.ndarray


def surface_quad(placement: Placement, mesh: Mesh, size: tuple[float, float, float], *, where: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(corner, e_u, e_v) of the placement on ``mesh`` (local frame, box ``size`` = (L, W, H))."""
    normal, u_ax, v_ax = (np.array(a, np.float64) for a in _FACES[placement.surface])
    width, height = placement.size
    L, W, H = size
    if placement.surface == "top":
        centre = u_ax * placement.lateral
    else:
        centre = u_ax * placement.lateral + np.array([0.0, 0.0, placement.elevation * H])
    # probe: rays from outside the box towards -normal over the footprint
    far = float(max(L, W, H)) + 1.0
    s = (np.arange(PROBE_GRID) + 0.5) / PROBE_GRID - 0.5
    uu, vv = np.meshgrid(s * width, s * height)
    starts = centre + uu.reshape(-1, 1) * u_ax + vv.reshape(-1, 1) * v_ax + far * normal
    o3d = import_open3d()
    scene = o3d.t.geometry.RaycastingScene()
    scene.add_triangles(o3d.core.Tensor.from_numpy(np.ascontiguousarray(mesh.vertices)),
                        o3d.core.Tensor.from_numpy(np.ascontiguousarray(mesh.triangles)))
    rays = np.concatenate([starts, np.broadcast_to(-normal, starts.shape)], 1).astype(np.float32)
    t = scene.cast_rays(o3d.core.Tensor.from_numpy(rays), nthreads=1)["t_hit"].numpy()
    hit = np.isfinite(t)
    if hit.mean() < 0.5:
        raise PatchError(
            f"{where}: the {width:.2f} x {height:.2f} m patch on the {placement.surface} at lateral "
            f"{placement.lateral:+.2f} m, elevation {placement.elevation:.2f} covers the actor under only "
            f"{hit.mean():.0%} of its area; make it smaller or move it (lateral/elevation) onto the body")
    depth = far - float(t[hit].min()) + PATCH_STANDOFF  # outermost surface point along the normal
    plane_centre = centre + depth * normal
    corner = plane_centre - 0.5 * width * u_ax - 0.5 * height * v_ax
    return corner, width * u_ax, height * v_ax


@dataclass(frozen=True)
class PatchFrame:
    """The patches of one frame in the world frame: quads' corners and edges (Q, 3), each quad's
    material id and texture index, and the textures' linear albedo."""

    corner: np.ndarray
    e_u: np.ndarray
    e_v: np.ndarray
    material: np.ndarray
    texture_of: np.ndarray
    albedo: tuple[np.ndarray, ...]

    def uv(self, q: int, points: np.ndarray) -> np.ndarray:
        """Patch coordinates (N, 2) in [0, 1] of world ``points`` (N, 3) on quad ``q``."""
        d = points.astype(np.float64) - self.corner[q]
        eu, ev = self.e_u[q], self.e_v[q]
        return np.stack([d @ eu / (eu @ eu), d @ ev / (ev @ ev)], 1)

    def apply_albedo(self, albedo: np.ndarray, material: np.ndarray, points: np.ndarray) -> None:
        """In place: replace ``albedo`` (N, 3) of hits on patch quads (by ``material`` id) by the
        texture's albedo at the hit ``points`` (N, 3, world frame)."""
        for q in range(len(self.material)):
            idx = np.flatnonzero(material == self.material[q])
            if len(idx):
                albedo[idx] = sample_bilinear(self.albedo[self.texture_of[q]], self.uv(q, points[idx]))


def sample_bilinear(texture: np.ndarray, uv: np.ndarray) -> np.ndarray:
    """Bilinear texture lookup (N, C) at ``uv`` (N, 2) in [0, 1], texel centres at (i + 0.5)/size,
    clamped at the border (``grid_sample(align_corners=False, padding_mode='border')``)."""
    h, w = texture.shape[:2]
    x = np.clip(uv[:, 0] * w - 0.5, 0.0, w - 1)
    y = np.clip(uv[:, 1] * h - 0.5, 0.0, h - 1)
    x0, y0 = np.floor(x).astype(np.int64), np.floor(y).astype(np.int64)
    x1, y1 = np.minimum(x0 + 1, w - 1), np.minimum(y0 + 1, h - 1)
    fx, fy = (x - x0)[:, None], (y - y0)[:, None]
    top = texture[y0, x0] * (1 - fx) + texture[y0, x1] * fx
    bottom = texture[y1, x0] * (1 - fx) + texture[y1, x1] * fx
    return (top * (1 - fy) + bottom * fy).astype(np.float32)


class EpisodePatches:
    """The patches of one episode: one material per patch (ids from ``first_material``) and the
    local quads on every actor a patch applies to. ``patches`` may be empty."""

    def __init__(self, patches: Sequence[Patch], actors: Sequence[ActorSpec], first_material: int) -> None:
        self.patches = tuple(patches)
        for p in self.patches:
            if not isinstance(p, Patch):
                raise PatchError(f"simulator patches: expected perturbations.patch.Patch objects, got {type(p).__name__}")
        albedo = [p.albedo for p in self.patches]
        self.albedo = tuple(albedo)
        self.materials: tuple[Material, ...] = tuple(
            paint(f"patch_{p.name}", tuple(float(c) for c in a.reshape(-1, 3).mean(0))) for p, a in zip(self.patches, albedo))
        self.material_ids = np.arange(first_material, first_material + len(self.patches), dtype=np.int32)
        quads: list[LocalQuad] = []
        rest: dict[int, tuple[Mesh, tuple[float, float, float]]] = {}
        for k, p in enumerate(self.patches):
            for i, a in enumerate(actors):
                if not p.placement.applies_to(a.name, a.cls):
                    continue
                if i not in rest:
                    rest[i] = rest_mesh(a)
                corner, e_u, e_v = surface_quad(p.placement, *rest[i], where=f"patch {p.name!r} on actor {a.name!r}")
                quads.append(LocalQuad(i, k, corner, e_u, e_v))
        self.quads = tuple(quads)

    def __len__(self) -> int:
        return len(self.quads)

    def place(self, states: Sequence[MoverState]) -> tuple[Mesh, np.ndarray, PatchFrame]:
        """World-frame quad mesh, actor index per triangle and the :class:`PatchFrame` at ``states``."""
        meshes, owners, corners, eus, evs = [], [], [], [], []
        for q in self.quads:
            s = states[q.actor]
            R = rotation_z(s.yaw)
            c = R @ q.corner + np.array([s.x, s.y, 0.0])
            eu, ev = R @ q.e_u, R @ q.e_v
            meshes.append(quad(np.stack([c, c + eu, c + eu + ev, c + ev]), int(self.material_ids[q.patch])))
            owners.append(np.full(2, q.actor, np.int32))
            corners.append(c), eus.append(eu), evs.append(ev)
        frame = PatchFrame(
            corner=np.array(corners, np.float64).reshape(-1, 3), e_u=np.array(eus, np.float64).reshape(-1, 3),
            e_v=np.array(evs, np.float64).reshape(-1, 3),
            material=np.array([self.material_ids[q.patch] for q in self.quads], np.int32),
            texture_of=np.array([q.patch for q in self.quads], np.int64), albedo=self.albedo,
        )
        owner = np.concatenate(owners) if owners else np.zeros(0, np.int32)
        return merge(meshes), owner, frame

    def attach(self, placed: PlacedActors, states: Sequence[MoverState]) -> tuple[PlacedActors, PatchFrame | None]:
        """``placed`` with the patch quads merged into the actor geometry, and the frame's patches
        (None, and ``placed`` unchanged, when the episode has no quads)."""
        if not self.quads:
            return placed, None
        mesh, owner, frame = self.place(states)
        merged = PlacedActors(
            mesh=merge([placed.mesh, mesh]),
            actor_of_triangle=np.concatenate([placed.actor_of_triangle, owner]).astype(np.int32),
            boxes=placed.boxes, velocities=placed.velocities,
        )
        return merged, frame
