"""custom_components/verba/protocol is a byte-identical copy of wyoming_verba/protocol, and the
protocol module depends only on itself, wyoming, numpy and the standard library."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SOURCE = ROOT / "wyoming_verba" / "protocol"
COPY = ROOT / "custom_components" / "verba" / "protocol"
FIX = "run script/vendor-protocol"
ALLOWED = {"wyoming", "numpy", "__future__", *sys.stdlib_module_names}


def _modules(folder: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in sorted(folder.glob("*.py"))}


def test_the_integration_carries_the_protocol_module_unchanged() -> None:
    source, copy = _modules(SOURCE), _modules(COPY)
    assert source.keys() == copy.keys(), (
        f"custom_components/verba/protocol lists {sorted(copy)}, wyoming_verba/protocol "
        f"{sorted(source)}: {FIX}"
    )
    differing = [name for name in source if source[name] != copy[name]]
    assert not differing, f"the vendored copies of {differing} differ from the source: {FIX}"


def _absolute_imports(node: ast.AST) -> list[str]:
    if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
        return [node.module.split(".")[0]]
    if isinstance(node, ast.Import):
        return [alias.name.split(".")[0] for alias in node.names]
    return []


def test_the_protocol_module_imports_only_itself_wyoming_numpy_and_the_standard_library() -> None:
    for path in sorted(SOURCE.glob("*.py")):
        tree = ast.parse(path.read_text(), str(path))
        for node in tree.body:  # module level: PyAV is not allowed here
            for top in _absolute_imports(node):
                assert top in ALLOWED, f"{path.name} imports {top} (relative imports only)"
        for node in ast.walk(tree):  # inside functions: PyAV as an optional import
            for top in _absolute_imports(node):
                assert top in ALLOWED | {"av"}, f"{path.name} imports {top}"
