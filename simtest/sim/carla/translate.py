"""A simtest :class:`~simtest.scenario.Scenario` on a CARLA town.

The scenario's road archetype (``straight`` or ``intersection``) is placed on a
road of a CARLA map: an :class:`Anchor` names the map and, optionally, where the
scenario's origin goes (the road centre line at scenario x = 0, in CARLA
coordinates, and CARLA yaw of the scenario's +x). Without a location the map's
OpenDRIVE road network is searched (:func:`find_anchor`): the first two-way road,
in a fixed order, whose lane -1 runs straight and level over the stretch the
episode uses, with at least the scenario's lanes per direction, and for an
intersection, a four-way junction at ``intersection_x``. The search only reads
the client-side ``carla.Map``; its result is deterministic for a map.

Poses then come from :meth:`Scenario.ego_state` / :meth:`Scenario.actor_states`
(pure functions of time, the same kinematics as the embedded simulator), moved
by the anchor transform; z is the anchor's road height.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Any

import numpy as np

from simtest.sim.carla.coords import transform_to_matrix, vector_to_array
from simtest.sim.carla.episode import ActorPlan, EpisodePlan
from simtest.types import make_transform, rotation_z, wrap_angle

if TYPE_CHECKING:
    from simtest.scenario import Scenario, WorldSpec

BLUEPRINTS: dict[str, str] = {
    "sedan": "vehicle.lincoln.mkz_2020",
    "hatchback": "vehicle.mini.cooper_s_2021",
    "suv": "vehicle.nissan.patrol_2021",
    "van": "vehicle.mercedes.sprinter",
    "truck": "vehicle.carlamotors.european_hgv",
    "adult": "walker.pedestrian.0001",
    "child": "walker.pedestrian.0011",
    "bicycle": "vehicle.diamondback.century",
    "ego": "vehicle.lincoln.mkz_2020",
}
"""CARLA 0.9.16 blueprint for each scenario asset model (and the ego); override in ``sim.blueprints``."""

SEARCH_STEP = 5.0
"""Spacing (m) of the waypoints tried and walked by :func:`find_anchor`."""

MAX_HEADING_DEVIATION = math.radians(2.0)
MAX_LATERAL_DEVIATION = 0.3  # m
MAX_HEIGHT_CHANGE = 0.5  # m


@dataclass(frozen=True)
class Anchor:
    """Where a road archetype sits in CARLA: ``map`` (None: the loaded one), and
    optionally ``location`` ([x, y, z] CARLA metres) and ``yaw`` (CARLA degrees)
    of the scenario origin."""

    map: str | None = "Town05"
    location: tuple[float, float, float] | None = None
    yaw: float | None = None

    def __post_init__(self) -> None:
        if (self.location is None) != (self.yaw is None):
            raise ValueError("sim.anchors: give both location [x, y, z] and yaw (CARLA frame), or neither to search the map")
        if self.location is not None:
            if len(self.location) != 3 or not all(math.isfinite(float(v)) for v in self.location):
                raise ValueError(f"sim.anchors.location: expected [x, y, z] finite metres, got {self.location!r}")
            object.__setattr__(self, "location", tuple(float(v) for v in self.location))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, where: str = "sim.anchors") -> Anchor:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"{where}: unknown key(s) {unknown}; expected some of {sorted(known)}")
        return cls(**dict(data))

    def transform(self) -> np.ndarray:
        """simtest-world-from-scenario 4x4 for a pinned anchor."""
        import carla

        if self.location is None or self.yaw is None:
            raise ValueError("sim.anchors: this anchor has no location; search the map with find_anchor")
        t = carla.Transform(carla.Location(*self.location), carla.Rotation(yaw=self.yaw))
        return transform_to_matrix(t)


def x_extent(scenario: Scenario, step: float = 0.25, margin: float = 10.0) -> tuple[float, float]:
    """Smallest and largest scenario x (m) the ego and actors reach during the episode, plus ``margin``."""
    xs = []
    for t in np.arange(0.0, scenario.duration + step, step):
        xs.append(scenario.ego_state(float(t)).x)
        xs.extend(s.x for s in scenario.actor_states(float(t)))
    return min(xs) - margin, max(xs) + margin


def _frame(wp: Any) -> tuple[np.ndarray, float]:
    """Reference-line point (simtest world) next to lane -1 waypoint ``wp``, and the lane's heading (rad)."""
    T = transform_to_matrix(wp.transform)
    heading = math.atan2(T[1, 0], T[0, 0])
    left = np.array([-math.sin(heading), math.cos(heading), 0.0])
    return T[:3, 3] + left * (wp.lane_width / 2.0), heading


def _driving_lanes_right(wp: Any) -> int:
    import carla

    n, cur = 0, wp
    while cur is not None and cur.lane_type == carla.LaneType.Driving and cur.lane_id < 0:
        n += 1
        cur = cur.get_right_lane()
    return n


def _two_way(wp: Any) -> bool:
    import carla

    left = wp.get_left_lane()
    return left is not None and left.lane_type == carla.LaneType.Driving and left.lane_id > 0


