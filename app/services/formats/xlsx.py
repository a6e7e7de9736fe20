"""DataPress `export.xlsx` (seed 001): one workbook, sheets `datasets`, `resources`, `links`.

Shared by the server and the desktop export (docs/ARCHITECTURE.md: formats). Sheet XML is written
here directly, in one pass over the rows, as xlsxwriter's constant_memory mode does: every
sheet streams through its own compressor into a temporary file (formats.zipstream) and the zip
is laid out at the end, so memory stays flat however large the catalogue is. Strings are inline
(no shared-strings table to keep in memory). The zip is written front to back, so any binary
file object will do as the sink.

The cells:

- `datasets` and `resources` have the columns of the CSV exports (csv_format.DATASET_COLUMNS,
  RESOURCE_COLUMNS); `links` has the fields of seed 001's export.json links, `LINK_COLUMNS`.
  The desktop export (`complete=True`) adds `DESKTOP_COLUMNS` to `datasets`, the fields a
  catalogue needs to come back whole from the workbook (state, embargo, iframe, site). That
  workbook carries every field of a record (services.importing reads it back) but two: the
  access lists (collaborators, read users and teams: this catalogue's own user ids) and a
  resource's storage path (`origin`); an update from it leaves those as they are.
- Typed: timestamps (`createdAt`, `updatedAt`, a resource's `timestamp`, a link's
  `qaTimestamp`) are datetimes; `nextReviewDate` and `embargoUntil` are dates; counts, orders,
  sizes and HTTP statuses are numbers. A timestamp is typed when it is `YYYY-MM-DDTHH:MM:SS`
  with optional milliseconds and `Z` (UTC); its number format shows it in that same form and
  records which of the two it had, so `timestamp_text` gives the exact text back. Any other
  text (another offset, microseconds, not a date) stays text. Time frames stay ISO months.
- Lists are one cell joined as csv_format documents ("; ", `split_list` reverses it); `custom`
  is one JSON object, as in the CSV.
- Text that a spreadsheet would run as a formula is neutralised by formats.cells (the same rule
  as the CSV, reversible with `restore_cell`); no cell is ever a formula. Characters XML 1.0
  cannot carry (control characters other than TAB, LF, CR) are replaced by U+FFFD; text longer
  than Excel's cell limit (32,767 characters) is cut there.
- Each sheet has a bold, shaded header row, frozen, an autofilter over the used range and
  column widths chosen per column (a one-pass writer cannot measure the data first).
- Each sheet declares the range it uses (`<dimension>`, header included) before its rows, as
  Excel does; openpyxl's read-only mode and pandas size a sheet from it. The rows are counted
  as they are written and the sheet's head put before them afterwards
  (`zipstream.DeflatedPart.prepend`): no count read beforehand, no second pass.
- A sheet holds at most Excel's 1,048,576 rows; the rows beyond go on to `resources (2)` and so
  on, each with the header.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import BinaryIO
from xml.sax.saxutils import escape

from app.services.clock import parse_utc
from app.services.export_query import DatasetRow, LinkRow
from app.services.formats import dataset_webpage
from app.services.formats.cells import neutralise
from app.services.formats.csv_format import (
    Cell,
    dataset_cells,
    resource_cells,
)
from app.services.formats.zipstream import DeflatedPart, part_from_bytes, write_zip
from app.services.record.columns import (
    DATASET_COLUMNS,
    DESKTOP_COLUMNS,
    LINK_COLUMNS,
    RESOURCE_COLUMNS,
    columns_of,
)
from app.services.record.fields import Kind

CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
MAX_CELL_TEXT = 32767
MAX_ROWS = 1_048_576
COMPRESSION_LEVEL = 6

_ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
# Text that goes into a cell as it is: nothing to escape or replace, no formula-like start, no
# space at either end (which would need xml:space="preserve").
_plain = re.compile(r"(?![\s=+\-@'])[^&<>\x00-\x1f\ufffe\uffff]*(?<!\s)").fullmatch
_TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{3})?(Z?)")
_TIMESTAMPS = columns_of(Kind.TIMESTAMP)
_DATES = columns_of(Kind.DATE)
_WIDTHS: dict[str, float] = {
    "id": 10,
    "dataset": 10,
    "order": 8,
    "webpage": 40,
    "title": 40,
    "description": 60,
    "descriptionText": 60,
    "url": 50,
    "licenceUrl": 40,
    "custom": 40,
    "tags": 30,
    "topics": 24,
    "topicTitles": 30,
    "createdAt": 26,
    "updatedAt": 26,
    "timestamp": 26,
    "qaTimestamp": 26,
    "nextReviewDate": 14,
    "embargoUntil": 14,
    "hash": 34,
    "size": 12,
    "httpStatus": 11,
    "resourceCount": 14,
    "linkCount": 10,
    "sharing": 10,
    "state": 11,
}
_DEFAULT_WIDTH = 18.0
_URL_WIDTH = 40.0
_URL_COLUMNS = columns_of(Kind.URL)


def _width(column: str) -> float:
    return _WIDTHS.get(column) or (_URL_WIDTH if column in _URL_COLUMNS else _DEFAULT_WIDTH)


# Cell styles (indexes into styles.xml's cellXfs) and the number formats they carry.
_HEADER_STYLE = 1
_DATE_STYLE = 2
# (milliseconds, Z) -> style; the number format shows the ISO text and tells the two apart.
_TIMESTAMP_STYLES: dict[tuple[bool, bool], int] = {
    (True, True): 3,
    (False, True): 4,
    (True, False): 5,
    (False, False): 6,
}
_NUMBER_FORMATS: dict[int, str] = {
    164: "yyyy-mm-dd",
    165: 'yyyy-mm-dd"T"hh:mm:ss.000"Z"',
    166: 'yyyy-mm-dd"T"hh:mm:ss"Z"',
    167: 'yyyy-mm-dd"T"hh:mm:ss.000',
    168: 'yyyy-mm-dd"T"hh:mm:ss',
}
_EXCEL_EPOCH = datetime(1899, 12, 30)
_FIRST_DAY = datetime(1900, 3, 1)  # Excel's serials are plain day counts from here on
_LAST_DAY = datetime(9999, 12, 31, 23, 59, 59)

XlsxValue = str | int | float | date | datetime | None


def link_cells(row: DatasetRow, base_url: str) -> Iterable[list[Cell]]:
    """The `links` sheet's rows of one dataset, `LINK_COLUMNS`."""
    webpage = dataset_webpage(base_url, row.id)
    link: LinkRow
    for link in row.links:
        yield [
            row.id,
            link.lid,
            link.position,
            link.title,
            link.url,
            link.description,
            link.qa_http_status,
            link.qa_size,
            link.qa_mimetype,
            link.qa_hash,
            link.qa_timestamp,
            webpage,
        ]


