"""Image filters behind one call each, dispatched on the array module of the input.

* NumPy: OpenCV (separable, SIMD, multi-channel in one call) — several times
  faster than ``scipy.ndimage`` on H x W x 3 images;
* CuPy: the ``cupyx.scipy.ndimage`` twin (``ndimage(xp)``), no copy to the host;
* any other Array-API module (e.g. ``array_api_strict``): the data go to the host,
  through OpenCV, and back — the documented host fallback.

The ``_nd_*`` functions are the ndimage paths; they take the ndimage module as an
argument so the tests can check them against OpenCV with ``scipy.ndimage``.
Borders: ``"replicate"`` (scipy ``nearest``), ``"reflect"`` (scipy ``reflect``,
edge pixel repeated), ``"reflect101"`` (scipy ``mirror``, OpenCV's default).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from types import ModuleType
from typing import Any

import cv2
import numpy as np

from perturbations.xp import from_host, namespace, ndimage, to_host

_CV_BORDER = {"replicate": cv2.BORDER_REPLICATE, "reflect": cv2.BORDER_REFLECT, "reflect101": cv2.BORDER_REFLECT_101}
_ND_MODE = {"replicate": "nearest", "reflect": "reflect", "reflect101": "mirror"}


def _dispatch(x: Any, host: Callable[[np.ndarray], np.ndarray], nd: Callable[[ModuleType, ModuleType], Any]) -> Any:
    xp = namespace(x)
    if xp is np:
        return host(x)
    module = ndimage(xp)
    if module is not None:
        return nd(module, xp)
    return from_host(host(to_host(x)), x)


def kernel_radius(sigma: float, truncate: float) -> int:
    """Radius of a Gaussian kernel cut at ``truncate`` sigmas (scipy's rule)."""
    return int(truncate * float(sigma) + 0.5)


def gaussian(x: Any, sigma_y: float, sigma_x: float, truncate: float = 4.0, border: str = "replicate") -> Any:
    """Gaussian blur over the two image axes of an H x W (x C) float32 or uint8 array (dtype kept)."""
    ky, kx = 2 * kernel_radius(sigma_y, truncate) + 1, 2 * kernel_radius(sigma_x, truncate) + 1

    def host(a: np.ndarray) -> np.ndarray:
        return cv2.GaussianBlur(a, (kx, ky), sigmaX=sigma_x, sigmaY=sigma_y, borderType=_CV_BORDER[border])

    return _dispatch(x, host, lambda nd, xp: _nd_gaussian(nd, xp, x, sigma_y, sigma_x, truncate, border))


def _nd_gaussian(
    nd: ModuleType, xp: ModuleType, x: Any, sigma_y: float, sigma_x: float, truncate: float, border: str
) -> Any:
    sigma = (sigma_y, sigma_x) + (0.0,) * (x.ndim - 2)
    out = nd.gaussian_filter(xp.astype(x, xp.float32), sigma, mode=_ND_MODE[border], truncate=truncate)
    return _like(xp, out, x)


def _like(xp: ModuleType, out: Any, x: Any) -> Any:
    """``out`` (float) rounded back to uint8 when ``x`` is uint8, as OpenCV does."""
    return xp.astype(xp.round(xp.clip(out, 0, 255)), xp.uint8) if x.dtype == xp.uint8 else out


def correlate(x: Any, kernel: np.ndarray, border: str = "reflect101", out_uint8: bool = False) -> Any:
    """Correlate each channel of an H x W (x C) image with a small odd-sized 2-D kernel.

    float32 out, or (``out_uint8``, for a uint8 ``x``) rounded and saturated to uint8.
    """
    k = np.ascontiguousarray(kernel, dtype=np.float32)

    def host(a: np.ndarray) -> np.ndarray:
        return cv2.filter2D(a, -1 if out_uint8 else cv2.CV_32F, k, borderType=_CV_BORDER[border])

    def nd_path(nd: ModuleType, xp: ModuleType) -> Any:
        out = _nd_correlate(nd, xp, x, k, border)
        return _like(xp, out, x) if out_uint8 else out

    return _dispatch(x, host, nd_path)


def _nd_correlate(nd: ModuleType, xp: ModuleType, x: Any, kernel: np.ndarray, border: str) -> Any:
    k = from_host(kernel, x) if xp is not np else kernel
    if x.ndim == 3:
        k = k[:, :, None]
    return nd.correlate(xp.astype(x, xp.float32), k, mode=_ND_MODE[border])


def remap(x: Any, map_y: Any, map_x: Any, border: str = "reflect") -> Any:
    """Bilinear resampling ``out[i, j] = x[map_y[i, j], map_x[i, j]]`` (float32 H x W maps, in pixels)."""

    def host(a: np.ndarray) -> np.ndarray:
        return cv2.remap(a, to_host(map_x), to_host(map_y), cv2.INTER_LINEAR, borderMode=_CV_BORDER[border])

    return _dispatch(x, host, lambda nd, xp: _nd_remap(nd, xp, x, map_y, map_x, border))


def _nd_remap(nd: ModuleType, xp: ModuleType, x: Any, map_y: Any, map_x: Any, border: str) -> Any:
    coords = xp.stack([map_y, map_x])
    src = xp.astype(x, xp.float32)
    if x.ndim == 2:
        out = nd.map_coordinates(src, coords, order=1, mode=_ND_MODE[border])
    else:
        out = xp.stack(
            [nd.map_coordinates(src[:, :, c], coords, order=1, mode=_ND_MODE[border]) for c in range(x.shape[2])],
            axis=-1,
        )
    return _like(xp, out, x)


def zoom_centre(x: Any, zoom: float) -> Any:
    """``x`` magnified by ``zoom`` >= 1 about the image centre (bilinear), same shape and dtype.

    As published (``clipped_zoom``): the central ceil(H / zoom) x ceil(W / zoom)
    crop is scaled up to H x W. OpenCV resizes the crop directly, which is ~4x
    faster than a general warp.
    """
    h, w = x.shape[:2]
    ch, cw = int(math.ceil(h / zoom)), int(math.ceil(w / zoom))
    top, left = (h - ch) // 2, (w - cw) // 2

    def host(a: np.ndarray) -> np.ndarray:
        return cv2.resize(a[top : top + ch, left : left + cw], (w, h), interpolation=cv2.INTER_LINEAR)

    def nd_path(nd: ModuleType, xp: ModuleType) -> Any:
        # output pixel i samples crop coordinate (i + 0.5) * ch / h - 0.5 (pixel-centre alignment, as OpenCV)
        sy, sx = ch / h, cw / w
        matrix = [sy, sx] + [1.0] * (x.ndim - 2)
        offset = [top + 0.5 * sy - 0.5, left + 0.5 * sx - 0.5] + [0.0] * (x.ndim - 2)
        out = nd.affine_transform(xp.astype(x, xp.float32), xp.asarray(matrix), offset=offset, order=1, mode="nearest")
        return _like(xp, out, x)

    return _dispatch(x, host, nd_path)
