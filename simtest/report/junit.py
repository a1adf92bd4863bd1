"""JUnit XML output so that CI systems show gate and comparison results as test cases."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

OUTCOMES = ("passed", "failure", "error", "skipped")


@dataclass(frozen=True)
class Case:
    """One test case; ``outcome`` is passed, failure, error or skipped."""

    name: str
    classname: str
    outcome: str = "passed"
    message: str = ""
    details: str = ""
    properties: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.outcome not in OUTCOMES:
            raise ValueError(f"junit Case {self.name!r}: outcome {self.outcome!r} is not one of {OUTCOMES}")


def junit_xml(suite: str, cases: Sequence[Case], *, properties: Mapping[str, str] | None = None) -> str:
    """A ``<testsuites>`` document with one suite holding ``cases``."""
    counts = {o: sum(c.outcome == o for c in cases) for o in OUTCOMES}
    root = ET.Element("testsuites", name=suite, tests=str(len(cases)),
                      failures=str(counts["failure"]), errors=str(counts["error"]), skipped=str(counts["skipped"]))
    ts = ET.SubElement(root, "testsuite", name=suite, tests=str(len(cases)), failures=str(counts["failure"]),
                       errors=str(counts["error"]), skipped=str(counts["skipped"]), time="0")
    if properties:
        props = ET.SubElement(ts, "properties")
        for k, v in properties.items():
            ET.SubElement(props, "property", name=str(k), value=str(v))
    for c in cases:
        tc = ET.SubElement(ts, "testcase", name=c.name, classname=c.classname, time="0")
        if c.properties:
            props = ET.SubElement(tc, "properties")
            for k, v in c.properties.items():
                ET.SubElement(props, "property", name=str(k), value=str(v))
        if c.outcome != "passed":
            tag = {"failure": "failure", "error": "error", "skipped": "skipped"}[c.outcome]
            el = ET.SubElement(tc, tag, message=c.message)
            el.text = c.details or c.message
        elif c.details:
            ET.SubElement(tc, "system-out").text = c.details
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