def desktop_cells(row: DatasetRow) -> list[Cell]:
    """The `DESKTOP_COLUMNS` of one dataset."""
    return [row.description_iframe, row.state, row.embargo_until, row.site]


def parse_timestamp(text: str) -> datetime | None:
    """An ISO 8601 timestamp as a naive UTC datetime (None if it is not one)."""
    try:
        return parse_utc(text)
    except ValueError:
        return None


def parse_date(text: str) -> date | None:
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


def timestamp_text(moment: datetime, number_format: str | None) -> str:
    """The text of a timestamp cell: the form its number format records (milliseconds, `Z`),
    or the catalogue's own form (milliseconds and `Z`, as clock.now_iso) for a cell typed
    elsewhere. The cell's float is rounded to the precision the form shows."""
    fmt = number_format or ""
    millis = ".000" in fmt or not fmt.startswith("yyyy-mm-dd")
    zulu = '"Z"' in fmt or not fmt.startswith("yyyy-mm-dd")
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    unit = timedelta(milliseconds=1) if millis else timedelta(seconds=1)
    rounded = _EXCEL_EPOCH + round((moment - _EXCEL_EPOCH) / unit) * unit
    text = rounded.strftime("%Y-%m-%dT%H:%M:%S")
    if millis:
        text += f".{rounded.microsecond // 1000:03d}"
    return text + ("Z" if zulu else "")


