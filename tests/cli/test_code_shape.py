"""The code's shape, checked: imports point one way, only cli/ speaks in command-line flags, the error
tree depends on nothing, no module of registry/ grows past a few hundred lines, and the package
surfaces stay lazy (importing a light module does not pull in httpx or pydantic)."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest
from support import ROOT

PACKAGE = ROOT / "msr_oci"
#: each layer may import itself and the layers listed with it (errors.py is below them all)
LAYERS = {
    "oci": {"oci"},
    "revision": {"revision", "oci"},
    "governance": {"governance", "revision", "oci"},
    "registry": {"registry", "governance", "revision", "oci"},
    "cli": {"cli", "registry", "governance", "revision", "oci"},
}
_CLI_WORDING = re.compile(
    r"--ca-file|--plain-http|--insecure|--force|--update|msr login|msr push|--to VERSION"
)
#: render.py's ids are named after the ``msr render`` options they come from (DeploymentIds)
_SPEAKS_FLAGS = {"render.py"}
#: the registry layer is one concern per module; "~300 lines" with a little slack for docstrings
_REGISTRY_MODULE_LINES = 320


def _modules(layer: str) -> list[Path]:
    return sorted((PACKAGE / layer).glob("*.py"))


def _imported_layers(path: Path) -> set[str]:
    layers: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        names = [node.module or ""] if isinstance(node, ast.ImportFrom) else []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        for name in names:
            parts = name.split(".")
            if parts[0] == "msr_oci" and len(parts) > 1 and parts[1] in LAYERS:
                layers.add(parts[1])
    return layers


@pytest.mark.parametrize("layer", sorted(LAYERS))
def test_imports_point_down_only(layer: str) -> None:
    upward = {path.name: _imported_layers(path) - LAYERS[layer] for path in _modules(layer)}
    assert {name: found for name, found in upward.items() if found} == {}


@pytest.mark.parametrize("layer", ["oci", "registry"])
def test_the_library_layers_name_no_command_line_flag(layer: str) -> None:
    offenders = [
        f"{path.name}: {match.group(0)}"
        for path in _modules(layer)
        if path.name not in _SPEAKS_FLAGS
        for match in _CLI_WORDING.finditer(path.read_text(encoding="utf-8"))
    ]
    assert offenders == []


def test_the_error_tree_depends_on_nothing() -> None:
    tree = ast.parse((PACKAGE / "errors.py").read_text(encoding="utf-8"))
    imported = {
        node.module if isinstance(node, ast.ImportFrom) else alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import | ast.ImportFrom)
        for alias in node.names
    }
    assert not {name for name in imported if name and name.split(".")[0] not in sys.stdlib_module_names}


def test_no_registry_module_grows_past_a_few_hundred_lines() -> None:
    lengths = {path.name: len(path.read_text(encoding="utf-8").splitlines()) for path in _modules("registry")}
    assert {name: n for name, n in lengths.items() if n > _REGISTRY_MODULE_LINES} == {}


def test_light_modules_import_without_httpx_or_pydantic() -> None:
    """The lazy package surfaces let the CLI import these at module top for free."""
    probe = (
        "import sys; import msr_oci.errors, msr_oci.registry.refs, msr_oci.revision.versions;"
        "import msr_oci.cli.inputs;"
        "print(sorted(m for m in ('httpx', 'pydantic', 'yaml') if m in sys.modules))"
    )
    found = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert found.stdout.strip() == "[]"


@pytest.mark.parametrize("package", ["oci", "revision", "registry"])
def test_no_lazy_name_is_also_a_submodule(package: str) -> None:
    """Importing a submodule sets the package attribute of its name, which would shadow a lazily
    loaded function of the same name (``from msr_oci.oci import copy`` returning a module)."""
    import importlib

    surface = importlib.import_module(f"msr_oci.{package}")
    submodules = {path.stem for path in (PACKAGE / package).glob("*.py")}
    assert set(surface.__all__) & submodules == set()
