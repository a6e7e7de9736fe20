"""The files the application ships: the sample catalogue, the JSON-LD context, the OpenAPI
document, the DCAT-AP 3.0.1 SHACL shapes (dcat-ap-3.0.1/, for the harvest check), the web
pages' templates (templates/), the icon and the desktop entry.

They live in the checkout's top-level `resources/`, which the `app` package sees as `app.resources`
through the link `app/resources -> ../resources`; the wheel holds them as real files inside `app`
(setuptools follows the link). Read through `importlib.resources`, a checkout, an editable install
and an installed wheel (`pip install`, `pipx install`) all find them the same way. Nothing here
imports anything.
"""

from __future__ import annotations

from importlib import resources
from importlib.resources.abc import Traversable

SAMPLE_CATALOGUE = "sample_catalogue.json"
JSONLD_CONTEXT = "dcat-context.jsonld"
OPENAPI_DOCUMENT = "openapi.json"
ICON = "catalogue-desk.svg"
DESKTOP_ENTRY = "catalogue-desk.desktop"
TEMPLATES = "templates"  # the server's HTML pages (Jinja2), services.web_pages


def resource(name: str) -> Traversable:
    """One shipped file, wherever the package is installed (read it with read_bytes/read_text)."""
    return resources.files(__name__) / name
