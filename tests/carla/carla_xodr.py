"""Small OpenDRIVE maps for tests: ``carla.Map(name, xodr)`` builds the real client-side map offline.

Coordinates here are OpenDRIVE's (right-handed), which CARLA shows mirrored in y,
i.e. exactly simtest's world frame.
"""

from __future__ import annotations

LANE_WIDTH = 3.5


def _lane(i: int, links: bool) -> str:
    link = f'<link><predecessor id="{i}"/><successor id="{i}"/></link>' if links else ""
    return f'<lane id="{i}" type="driving" level="false">{link}<width sOffset="0" a="{LANE_WIDTH}" b="0" c="0" d="0"/></lane>'


def _lanes(n: int, sidewalk: bool = True, links: bool = True) -> str:
    left = "".join(_lane(i, links) for i in range(n, 0, -1))
    right = "".join(_lane(-i, links) for i in range(1, n + 1))
    if sidewalk:
        right += f'<lane id="-{n + 1}" type="sidewalk" level="false"><width sOffset="0" a="3.0" b="0" c="0" d="0"/></lane>'
    return (
        f'<lanes><laneSection s="0"><left>{left}</left><center><lane id="0" type="none" level="false"/></center>'
        f"<right>{right}</right></laneSection></lanes>"
    )


def _road(rid: int, x: float, y: float, hdg: float, length: float, lanes: int, link: str = "", junction: int = -1) -> str:
    return (
        f'<road name="r{rid}" length="{length}" id="{rid}" junction="{junction}"><link>{link}</link>'
        f'<planView><geometry s="0" x="{x}" y="{y}" hdg="{hdg}" length="{length}"><line/></geometry></planView>'
        f'<elevationProfile><elevation s="0" a="0" b="0" c="0" d="0"/></elevationProfile>'
        f"{_lanes(lanes, sidewalk=junction < 0)}</road>"
    )


def _doc(name: str, body: str) -> str:
    return f'<?xml version="1.0" standalone="yes"?><OpenDRIVE><header revMajor="1" revMinor="4" name="{name}" version="1"/>{body}</OpenDRIVE>'


def straight(x0: float = -100.0, length: float = 400.0, lanes: int = 1) -> str:
    """One two-way road along +x from ``x0``."""
    return _doc("straight", _road(1, x0, 0.0, 0.0, length, lanes))


def cross(centre_x: float = 200.0, half: float = 10.0, arm: float = 150.0) -> str:
    """A four-way junction at (centre_x, 0) joining four straight two-way arms."""
    import math

    cx = centre_x
    j = 100
    roads = [
        _road(1, cx - half - arm, 0.0, 0.0, arm, 1, f'<successor elementType="junction" elementId="{j}"/>'),
        _road(2, cx + half, 0.0, 0.0, arm, 1, f'<predecessor elementType="junction" elementId="{j}"/>'),
        _road(3, cx, -half - arm, math.pi / 2, arm, 1, f'<successor elementType="junction" elementId="{j}"/>'),
        _road(4, cx, half, math.pi / 2, arm, 1, f'<predecessor elementType="junction" elementId="{j}"/>'),
        _road(10, cx - half, 0.0, 0.0, 2 * half, 1,
              '<predecessor elementType="road" elementId="1" contactPoint="end"/>'
              '<successor elementType="road" elementId="2" contactPoint="start"/>', junction=j),
        _road(11, cx, -half, math.pi / 2, 2 * half, 1,
              '<predecessor elementType="road" elementId="3" contactPoint="end"/>'
              '<successor elementType="road" elementId="4" contactPoint="start"/>', junction=j),
    ]
    connections = (
        '<connection id="0" incomingRoad="1" connectingRoad="10" contactPoint="start"><laneLink from="-1" to="-1"/></connection>'
        '<connection id="1" incomingRoad="2" connectingRoad="10" contactPoint="end"><laneLink from="1" to="1"/></connection>'
        '<connection id="2" incomingRoad="3" connectingRoad="11" contactPoint="start"><laneLink from="-1" to="-1"/></connection>'
        '<connection id="3" incomingRoad="4" connectingRoad="11" contactPoint="end"><laneLink from="1" to="1"/></connection>'
    )
    return _doc("cross", "".join(roads) + f'<junction id="{j}" name="j">{connections}</junction>')
