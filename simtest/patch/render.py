"""Differentiable rendering of a patch into a simulated camera image.

The embedded simulator's radiance is affine in a patch pixel's albedo: the
patch material is Lambertian, not wet, not snowy, not emissive, so shading gives
``albedo * E`` (E: irradiance / pi from sun with shadows, sky, ground bounce,
lamps, headlights); extinction gives ``L T + A (1 - T)`` and falling
particles ``L (1 - c) + c b``. A view therefore captures, from the
simulator's own ray-cast primary hits of one frame,

- ``base``: the radiance of every pixel with the patch albedo set to 0 (the
  scene, glare, airlight, particles),
- per patch pixel: its texture coordinates (u, v), recorded where the
  simulator's shading looks the texture up, and ``shade`` = radiance per unit
  albedo (E T (1 - c)), from a second render with albedo 1,

so that ``radiance = base + m * shade * albedo(texture, uv)``, i.e.
``base (1 - m) + m (shade * texture(uv) + weather terms)``. The texture is
sampled with ``torch.nn.functional.grid_sample`` (the simulator samples with
the same convention), then the simulator's auto exposure (log-average key,
recomputed from the patched image), Reinhard roll-off and sRGB encoding are
applied analytically; the simulator's 8-bit lookup table differs from that by
under 2 levels. Gradients flow from the image back into the texture.
"""

from __future__ import annotations

import copy
import inspect
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from perturbations.patch import ALBEDO_MAX, ALBEDO_MIN, Patch
from simtest.sim.base import Conditions
from simtest.sim.embedded import EmbeddedSimulator
from simtest.sim.embedded.camera import CameraRenderer
from simtest.sim.embedded.exposure import MAX_METERED, MIDDLE_GREY, MIN_METERED, WHITE
from simtest.sim.embedded.lighting import LUMA
from simtest.sim.embedded.patches import PatchFrame
from simtest.types import Frame

METER_STRIDE = 4  # the simulator's metering grid (exposure.metered_key)


def srgb_decode(x: torch.Tensor) -> torch.Tensor:
    """sRGB values in [0, 1] -> linear."""
    return torch.where(x <= 0.04045, x / 12.92, ((x.clamp(min=0.04045) + 0.055) / 1.055) ** 2.4)


def srgb_encode(x: torch.Tensor) -> torch.Tensor:
    """Linear values in [0, 1] -> sRGB."""
    return torch.where(x <= 0.0031308, 12.92 * x, 1.055 * x.clamp(min=0.0031308) ** (1 / 2.4) - 0.055)


def albedo_from_srgb(texture: torch.Tensor) -> torch.Tensor:
    """Printable linear albedo of an sRGB texture in [0, 1] (any shape); mirrors ``perturbations.patch.albedo_of``."""
    return ALBEDO_MIN + (ALBEDO_MAX - ALBEDO_MIN) * srgb_decode(texture)


def expose(radiance: torch.Tensor) -> torch.Tensor:
    """The simulator's auto exposure and encoding of linear radiance (H, W, 3) -> sRGB 0..255 float (H, W, 3)."""
    luma = torch.as_tensor(LUMA, dtype=radiance.dtype)
    lum = radiance[::METER_STRIDE, ::METER_STRIDE] @ luma
    key = torch.exp(torch.log(lum.clamp(min=1e-4)).mean())
    gain = MIDDLE_GREY / key.clamp(MIN_METERED, MAX_METERED)
    x = radiance * gain
    x = x * (1.0 + x / WHITE**2) / (1.0 + x)
    return srgb_encode(x.clamp(0.0, 1.0)) * 255.0


@dataclass(frozen=True)
class Segment:
    """The pixels of one patch quad: flat pixel ``index`` (M,), ``grid`` (M, 2) in grid_sample's
    [-1, 1] coordinates, ``shade`` (M, 3) radiance per unit albedo, and which ``texture`` it shows."""

    texture: int
    index: torch.Tensor
    grid: torch.Tensor
    shade: torch.Tensor


@dataclass(frozen=True)
class PatchView:
    """One captured frame of one camera, ready for differentiable rendering (see the module docstring).

    ``frame`` is the simulator's frame as rendered with the capture patches, ``camera`` the camera's name.
    """

    frame: Frame
    camera: str
    base: torch.Tensor
    segments: tuple[Segment, ...]
    size: tuple[int, int]
    conditions: Conditions

    @property
    def patch_pixels(self) -> int:
        return int(sum(len(s.index) for s in self.segments))

    def render(self, textures: Sequence[torch.Tensor]) -> torch.Tensor:
        """sRGB image (H, W, 3) float 0..255 with ``textures`` (each (3, h, w) sRGB in [0, 1]) on the patches."""
        rad = self.base
        for seg in self.segments:
            albedo = albedo_from_srgb(textures[seg.texture])
            a = F.grid_sample(albedo[None], seg.grid[None, None], mode="bilinear", padding_mode="border",
                              align_corners=False)[0, :, 0].T
            rad = rad.index_add(0, seg.index, seg.shade * a)
        return expose(rad.reshape(*self.size, 3))


