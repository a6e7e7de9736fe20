"""`main.py --help` imports no heavy library: each sub-command loads what it needs when it runs.

What is imported is checked, not how long it takes (a timing fails on a busy machine): a fresh
interpreter builds the parser, parses `--help` of the program and of every sub-command, and
prints the modules it loaded.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HEAVY = ("PySide6", "sqlalchemy", "httpx", "rdflib", "starlette", "uvicorn", "openpyxl", "asyncio")
COMMANDS = (
    "gui",
    "generate",
    "serve",
    "export",
    "import",
    "remote",
    "pull",
    "push",
    "dataset",
    "check-harvest",
    "copy",
)

LOADED_AFTER_HELP = """
import sys
from app.cli import build_parser

for argv in ([], *([command] for command in sys.argv[1:])):
    try:
        build_parser().parse_args([*argv, "--help"])
    except SystemExit:
        pass
print("\\n".join(sorted(sys.modules)), file=sys.stderr)
"""


def _modules_loaded_by_help(*commands: str) -> tuple[set[str], str]:
    done = subprocess.run(
        [sys.executable, "-c", LOADED_AFTER_HELP, *commands],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    return set(done.stderr.split()), done.stdout


def test_help_imports_no_heavy_library() -> None:
    modules, help_text = _modules_loaded_by_help(*COMMANDS)
    assert "usage: catalogue-desk" in help_text
    for command in COMMANDS:
        assert f"catalogue-desk {command}" in help_text
    assert {"argparse", "app.cli", "app.cli_sync"} <= modules  # the listing is read
    loaded = sorted(m for m in modules if m.split(".")[0] in HEAVY)
    assert loaded == []
