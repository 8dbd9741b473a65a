"""The layering rules hold: checked by import-linter and, independently, by reading the imports."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).parents[1] / "agentmux"


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_import_linter_contracts_are_kept() -> None:
    linter = Path(sys.executable).with_name("lint-imports")
    proc = subprocess.run(
        [str(linter)], cwd=PACKAGE.parent, capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "0 broken" in proc.stdout


def test_core_never_imports_textual_or_rich() -> None:
    for path in (PACKAGE / "core").rglob("*.py"):
        for module in imported_modules(path):
            top = module.split(".")[0]
            assert top not in {"textual", "rich"}, f"{path} imports {module}"
            assert not module.startswith(("agentmux.ui", "agentmux.cli")), f"{path}: {module}"


def test_only_ui_imports_textual() -> None:
    for path in PACKAGE.rglob("*.py"):
        if (PACKAGE / "ui") in path.parents:
            continue
        assert not any(m.split(".")[0] == "textual" for m in imported_modules(path)), path
