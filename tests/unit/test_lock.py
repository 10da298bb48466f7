"""The locked environment: requirements*.txt pin what pyproject.toml asks for, consistently.

pyproject.toml holds the direct dependencies with their ranges (the input); requirements.txt
and requirements-dev.txt are exact pins of the whole tree compiled from it (the lock, what
the README's commands and CI install). These fail when the two disagree: refresh the lock
with the command in the README.
"""

from __future__ import annotations

import re
import tomllib

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.conftest import ROOT

PIN = re.compile(r"^([A-Za-z0-9_.\-]+)==(\S+)\s*$", re.M)


def _pins(name: str) -> dict[str, str]:
    text = (ROOT / name).read_text()
    lines = [line for line in text.splitlines() if line.strip() and not line.startswith(" ")]
    for line in lines:
        assert line.startswith("#") or PIN.match(line), f"{name}: not a pin: {line!r}"
    return {canonicalize_name(n): v for n, v in PIN.findall(text)}


def _wanted(extra: str | None = None) -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    specs = project["dependencies"] + (project["optional-dependencies"][extra] if extra else [])
    return [Requirement(spec.split("#")[0].strip()) for spec in specs]


def test_the_lock_pins_every_direct_dependency_within_its_range():
    for lock, extra in (("requirements.txt", None), ("requirements-dev.txt", "dev")):
        pins = _pins(lock)
        for requirement in _wanted(extra):
            name = canonicalize_name(requirement.name)
            assert name in pins, f"{lock} does not pin {requirement} (pyproject.toml)"
            assert requirement.specifier.contains(pins[name], prereleases=True), (
                f"{lock} pins {name}=={pins[name]}, outside {requirement} (pyproject.toml)"
            )


def test_the_dev_lock_is_the_runtime_lock_plus_the_tools():
    runtime, dev = _pins("requirements.txt"), _pins("requirements-dev.txt")
    differ = {n: (v, dev.get(n)) for n, v in runtime.items() if dev.get(n) != v}
    assert not differ, f"requirements-dev.txt pins these differently: {differ}"


def test_the_lock_says_how_it_was_made():
    for lock in ("requirements.txt", "requirements-dev.txt"):
        head = (ROOT / lock).read_text().splitlines()[:3]
        assert any("uv pip compile pyproject.toml" in line for line in head), lock
