"""Input checks shared by the registered lidar kernels."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from perturbations.lidar.scan import Scan


def lidar_kernel(apply: Callable[[Scan, Any], Scan]) -> Callable[[Scan, Any], Scan]:
    """Wrap a ``Scan -> Scan`` kernel so that bad input fails with a clear ``ValueError``.

    Rejects anything but a :class:`Scan` (bare arrays carry no ring or origin) and
    an empty point cloud (nothing to perturb: usually an upstream fault worth seeing).
    """

    @functools.wraps(apply)
    def checked(scan: Scan, params: Any) -> Scan:
        if not isinstance(scan, Scan):
            raise ValueError(
                f"lidar perturbation {apply.__name__}: expected a perturbations.lidar.Scan, got "
                f"{type(scan).__name__}; wrap arrays with perturbations.lidar.scan_from_numpy(points, ring)"
            )
        if len(scan) == 0:
            raise ValueError(
                f"lidar perturbation {apply.__name__}: the point cloud is empty (0 points); "
                "check the sensor or an earlier perturbation that removed every return"
            )
        return apply(scan, params)

    return checked
