"""pyproject.toml declares the packages cnnlib imports, and no other; torch never in a range past the pinned release."""

from __future__ import annotations

import ast
import sys
import tomllib
from pathlib import Path

from packaging.requirements import Requirement  # packaging comes with pytest, which depends on it
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]

#: Import name -> distribution name, where the two differ.
DISTRIBUTION = {"IPython": "ipython"}


def _torch_pin() -> Version:
    """The torch release requirements.txt pins: the newest pyproject.toml may admit (a newer one is a CUDA build)."""
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        requirement = line.split("#")[0].strip()
        if requirement.startswith("torch=="):
            return Version(requirement.removeprefix("torch=="))
    raise AssertionError("requirements.txt does not pin torch")


def _declared() -> dict[str, Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    requirements = (Requirement(line) for line in project["dependencies"])
    return {requirement.name.lower(): requirement for requirement in requirements}


def _imported() -> set[str]:
    """Top-level names of the third-party packages that cnnlib's modules import with an import statement."""
    names = set()
    for path in (ROOT / "cnnlib").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Import):
                names.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
    return {name for name in names if name not in sys.stdlib_module_names and name not in ("cnnlib", "__future__")}


def test_every_imported_package_is_declared_and_every_declared_one_imported():
    imported = {DISTRIBUTION.get(name, name).lower() for name in _imported()}
    declared = set(_declared())
    assert imported - declared == set(), f"imported by cnnlib but not declared in pyproject.toml: {imported - declared}"
    assert declared - imported == set(), f"declared in pyproject.toml but never imported: {declared - imported}"


def test_torch_is_capped_at_the_pinned_release():
    specifier, pin = _declared()["torch"].specifier, _torch_pin()
    assert specifier.contains(pin), f"torch {specifier} must admit the pinned {pin}"
    major, minor, micro = pin.release
    for newer in (f"{major}.{minor}.{micro + 1}", f"{major}.{minor + 1}.0", f"{major + 1}.0"):
        assert not specifier.contains(newer, prereleases=True), f"torch {specifier} admits {newer}"