class _UVProbe:
    """Stands in for a :class:`PatchFrame` in the simulator's shading: records each quad's hit pixels
    and their (u, v) and gives them a constant albedo."""

    def __init__(self, frame: PatchFrame, value: float) -> None:
        self.frame = frame
        self.value = value
        self.hits: list[tuple[int, np.ndarray, np.ndarray]] = []

    def apply_albedo(self, albedo: np.ndarray, material: np.ndarray, points: np.ndarray) -> None:
        self.hits = []
        for q in range(len(self.frame.material)):
            idx = np.flatnonzero(material == self.frame.material[q])
            albedo[idx] = self.value
            self.hits.append((q, idx, self.frame.uv(q, points[idx])))


class _RecordingCamera(CameraRenderer):
    """A camera renderer that keeps the arguments of its last render (the generator as it was before use)."""

    def __init__(self, inner: CameraRenderer) -> None:  # noqa: D107 - takes over a built renderer
        self.__dict__.update(inner.__dict__)
        self.last: dict[str, Any] | None = None

    def render(self, *args: Any, **kwargs: Any):  # noqa: ANN201 - CameraRender
        bound = _RENDER_SIGNATURE.bind(self, *args, **kwargs)
        bound.apply_defaults()
        self.last = {k: v for k, v in bound.arguments.items() if k != "self"}
        self.last["rng"] = copy.deepcopy(self.last["rng"])
        return super().render(*args, **kwargs)

    def rerender(self, patches: Any):  # noqa: ANN201 - CameraRender
        """The last frame again, with the same particles, and ``patches`` in place of its patch frame."""
        if self.last is None:
            raise RuntimeError("no frame rendered yet")
        return super().render(**{**self.last, "rng": copy.deepcopy(self.last["rng"]), "patches": patches})


_RENDER_SIGNATURE = inspect.signature(CameraRenderer.render)


def capture_views(
    sim: EmbeddedSimulator,
    scenario: Any,
    conditions: Conditions,
    seed: int,
    patches: Sequence[Patch],
    frame_indices: Sequence[int],
    camera: str | None = None,
) -> list[PatchView]:
    """Run an episode with ``patches`` and capture ``camera`` (default: the first) at ``frame_indices``.

    Frames without any patch pixel in view are skipped. The simulator's cameras are
    restored afterwards.
    """
    name = camera if camera is not None else next(iter(sim.cameras))
    if name not in sim.cameras:
        raise ValueError(f"capture_views: no camera {name!r}; the rig has {sorted(sim.cameras)}")
    wanted = sorted({int(i) for i in frame_indices})
    if not wanted or wanted[0] < 0:
        raise ValueError(f"capture_views: frame_indices must be non-negative frame numbers, got {list(frame_indices)}")
    original = sim.cameras[name]
    recorder = _RecordingCamera(original)
    sim.cameras[name] = recorder
    views = []
    try:
        sim.reset(scenario, conditions, seed, patches=patches)
        for k in range(wanted[-1] + 1):
            frame = sim.step()
            if k not in wanted:
                continue
            frame_patches = recorder.last["patches"]
            if frame_patches is None:
                raise ValueError("capture_views: no patch is placed on any actor of this scenario; check the "
                                 "placements' targets against the scenario's actor names and classes")
            views_of = _capture(recorder, frame_patches)
            if views_of is None:
                continue
            base, segments = views_of
            h, w = recorder.spec.height, recorder.spec.width
            views.append(PatchView(frame, name, base, segments, (h, w), conditions))
    finally:
        sim.cameras[name] = original
    return views


def _capture(recorder: _RecordingCamera, frame: PatchFrame) -> tuple[torch.Tensor, tuple[Segment, ...]] | None:
    zero, one = _UVProbe(frame, 0.0), _UVProbe(frame, 1.0)
    r0 = recorder.rerender(zero).radiance.reshape(-1, 3).copy()  # the next render reuses the buffer
    r1 = recorder.rerender(one).radiance.reshape(-1, 3)
    segments = []
    for (q, idx, uv), (_, idx1, _) in zip(zero.hits, one.hits):
        if not len(idx) or not np.array_equal(idx, idx1):
            continue
        segments.append(Segment(
            texture=int(frame.texture_of[q]),
            index=torch.from_numpy(idx.astype(np.int64)),
            grid=torch.from_numpy((2.0 * uv - 1.0).astype(np.float32)),
            shade=torch.from_numpy((r1[idx] - r0[idx]).astype(np.float32)),
        ))
    if not segments:
        return None
    return torch.from_numpy(np.ascontiguousarray(r0, np.float32)), tuple(segments)


def texture_tensor(patch: Patch) -> torch.Tensor:
    """A patch's uint8 texture as a (3, H, W) float tensor of sRGB values in [0, 1]."""
    return torch.from_numpy(patch.texture.astype(np.float32) / 255.0).permute(2, 0, 1).contiguous()


def with_texture(patch: Patch, texture: torch.Tensor, **meta: Any) -> Patch:
    """``patch`` with a (3, H, W) sRGB texture in [0, 1] (quantised to uint8) and extra metadata."""
    t = np.round(texture.detach().clamp(0, 1).permute(1, 2, 0).cpu().numpy() * 255.0).astype(np.uint8)
    return replace(patch, texture=t, meta={**dict(patch.meta), **meta})
