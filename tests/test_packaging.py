"""pyproject.toml declares the packages cnnlib imports, and no other; torch never in a range past the pinned release."""

from __future__ import annotations

import ast
import sys
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]

#: Import name -> distribution name, where the two differ.
DISTRIBUTION = {"IPython": "ipython"}

#: The newest torch that pyproject.toml may admit: requirements.txt's pin (a newer one is a CUDA build of several GB).
TORCH_PIN = Version("2.13.0")


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
    specifier = _declared()["torch"].specifier
    assert specifier.contains(TORCH_PIN), f"torch {specifier} must admit the pinned {TORCH_PIN}"
    for newer in ("2.13.1", "2.14.0", "3.0"):
        assert not specifier.contains(newer, prereleases=True), f"torch {specifier} admits {newer}"
