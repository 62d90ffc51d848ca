"""Packaging metadata: the lowest-versions CI constraints match pyproject's lower bounds."""

import re
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]


def _lower_bounds() -> dict[str, str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    bounds = {}
    for line in project["dependencies"]:
        req = Requirement(line)
        (low,) = [s.version for s in req.specifier if s.operator == ">="]
        bounds[req.name.lower()] = low
    return bounds


def _pins() -> dict[str, str]:
    text = (ROOT / ".ci" / "min-constraints.txt").read_text()
    return dict(re.findall(r"^([A-Za-z0-9_.-]+)==(\S+)", text, flags=re.M))


def test_min_constraints_pin_every_lower_bound():
    bounds, pins = _lower_bounds(), _pins()
    assert set(pins) == set(bounds)
    for name, low in bounds.items():
        if name == "torch":  # the one CPU build reachable here; see min-constraints.txt
            continue
        assert Version(pins[name]) == Version(low), (name, low, pins[name])


def test_license_and_typing_marker_ship():
    assert (ROOT / "LICENSE").read_text().startswith("BSD 3-Clause License")
    assert (ROOT / "scdeepclust" / "py.typed").exists()
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["license"] == "BSD-3-Clause"
    assert {"doc", "tutorials", "test"} <= set(project["optional-dependencies"])
