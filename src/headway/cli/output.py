"""Writing compute results as a table, CSV or JSON, exactly as the workspace spec says."""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Sequence
from typing import Any, TextIO

from headway.engine.compute import Number, ResultRow
from headway.lib.spreadsheet import escape_formula_cell


def number_text(value: Number | None) -> str:
    """Numbers as plain text: integers whole, others to 15 significant digits.

    15 digits is what a double holds exactly, so 0.1 + 0.2 prints as 0.3 rather than
    0.30000000000000004, while every real digit is kept.
    """
    if value is None:
        return ""
    if isinstance(value, int):
        return str(value)
    if math.isfinite(value) and value == int(value) and abs(value) < 1e15:
        return str(int(value))
    text = format(value, ".15g")
    return text


def json_number(value: Number | None) -> Any:
    if value is None:
        return None
    if isinstance(value, int):
        return value
    text = number_text(value)
    # Whole numbers are written as in CSV: 60, not 60.0.
    return int(text) if text.lstrip("-").isdigit() else float(text)


def header(by: str | None) -> list[str]:
    return ["kpi", "period", *([by] if by else []), "value", "target", "attainment", "status"]


def write_csv(rows: Sequence[ResultRow], by: str | None, out: TextIO) -> None:
    out.write(_record([escape_formula_cell(name) for name in header(by)]))
    for row in rows:
        out.write(
            _record(
                [
                    escape_formula_cell(row.kpi),
                    escape_formula_cell(row.period.label),
                    *([escape_formula_cell(row.group)] if by else []),
                    number_text(row.value),
                    number_text(row.target),
                    number_text(row.attainment),
                    escape_formula_cell(row.status.value),
                ]
            )
        )


def _record(cells: list[str]) -> str:
    """One CSV line ending in a line feed. A field holding a carriage return is quoted
    too: the csv module quotes only the characters of its own line terminator, and an
    unquoted CR would start a new row in a spreadsheet, right before the rest of the text
    (a formula, say), unescaped."""
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerow(cells)
    return buffer.getvalue()[:-2] + "\n"


def write_json(rows: Sequence[ResultRow], by: str | None, out: TextIO) -> None:
    items = []
    for row in rows:
        item: dict[str, Any] = {"kpi": row.kpi, "period": row.period.label}
        if by:
            item[by] = row.group
        item["value"] = json_number(row.value)
        item["target"] = json_number(row.target)
        item["attainment"] = json_number(row.attainment)
        item["status"] = row.status.value
        items.append(item)
    json.dump(items, out, ensure_ascii=False, indent=2)
    out.write("\n")


def csv_text(rows: Sequence[ResultRow], by: str | None) -> str:
    buffer = io.StringIO()
    write_csv(rows, by, buffer)
    return buffer.getvalue()