# -- cells as XML ----------------------------------------------------------------------------


def _text(value: str) -> str:
    if _ILLEGAL.search(value):
        value = _ILLEGAL.sub("\ufffd", value)
    if len(value) > MAX_CELL_TEXT:
        value = value[:MAX_CELL_TEXT]
    return neutralise(value)


def _string_cell(ref: str, value: str) -> str:
    text = escape(_text(value))
    if text[:1].isspace() or text[-1:].isspace():
        return f'<c r="{ref}" t="inlineStr"><is><t xml:space="preserve">{text}</t></is></c>'
    return f'<c r="{ref}" t="inlineStr"><is><t>{text}</t></is></c>'


def _serial(moment: datetime) -> str:
    delta = moment - _EXCEL_EPOCH
    return repr(delta.days + delta.seconds / 86400 + delta.microseconds / 86_400_000_000)


def _timestamp_cell(ref: str, value: str) -> str:
    match = _TIMESTAMP.fullmatch(value)
    # The shape of one (which the number format can give back), and a real moment Excel has.
    moment = parse_timestamp(value.removesuffix("Z")) if match is not None else None
    if match is not None and moment is not None and _FIRST_DAY <= moment <= _LAST_DAY:
        style = _TIMESTAMP_STYLES[(match.group(1) is not None, match.group(2) == "Z")]
        return f'<c r="{ref}" s="{style}"><v>{_serial(moment)}</v></c>'
    return _string_cell(ref, value)


def _date_cell(ref: str, value: str) -> str:
    day = parse_date(value) if len(value) == 10 else None
    if day is not None and _FIRST_DAY.date() <= day:
        serial = (day - _EXCEL_EPOCH.date()).days
        return f'<c r="{ref}" s="{_DATE_STYLE}"><v>{serial}</v></c>'
    return _string_cell(ref, value)


def _cell_writer(column: str) -> Callable[[str, str], str]:
    if column in _TIMESTAMPS:
        return _timestamp_cell
    if column in _DATES:
        return _date_cell
    return _string_cell


def _letters(count: int) -> list[str]:
    letters = []
    for index in range(1, count + 1):
        name = ""
        while index:
            index, remainder = divmod(index - 1, 26)
            name = chr(65 + remainder) + name
        letters.append(name)
    return letters


# -- sheets ----------------------------------------------------------------------------------

_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_RELS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_FLUSH_CHARS = 256 * 1024


def _sheet_head(last_column: str, rows: int) -> str:
    """A worksheet's XML up to its `<dimension>`, the range the sheet uses (header included),
    as Excel writes it: streaming readers (openpyxl's read-only mode, pandas) size the sheet
    from it. One cell is `A1`, not `A1:A1`."""
    used = f"A1:{last_column}{rows}" if (last_column, rows) != ("A", 1) else "A1"
    return (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        f'<worksheet xmlns="{_MAIN}" xmlns:r="{_RELS}"><dimension ref="{used}"/>'
    )