def _walk(wp: Any, distance: float, forward: bool) -> list[Any] | None:
    """Waypoints every SEARCH_STEP metres along the lane for ``distance`` metres, or None at a dead end."""
    out, cur, done = [], wp, 0.0
    while done < distance:
        nxt = cur.next(SEARCH_STEP) if forward else cur.previous(SEARCH_STEP)
        if not nxt:
            return None
        cur = nxt[0]
        out.append(cur)
        done += SEARCH_STEP
    return out


def _on_line(wps: list[Any], origin: np.ndarray, heading: float, allow_junction: bool) -> bool:
    normal = np.array([-math.sin(heading), math.cos(heading)])
    for w in wps:
        if w.is_junction and not allow_junction:
            return False
        p, h = _frame(w)
        if abs(float(wrap_angle(h - heading))) > MAX_HEADING_DEVIATION:
            return False
        if abs(float((p[:2] - origin[:2]) @ normal)) > MAX_LATERAL_DEVIATION or abs(p[2] - origin[2]) > MAX_HEIGHT_CHANGE:
            return False
    return True


def _four_way(junction: Any) -> bool:
    import carla

    headings = {round(math.degrees(_frame(a)[1]) / 90.0) % 4 for a, _ in junction.get_waypoints(carla.LaneType.Driving)}
    return len(headings) == 4


def find_anchor(carla_map: Any, world: WorldSpec, extent: tuple[float, float]) -> np.ndarray:
    """simtest-world-from-scenario 4x4 placing ``world``'s road on ``carla_map`` (see module doc).

    ``extent`` is the scenario x range the episode uses (:func:`x_extent`).
    Raises ValueError naming the map and what was looked for when nothing fits.
    """
    x_min, x_max = extent
    candidates = [
        w for w in carla_map.generate_waypoints(SEARCH_STEP)
        if w.lane_id == -1 and not w.is_junction and _two_way(w) and _driving_lanes_right(w) >= world.lanes
    ]
    # Exact lane count first, then a fixed order along the road network.
    candidates.sort(key=lambda w: (_driving_lanes_right(w) != world.lanes, w.road_id, w.section_id, round(w.s, 3)))
    for w in candidates:
        origin, heading = _frame(w)
        if world.layout == "straight":
            ahead, behind = _walk(w, x_max, True), _walk(w, -x_min, False) if x_min < 0 else []
            if ahead is None or behind is None or not _on_line(ahead + behind, origin, heading, False):
                continue
        else:
            ahead = [a for a in w.next(2 * SEARCH_STEP) if a.is_junction]
            if not ahead or not _four_way(ahead[0].get_junction()):
                continue
            centre = vector_to_array(ahead[0].get_junction().bounding_box.location)
            along = float((centre[:2] - origin[:2]) @ np.array([math.cos(heading), math.sin(heading)]))
            origin = origin + (along - world.intersection_x) * np.array([math.cos(heading), math.sin(heading), 0.0])
            # The approach from x_min to the junction's edge must be straight and level.
            approach = world.intersection_x - x_min - along
            behind = _walk(w, approach, False) if approach > 0 else []
            if behind is None or not _on_line(behind, origin, heading, False):
                continue
        return make_transform(rotation_z(heading), origin)
    kind = "a four-way junction" if world.layout == "intersection" else "a straight, level stretch"
    raise ValueError(
        f"sim.anchors.{world.layout}: map {carla_map.name!r} has no two-way road with >= {world.lanes} lane(s) per "
        f"direction and {kind} over scenario x in [{x_min:.0f}, {x_max:.0f}] m; pick another map or pin "
        f"sim.anchors.{world.layout}.location and yaw"
    )


def _pose_fn(T: np.ndarray, state_at: Any) -> Any:
    yaw0 = math.atan2(T[1, 0], T[0, 0])

    def pose(t: float) -> np.ndarray:
        s = state_at(t)
        p = T[:3, :3] @ np.array([s.x, s.y, 0.0]) + T[:3, 3]
        return np.array([p[0], p[1], p[2], float(wrap_angle(s.yaw + yaw0))])

    return pose


def translate(
    scenario: Scenario,
    T_world_from_scenario: np.ndarray,
    *,
    map_name: str | None,
    blueprints: Mapping[str, str] = BLUEPRINTS,
) -> EpisodePlan:
    """The episode plan of ``scenario`` placed by ``T_world_from_scenario`` (simtest world of the CARLA map)."""
    missing = sorted({a.model for a in scenario.actors} - set(blueprints)) + ([] if "ego" in blueprints else ["ego"])
    if missing:
        raise ValueError(f"sim.blueprints: no CARLA blueprint for {missing}; add e.g. sim.blueprints.{missing[0]}=vehicle.audi.a2")
    ego = ActorPlan("ego", "vehicle", blueprints["ego"], _pose_fn(T_world_from_scenario, scenario.ego_state))
    actors = tuple(
        ActorPlan(
            a.name,
            a.cls,
            blueprints[a.model],
            _pose_fn(T_world_from_scenario, lambda t, i=i: scenario.actor_states(t)[i]),
            colour=a.color,
        )
        for i, a in enumerate(scenario.actors)
    )
    return EpisodePlan(map=map_name, ego=ego, actors=actors)
