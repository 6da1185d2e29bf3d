"""The package's folders are its layers, and imports point only downward.

cli → server → engines → config → core → protocol (→ wyoming): a module may import its own
layer and the layers below it, never one above. Edge and CSM never import each other, and the
protocol module uses relative imports only (it is vendored into the Home Assistant integration).
Inside the CSM engine the folders are layers too: engine → startup → voices → generation → model.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "wyoming_verba"
LAYERS = ["__main__", "cli", "server", "engines", "config", "core", "protocol"]


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported(path: Path) -> set[str]:
    """Every wyoming_verba module a file imports (relative imports resolved)."""
    package = module_name(path).split(".")
    if path.name != "__init__.py":
        package = package[:-1]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                name = ".".join([*base, node.module] if node.module else base)
            else:
                name = node.module or ""
            found.add(name)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return {name for name in found if name.startswith("wyoming_verba.")}


def layer(module: str) -> str:
    return module.split(".")[1] if module.count(".") else "__main__"


MODULES = sorted(PACKAGE.rglob("*.py"))


@pytest.mark.parametrize("path", MODULES, ids=module_name)
def test_imports_point_downward(path: Path) -> None:
    own = LAYERS.index(layer(module_name(path)))
    upward = [name for name in imported(path) if LAYERS.index(layer(name)) < own]
    assert not upward, f"{module_name(path)} imports a layer above it: {upward}"


@pytest.mark.parametrize("engine", ["edge", "csm"])
def test_engines_do_not_import_each_other(engine: str) -> None:
    other = "csm" if engine == "edge" else "edge"
    for path in (PACKAGE / "engines" / engine).rglob("*.py"):
        crossing = [n for n in imported(path) if n.startswith(f"wyoming_verba.engines.{other}")]
        assert not crossing, f"{module_name(path)} imports {crossing}"


CSM_LAYERS = ["", "startup", "voices", "generation", "model"]  # "": engine.py and tempo.py


def csm_layer(module: str) -> int:
    part = module.removeprefix("wyoming_verba.engines.csm").lstrip(".").split(".")[0]
    return CSM_LAYERS.index(part if part in CSM_LAYERS else "")


@pytest.mark.parametrize(
    "path", sorted((PACKAGE / "engines" / "csm").rglob("*.py")), ids=module_name
)
def test_csm_folders_import_downward(path: Path) -> None:
    own = csm_layer(module_name(path))
    inside = [n for n in imported(path) if n.startswith("wyoming_verba.engines.csm.")]
    upward = [name for name in inside if csm_layer(name) < own]
    assert not upward, f"{module_name(path)} imports a CSM folder above it: {upward}"


def test_the_protocol_module_imports_only_itself_relatively() -> None:
    for path in (PACKAGE / "protocol").rglob("*.py"):
        tree = ast.parse(path.read_text())
        absolute = [
            node.module
            for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom)
            and not node.level
            and (node.module or "").startswith("wyoming_verba")
        ]
        assert not absolute, f"{module_name(path)}: {absolute}"