class _Sheet:
    """One logical sheet, written as one or more worksheet parts of at most MAX_ROWS rows."""

    def __init__(self, title: str, columns: Sequence[str], level: int) -> None:
        self.title = title
        self.columns = tuple(columns)
        self.level = level
        self.letters = _letters(len(columns))
        self.writers = [_cell_writer(column) for column in columns]
        self.parts: list[tuple[str, DeflatedPart, int]] = []  # (sheet name, part, rows)
        self.part: DeflatedPart | None = None
        self.rows = 0
        self.buffer: list[str] = []
        self.buffered = 0

    def _open_part(self) -> None:
        number = len(self.parts) + 1
        name = self.title if number == 1 else f"{self.title} ({number})"
        self.part = DeflatedPart(f"xl/worksheets/{self.title}-{number}.xml", self.level)
        self.parts.append((name, self.part, 0))
        cols = "".join(
            f'<col min="{i}" max="{i}" width="{_width(c)}" customWidth="1"/>'
            for i, c in enumerate(self.columns, 1)
        )
        header = "".join(
            f'<c r="{letter}1" t="inlineStr" s="{_HEADER_STYLE}">'
            f"<is><t>{escape(column)}</t></is></c>"
            for letter, column in zip(self.letters, self.columns, strict=True)
        )
        # The part's head, up to its <dimension>, is put before it once its rows are known.
        self.buffer = [
            '<sheetViews><sheetView workbookViewId="0">',
            '<pane ySplit="1" topLeftCell="A2" activePane="bottomLeft" state="frozen"/>',
            '<selection pane="bottomLeft" activeCell="A2" sqref="A2"/>',
            "</sheetView></sheetViews>",
            '<sheetFormatPr defaultRowHeight="15"/>',
            f"<cols>{cols}</cols><sheetData>",
            f'<row r="1">{header}</row>',
        ]
        self.buffered = sum(map(len, self.buffer))
        self.rows = 1

    def append(self, cells: Sequence[Cell]) -> None:
        if self.part is None or self.rows >= MAX_ROWS:
            if self.part is not None:
                self._close_part()
            self._open_part()
        self.rows += 1
        number = str(self.rows)
        xml = [f'<row r="{number}">']
        append = xml.append
        plain = _plain
        for letter, write, value in zip(self.letters, self.writers, cells, strict=True):
            if value is None:
                continue
            if type(value) is str:
                if not value:
                    continue
                # Most text needs no escaping, cleaning or neutralising: one regex says so.
                if write is _string_cell and len(value) <= MAX_CELL_TEXT and plain(value):
                    append(f'<c r="{letter}{number}" t="inlineStr"><is><t>{value}</t></is></c>')
                else:
                    append(write(letter + number, value))
            else:
                append(f'<c r="{letter}{number}"><v>{int(value)}</v></c>')
        append("</row>")
        chunk = "".join(xml)
        self.buffer.append(chunk)
        self.buffered += len(chunk)
        if self.buffered >= _FLUSH_CHARS:
            self._flush()

    def _flush(self) -> None:
        assert self.part is not None
        self.part.write("".join(self.buffer).encode("utf-8", "replace"))
        self.buffer = []
        self.buffered = 0

    def _close_part(self) -> None:
        assert self.part is not None
        last = self.letters[-1]
        self.buffer.append(f'</sheetData><autoFilter ref="A1:{last}{self.rows}"/></worksheet>')
        self._flush()
        self.part.finish()
        self.part.prepend(_sheet_head(last, self.rows).encode())
        name, part, _ = self.parts[-1]
        self.parts[-1] = (name, part, self.rows)

    def finish(self) -> None:
        if self.part is None:
            self._open_part()
        self._close_part()

    def discard(self) -> None:
        for _, part, _ in self.parts:
            part.discard()


def write_xlsx(
    rows: Iterable[DatasetRow],
    sink: BinaryIO,
    *,
    base_url: str,
    on_row: Callable[[int], None] | None = None,
    complete: bool = False,
    level: int = COMPRESSION_LEVEL,
) -> int:
    """Write the workbook of `rows` into the binary file object `sink`; the number of datasets
    written. `on_row(n)` is called after each dataset (progress, cancellation by raising).
    `complete` adds `DESKTOP_COLUMNS` to the datasets sheet (the desktop's export)."""
    columns = DATASET_COLUMNS + DESKTOP_COLUMNS if complete else DATASET_COLUMNS
    sheets = [
        _Sheet("datasets", columns, level),
        _Sheet("resources", RESOURCE_COLUMNS, level),
        _Sheet("links", LINK_COLUMNS, level),
    ]
    datasets, resources, links = sheets
    count = 0
    try:
        for row in rows:
            cells = dataset_cells(row, base_url)
            if complete:
                cells.extend(desktop_cells(row))
            datasets.append(cells)
            for resource in resource_cells(row, base_url):
                resources.append(resource)
            for link in link_cells(row, base_url):
                links.append(link)
            count += 1
            if on_row is not None:
                on_row(count)
        for sheet in sheets:
            sheet.finish()
        write_zip(sink, [*_package_parts(sheets), *(p for s in sheets for _, p, _ in s.parts)])
    finally:
        for sheet in sheets:
            sheet.discard()
    return count


