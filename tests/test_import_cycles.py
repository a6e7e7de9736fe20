"""No import cycle among the modules of app/, checked by scripts/import_cycles.py."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parent.parent



def _checker() -> ModuleType:
    path = ROOT / "scripts" / "import_cycles.py"
    spec = importlib.util.spec_from_file_location("import_cycles", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_app_has_no_import_cycle() -> None:
    checker = _checker()
    found = checker.cycles(checker.import_graph(ROOT))
    assert found == []


def _write(root: Path, name: str, text: str) -> None:
    path = root / "app" / f"{name}.py"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def test_checker_finds_a_lazy_cycle_and_leaves_type_checking_out(tmp_path: Path) -> None:
    checker = _checker()
    _write(tmp_path, "__init__", "")
    _write(tmp_path, "a", "from app import b\n")
    _write(tmp_path, "b", "def later():\n    from app import a\n")
    _write(tmp_path, "c", "from app.d import X\n")
    _write(
        tmp_path,
        "d",
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from app.c import Y\nX = 1\n",
    )
    assert checker.cycles(checker.import_graph(tmp_path)) == [["app.a", "app.b"]]
