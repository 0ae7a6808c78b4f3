"""The report as HTML (a page, standalone or inside the site), PDF and Excel.

Every renderer works in the report's own language (`translation.override`), whatever
the language of the request or command that asked for it.
"""

from __future__ import annotations

import io
import re
import zoneinfo
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

from django.template.loader import render_to_string
from django.utils import translation
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _
from openpyxl import Workbook
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from headway.kpis.choices import Unit
from headway.lib.spreadsheet import FORMULA_STARTS as FORMULA_STARTS
from headway.lib.spreadsheet import escape_formula_cell
from headway.reports.builder import Report

# Where the PDF's relative URLs would resolve; nothing is fetched from anywhere else.
STATIC_DIR = Path(__file__).resolve().parent / "static"


@contextmanager
def _language(report: Report) -> Iterator[None]:
    with translation.override(report.language):
        yield


def report_filename(report: Report, extension: str) -> str:
    """headway-report-2026-03-north-zh-hant.pdf"""
    parts = ["headway-report", report.period]
    if report.team_key:
        parts.append(report.team_key)
    parts.append(report.language)
    return re.sub(r"[^A-Za-z0-9._-]", "-", "-".join(parts)) + f".{extension}"


# HTML ------------------------------------------------------------------------------------


def _context(report: Report) -> dict[str, Any]:
    return {"report": report}


def report_body_html(report: Report) -> SafeString:
    """The report's content, for a page of the site (which brings its own document)."""
    with _language(report):
        body = render_to_string("reports/_report_body.html", _context(report))
    # The template escapes every text; the charts escape theirs (headway.reports.charts).
    return mark_safe(body)  # noqa: S308


def report_style() -> SafeString:
    """The report's CSS, for a page of the site that shows a report."""
    return mark_safe(render_to_string("reports/_report_style.html"))  # noqa: S308


def report_html(report: Report) -> str:
    """The report as a standalone HTML document (inline CSS and SVG), printable."""
    with _language(report):
        return render_to_string("reports/report.html", _context(report))


# PDF -------------------------------------------------------------------------------------


def _no_fetching(url: str, *args: Any, **kwargs: Any) -> dict[str, Any]:
    """WeasyPrint's URL fetcher: the report is self-contained, so any URL in it is refused
    rather than fetched (no requests to the network or to files on the server)."""
    raise ValueError(f"the report does not load {url[:80]!r}")


def report_pdf(report: Report) -> bytes:
    """The report as PDF, from the standalone HTML (WeasyPrint embeds the subset of
    Noto Sans CJK TC it uses: needs libharfbuzz-subset0 to take a second, not twenty)."""
    from weasyprint import HTML  # imported here: it takes a while and needs Pango

    document = HTML(
        string=report_html(report),
        base_url=STATIC_DIR.as_uri() + "/",
        url_fetcher=_no_fetching,
    )
    pdf = document.write_pdf()
    assert pdf is not None
    return bytes(pdf)


# Excel -----------------------------------------------------------------------------------


# Text cells (`headway.lib.spreadsheet`; the name kept for the report's callers).
cell_text = escape_formula_cell


Cell = str | int | Decimal | None


def _put(sheet: Worksheet, row: int, column: int, value: Cell, number_format: str = "") -> None:
    """The only way a value goes into the workbook: text escaped, numbers as numbers."""
    cell = sheet.cell(row=row, column=column)
    if isinstance(value, str):
        cell.value = cell_text(value)
        cell.data_type = "s"
    else:
        cell.value = value
        if number_format and value is not None:
            cell.number_format = number_format


class _Rows:
    """Writes a sheet row by row, each value through `_put`."""

    def __init__(self, sheet: Worksheet) -> None:
        self.sheet = sheet
        self.row = 0

    def add(self, values: Sequence[Cell], formats: Sequence[str] = ()) -> int:
        self.row += 1
        for column, value in enumerate(values, start=1):
            number_format = formats[column - 1] if column - 1 < len(formats) else ""
            _put(self.sheet, self.row, column, value, number_format)
        return self.row

    def heading(self, values: Sequence[str], size: int | None = None) -> None:
        row = self.add(values)
        for column in range(1, len(values) + 1):
            self.sheet.cell(row=row, column=column).font = Font(bold=True, size=size)


def _value_format(unit: str) -> str:
    kind = Unit(unit)
    if kind is Unit.PERCENT:
        return "0.0%"
    if kind is Unit.CURRENCY:
        return "#,##0.00"
    if kind is Unit.COUNT:
        return "#,##0"
    return "#,##0.00"


