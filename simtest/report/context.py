"""What every report section reads: the run's rows, manifest and summary, and the roles of its axes.

Sweep axes have no fixed names in the store, so the report recognises their roles by
name: ``weather`` and ``lighting`` (or ``light``/``time_of_day``) span the condition
heatmaps; a ``perturbation`` axis with a numeric ``severity`` axis gives one degradation
curve per perturbation, and so does any other numeric axis named ``<name>_severity`` or
``<name>.severity``; ``patch`` is the physical-patch axis whose ``random`` value is the
control. Everything else is just an axis (it still enters the main-effects analysis).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from simtest.metrics.summary import infer_frame_dt
from simtest.store import Manifest

WEATHER_NAMES = ("weather",)
LIGHTING_NAMES = ("lighting", "light", "time_of_day")
NONE_VALUES = ("none", "None", "", "identity")
DISTANCE_BANDS = (0.0, 10.0, 20.0, 30.0, 40.0, 60.0, float("inf"))


@dataclass(frozen=True)
class AxisRoles:
    """Which sweep axes play which role in the report."""

    weather: str | None = None
    lighting: str | None = None
    perturbation: str | None = None  # categorical axis naming the perturbation
    severity: str | None = None  # its numeric severity axis
    severity_axes: tuple[str, ...] = ()  # standalone numeric "<name>_severity" axes
    patch: str | None = None
    all: tuple[str, ...] = ()

    @classmethod
    def from_axes(cls, axes: dict[str, str]) -> AxisRoles:
        """Recognise roles from the manifest's ``{axis: type}``."""
        names = list(axes)
        numeric = {n for n, t in axes.items() if t in ("int", "float")}

        def first(cands: tuple[str, ...]) -> str | None:
            return next((n for n in cands if n in axes), None)

        pert = "perturbation" if axes.get("perturbation") == "string" else None
        sev = "severity" if pert and "severity" in numeric else None
        standalone = tuple(n for n in names if n in numeric and n != sev
                           and (n.endswith("_severity") or n.endswith(".severity")))
        return cls(weather=first(WEATHER_NAMES), lighting=first(LIGHTING_NAMES), perturbation=pert,
                   severity=sev, severity_axes=standalone, patch="patch" if "patch" in axes else None,
                   all=tuple(names))


@dataclass
class ReportContext:
    """Inputs shared by the sections of one run's report."""

    run_dir: Path
    manifest: Manifest
    rows: pd.DataFrame  # all result rows
    summary: dict[str, Any]
    confidence: float = 0.95
    seed: int = 0
    roles: AxisRoles = field(init=False)

    def __post_init__(self) -> None:
        self.roles = AxisRoles.from_axes(dict(self.manifest.axes))

    @property
    def gt(self) -> pd.DataFrame:
        """Ground-truth rows only (cached)."""
        if "_gt" not in self.__dict__:
            self.__dict__["_gt"] = self.rows[self.rows["row_type"] == "gt"].reset_index(drop=True)
        return self.__dict__["_gt"]

    @property
    def frame_dt(self) -> float:
        """Seconds between frames, inferred from timestamps (0.1 s when episodes have one frame)."""
        if "_dt" not in self.__dict__:
            self.__dict__["_dt"] = infer_frame_dt(self.gt) or 0.1
        return self.__dict__["_dt"]

    def describe_cell(self, axes: dict[str, Any]) -> str:
        return ", ".join(f"{k}={v}" for k, v in axes.items())
