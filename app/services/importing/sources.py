"""One reader per format, chosen by `read_source`."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from app.services.importing.dcat import read_rdf
from app.services.importing.json_sources import read_json
from app.services.importing.model import ImportFormat, RowError, SourceItem
from app.services.importing.tables import read_table
from app.services.progress import Progress


def read_source(
    path: Path,
    import_format: ImportFormat,
    *,
    mapping: Mapping[str, str] | None,
    progress: Progress,
) -> tuple[list[SourceItem], list[RowError]]:
    """Every dataset in `path`, read as `import_format`. ImportRejected if the file as a whole
    cannot be read; a problem with one dataset is in its item's errors, one with a row that
    belongs to no dataset in the second list."""
    match import_format:
        case ImportFormat.CSV | ImportFormat.XLSX:
            return read_table(path, import_format, mapping=mapping, progress=progress)
        case ImportFormat.DATAPRESS_JSON | ImportFormat.DATASET_JSON | ImportFormat.CKAN_JSON:
            return read_json(path, import_format), []
        case ImportFormat.JSONLD | ImportFormat.TURTLE | ImportFormat.RDFXML:
            return read_rdf(path, import_format), []
