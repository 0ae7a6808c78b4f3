"""Text written to CSV or Excel files that a spreadsheet must show as text.

A cell starting with one of FORMULA_STARTS is read by spreadsheets as a formula (or, for
tab and carriage return, may turn into one on a copy and paste): CSV/formula injection.
Names, groups and values come from people's data, so any of them could plant one.
"""

from __future__ import annotations

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def escape_formula_cell(value: object) -> str:
    """The value as text a spreadsheet shows as text: a leading apostrophe before
    = + - @ tab or CR, also after leading spaces (which some spreadsheets skip before
    they look for a formula). None is an empty cell. Numbers meant as numbers are not
    passed here: a spreadsheet reads -5 as a number."""
    text = "" if value is None else str(value)
    return "'" + text if text.lstrip(" ").startswith(FORMULA_STARTS) else text