def _summary_sheet(sheet: Worksheet, report: Report) -> None:
    sheet.title = _("Summary")[:31]
    zone = zoneinfo.ZoneInfo(report.timezone)
    rows = _Rows(sheet)
    rows.heading([report.title], size=14)
    rows.add([_("Period"), report.period])
    rows.add([_("Organisation"), report.organization])
    rows.add([_("Team"), report.team_name or _("The whole company")])
    rows.add(
        [_("Made at"), report.generated_at.astimezone(zone).strftime("%Y-%m-%d %H:%M")],
    )
    rows.add([])
    rows.heading([_("Status"), _("KPIs")])
    for count in report.counts:
        rows.add([str(count.status.label), count.count])
    rows.add([])
    rows.heading([_("Goal"), _("KPI"), _("Status")])
    for goal in report.goals:
        lines = [[goal.title, kpi.name, str(kpi.status.label)] for kpi in goal.kpis]
        for line in lines or [[goal.title, "", ""]]:
            row = rows.add(line)
            sheet.cell(row=row, column=1).alignment = Alignment(indent=goal.depth * 2)
    rows.add([])
    rows.heading(
        [
            _("Top movers"),
            _("Period"),
            _("Attainment"),
            _("Attainment the period before"),
            _("Change (points)"),
        ]
    )
    for mover in (*report.movers_up, *report.movers_down):
        rows.add(
            [mover.name, mover.period, mover.attainment, mover.previous_attainment, mover.change],
            ["", "", "0.0%", "0.0%", "0.0%"],
        )
    rows.add([])
    rows.heading([_("KPIs with stale data"), _("Datasets"), _("Age")])
    for item in report.stale:
        rows.add([item.name, ", ".join(item.datasets), item.age_text])
    rows.add([])
    rows.heading(
        [
            _("Target changes"),
            _("Group"),
            _("From period"),
            _("Target before"),
            _("Target after"),
            _("Reason"),
            _("Decided by"),
        ],
    )
    for change in report.target_changes:
        rows.add(
            [
                change.kpi_name,
                change.group,
                change.effective_from,
                change.before,
                change.after,
                change.reason,
                change.decided_by,
            ],
            ["", "", "", _value_format(change.unit), _value_format(change.unit)],
        )
    sheet.column_dimensions["A"].width = 44
    for letter in "BCDEFG":
        sheet.column_dimensions[letter].width = 18


def _kpi_sheet(sheet: Worksheet, report: Report) -> None:
    rows = _Rows(sheet)
    headings = [
        _("Key"),
        _("KPI"),
        _("Team"),
        _("Owner"),
        _("Period"),
        _("Value"),
        _("Target"),
        _("Attainment"),
        _("Status"),
        _("Attainment the period before"),
        _("Unit"),
        _("The owner's comment"),
        _("Stale data"),
    ]
    rows.heading(headings)
    for card in report.cards:
        value_format = _value_format(card.unit)
        rows.add(
            [
                card.key,
                card.name,
                card.team,
                card.owner,
                card.period,
                card.value,
                card.target,
                card.attainment,
                str(card.status.label),
                card.previous_attainment,
                str(Unit(card.unit).label),
                card.owner_comment,
                ", ".join(card.stale_datasets),
            ],
            ["", "", "", "", "", value_format, value_format, "0.0%", "", "0.0%"],
        )
    sheet.freeze_panes = "C2"
    for column, width in enumerate([18, 36, 16, 20, 10, 14, 14, 12, 12, 14, 12, 40, 20], 1):
        sheet.column_dimensions[get_column_letter(column)].width = width
    for row in sheet.iter_rows(min_row=2, min_col=12, max_col=12):
        for cell in row:
            cell.alignment = Alignment(wrap_text=True, vertical="top")


def report_xlsx(report: Report) -> bytes:
    """The report as an Excel workbook: a summary sheet and a sheet of the KPIs, with
    numbers as numbers and every text that could be read as a formula escaped."""
    with _language(report):
        workbook = Workbook()
        summary = workbook.active
        assert isinstance(summary, Worksheet)
        _summary_sheet(summary, report)
        _kpi_sheet(workbook.create_sheet(_("KPIs")[:31]), report)
        buffer = io.BytesIO()
        workbook.save(buffer)
    return buffer.getvalue()
