"""Cell rules shared by the spreadsheet formats (CSV and XLSX): formula neutralising.

A text cell that a spreadsheet would run as a formula (starting with `=`, `+`, `-`, `@`, TAB or
CR) is written with a leading apostrophe, as OWASP advises; so is a cell that already starts
with an apostrophe followed by one of those or by another apostrophe, which keeps the rule
reversible: `restore_cell` undoes it. Numbers and dates are never neutralised.
"""

from __future__ import annotations

FORMULA_STARTS = frozenset("=+-@\t\r")


def neutralise(value: str) -> str:
    """`value` as a cell no spreadsheet will evaluate as a formula."""
    if value and (
        value[0] in FORMULA_STARTS
        or (value[0] == "'" and len(value) > 1 and (value[1] in FORMULA_STARTS or value[1] == "'"))
    ):
        return "'" + value
    return value


def restore_cell(cell: str) -> str:
    """The stored text of a cell written by `neutralise` (the inverse, for readers and tests)."""
    if len(cell) > 1 and cell[0] == "'" and (cell[1] in FORMULA_STARTS or cell[1] == "'"):
        return cell[1:]
    return cell