# -- the package around the sheets -----------------------------------------------------------


def _package_parts(sheets: Sequence[_Sheet]) -> list[DeflatedPart]:
    worksheets = [(name, part) for sheet in sheets for name, part, _ in sheet.parts]
    overrides = "".join(
        f'<Override PartName="/{part.name}" ContentType="application/'
        'vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
        for _, part in worksheets
    )
    content_types = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="rels" '
        'ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
        '<Default Extension="xml" ContentType="application/xml"/>'
        '<Override PartName="/xl/workbook.xml" ContentType="application/'
        'vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
        '<Override PartName="/xl/styles.xml" ContentType="application/'
        'vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/>'
        f"{overrides}</Types>"
    )
    root_rels = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
        f'<Relationship Id="rId1" Type="{_RELS}/officeDocument" Target="xl/workbook.xml"/>'
        "</Relationships>"
    )
    sheet_entries = "".join(
        f'<sheet name="{escape(name)}" sheetId="{i}" r:id="rId{i}"/>'
        for i, (name, _) in enumerate(worksheets, 1)
    )
    workbook = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        f'<workbook xmlns="{_MAIN}" xmlns:r="{_RELS}">'
        '<bookViews><workbookView activeTab="0"/></bookViews>'
        f"<sheets>{sheet_entries}</sheets></workbook>"
    )
    relations = "".join(
        f'<Relationship Id="rId{i}" Type="{_RELS}/worksheet" '
        f'Target="{part.name.removeprefix("xl/")}"/>'
        for i, (_, part) in enumerate(worksheets, 1)
    )
    styles_id = len(worksheets) + 1
    workbook_rels = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
        f'{relations}<Relationship Id="rId{styles_id}" Type="{_RELS}/styles" '
        'Target="styles.xml"/></Relationships>'
    )
    return [
        part_from_bytes("[Content_Types].xml", content_types.encode()),
        part_from_bytes("_rels/.rels", root_rels.encode()),
        part_from_bytes("xl/workbook.xml", workbook.encode()),
        part_from_bytes("xl/_rels/workbook.xml.rels", workbook_rels.encode()),
        part_from_bytes("xl/styles.xml", _styles().encode()),
    ]


def _styles() -> str:
    formats = "".join(
        f'<numFmt numFmtId="{number}" formatCode="{escape(code, {chr(34): "&quot;"})}"/>'
        for number, code in _NUMBER_FORMATS.items()
    )
    numbered = "".join(
        f'<xf numFmtId="{number}" fontId="0" fillId="0" borderId="0" xfId="0" '
        'applyNumberFormat="1"/>'
        for number in _NUMBER_FORMATS
    )
    font = '<sz val="11"/><name val="Calibri"/><family val="2"/>'
    return (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        f'<styleSheet xmlns="{_MAIN}">'
        f'<numFmts count="{len(_NUMBER_FORMATS)}">{formats}</numFmts>'
        f'<fonts count="2"><font>{font}</font><font><b/>{font}</font></fonts>'
        '<fills count="3"><fill><patternFill patternType="none"/></fill>'
        '<fill><patternFill patternType="gray125"/></fill>'
        '<fill><patternFill patternType="solid"><fgColor rgb="FFDDE5F0"/>'
        '<bgColor indexed="64"/></patternFill></fill></fills>'
        '<borders count="2"><border><left/><right/><top/><bottom/><diagonal/></border>'
        '<border><left/><right/><top/><bottom style="thin"><color auto="1"/></bottom>'
        "<diagonal/></border></borders>"
        '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/>'
        "</cellStyleXfs>"
        f'<cellXfs count="{2 + len(_NUMBER_FORMATS)}">'
        '<xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
        '<xf numFmtId="0" fontId="1" fillId="2" borderId="1" xfId="0" applyFont="1" '
        'applyFill="1" applyBorder="1" applyAlignment="1"><alignment vertical="center"/></xf>'
        f"{numbered}</cellXfs>"
        '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>'
        "</styleSheet>"
    )
