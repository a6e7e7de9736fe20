"""Installed like a desktop application: a wheel that works away from the checkout, and the
desktop entry that `make install-desktop` puts in the menu.

The wheel is built from a copy of what pyproject.toml packages (so nothing the checkout holds
besides can stand in for a missing file), installed into a fresh venv, and run from a folder
outside the checkout: the sample catalogue, the JSON-LD context and the OpenAPI document must
load from the installed copy. The venv borrows the dependencies (PySide6, SQLAlchemy, ...) of
the venv running the tests through a .pth line, which adds that folder to sys.path without
running its own .pth files: the editable install of the checkout stays out.
"""

from __future__ import annotations

import configparser
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = (
    "app/resources/sample_catalogue.json",
    "app/resources/dcat-context.jsonld",
    "app/resources/openapi.json",
    "app/resources/catalogue-desk.svg",
    "app/resources/catalogue-desk.desktop",
    "app/resources/dcat-ap-3.0.1/dcat-ap-SHACL.ttl",
    "app/resources/dcat-ap-3.0.1/ranges.ttl",
    "app/resources/dcat-ap-3.0.1/shapes_recommended.ttl",
    "app/resources/templates/base.html",
    "app/resources/templates/home.html",
    "app/resources/templates/dataset.html",
    "app/resources/templates/not_found.html",
    "app/models/migrations/env.py",
    "app/models/migrations/versions/0001_initial_schema.py",
)

# Run by the installed copy, from a folder outside the checkout.
CHECK = """
import json, sys, tempfile
from pathlib import Path
import app
from app.services.sample_catalogue import open_catalogue
from app.services.formats.jsonld import context
from app.services.server.api_extras import openapi_document
from app.services.harvest_check.dcat import dcat_ap_shapes, recommended_shapes
from app.services import browse
from app.views.help_dialogs import manual_text
from app.services.web_pages import Site, not_found_page
folder = Path(tempfile.mkdtemp())
database = open_catalogue(folder / "new.sqlite", with_sample=True)
with database.read() as session:
    count = browse.count(session, browse.BrowseSpec())
database.dispose()
print(json.dumps({
    "app": app.__file__,
    "datasets": count,
    "context": "@context" in context(),
    "openapi": openapi_document()["openapi"],
    "manual": "## Two commands" in manual_text(),
    "shapes": len(dcat_ap_shapes()) > 1000 and len(recommended_shapes()) > 100,
    "page": "<h1>Not found</h1>" in not_found_page(Site("http://x.example", "T", "D", "P")),
}))
"""


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    source = tmp_path_factory.mktemp("source")
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    shutil.copytree(
        ROOT / "app", source / "app", ignore=shutil.ignore_patterns("__pycache__", "*.pyc")
    )
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
         "--wheel-dir", str(out), str(source)],
        check=True, cwd=source, env=_quiet_env(),
    )  # fmt: skip
    (built,) = out.glob("catalogue_desk-*.whl")
    return built


def _quiet_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    env.pop("PYTHONPATH", None)
    return env


@pytest.mark.slow
def test_the_wheel_holds_every_resource(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    missing = [name for name in SHIPPED if name not in names]
    assert not missing
    assert not any(name.startswith(("tests/", "bench/", "resources/")) for name in names)


@pytest.mark.slow
def test_the_installed_copy_runs_outside_the_checkout(wheel: Path, tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    purelib = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True, capture_output=True, text=True,
    ).stdout.strip()  # fmt: skip
    # The dependencies, from the venv running the tests (after the new venv's own packages).
    (Path(purelib) / "borrowed.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet",
         "--no-deps", str(wheel)],
        check=True, env=_quiet_env(),
    )  # fmt: skip
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()

    result = subprocess.run(
        [str(python), "-c", CHECK],
        check=True, capture_output=True, text=True, cwd=elsewhere, env=_quiet_env(),
    )  # fmt: skip
    import json

    found = json.loads(result.stdout)
    assert Path(found["app"]).is_relative_to(venv)  # the installed copy, not the checkout
    assert found["datasets"] > 20  # the sample catalogue loaded
    assert found["context"] is True
    assert found["openapi"].startswith("3.1")
    assert found["shapes"] is True  # the harvest check's DCAT-AP shapes load from the wheel
    assert found["page"] is True  # the web pages' templates, from the installed copy
    assert found["manual"] is True  # Help > User manual: the README, from the package metadata

    command = venv / "bin" / "catalogue-desk"
    help_text = subprocess.run(
        [str(command), "--help"], check=True, capture_output=True, text=True, cwd=elsewhere
    ).stdout
    assert "catalogue-desk" in help_text
    export = subprocess.run(
        [str(command), "--db", str(elsewhere / "c.sqlite"), "export", "--format", "jsonld",
         "--out", str(elsewhere / "c.jsonld")],
        capture_output=True, text=True, cwd=elsewhere, env=_quiet_env(),
    )  # fmt: skip
    assert export.returncode == 0, export.stderr
    assert (elsewhere / "c.jsonld").stat().st_size > 0


def test_make_install_desktop_puts_the_entry_and_icon_in_xdg_folders(tmp_path: Path) -> None:
    if shutil.which("make") is None:
        pytest.skip("no make")
    data = tmp_path / "share"
    subprocess.run(
        ["make", "--silent", "install-desktop", f"XDG_DATA_HOME={data}",
         "EXEC=/opt/catalogue desk/bin/catalogue-desk"],
        check=True, cwd=ROOT, capture_output=True,
    )  # fmt: skip
    icon = data / "icons" / "hicolor" / "scalable" / "apps" / "catalogue-desk.svg"
    assert icon.read_bytes() == (ROOT / "resources" / "catalogue-desk.svg").read_bytes()
    entry = configparser.ConfigParser(interpolation=None)
    entry.optionxform = str  # type: ignore[assignment,method-assign]
    entry.read(data / "applications" / "catalogue-desk.desktop", encoding="utf-8")
    desktop = entry["Desktop Entry"]
    assert desktop["Type"] == "Application"
    assert desktop["Name"] == "Catalogue Desk"
    # Quoted, as the desktop entry spec asks of a path with a space.
    assert desktop["Exec"] == '"/opt/catalogue desk/bin/catalogue-desk"'
    assert desktop["Icon"] == "catalogue-desk"  # found by name in the icon theme
    assert desktop["Terminal"] == "false"
