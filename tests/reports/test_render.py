"""The report as HTML, PDF and Excel: its text, fonts, pictures and escaped cells."""

from __future__ import annotations

import io
import shutil
import subprocess
import time
from pathlib import Path

import pytest
from openpyxl import load_workbook

from headway.goals.models import Goal
from headway.kpis.models import Kpi
from headway.reports.builder import build_report
from headway.reports.render import (
    FORMULA_STARTS,
    cell_text,
    report_filename,
    report_html,
    report_pdf,
    report_xlsx,
)
from tests.web.conftest import Org

pytestmark = pytest.mark.django_db

POPPLER = all(shutil.which(tool) for tool in ("pdftotext", "pdffonts", "pdftoppm"))
needs_poppler = pytest.mark.skipif(
    not POPPLER, reason="poppler-utils is not installed (apt-get install poppler-utils)"
)


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("=1+2", "'=1+2"),
        ("+33 1 23", "'+33 1 23"),
        ("-5", "'-5"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tindent", "'\tindent"),
        ("\rreturn", "'\rreturn"),
        ("Revenue", "Revenue"),
        ("a=b", "a=b"),
        ("", ""),
    ],
)
def test_text_that_a_spreadsheet_would_run_gets_a_leading_apostrophe(text: str, shown: str) -> None:
    assert cell_text(text) == shown


def test_the_html_is_a_whole_document_with_the_cards_and_their_charts(org: Org) -> None:
    html = report_html(build_report(period="2024-03", language="zh-hant"))
    assert html.startswith("<!doctype html>")
    assert '<html lang="zh-hant">' in html
    assert "Noto Sans CJK TC" in html
    assert html.count('<svg class="chart"') == 4
    for text in ("成交率", "營收", "神秘客評分", "62.5%", "TWD 1,253", "=三月門市活動奏效"):
        assert text in html


def test_names_are_escaped_in_the_html(org: Org) -> None:
    Kpi.objects.filter(key="deal_count").update(name="<script>alert(1)</script>")
    html = report_html(build_report(period="2024-03"))
    assert "<script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_every_cell_a_spreadsheet_could_read_as_a_formula_is_escaped(org: Org) -> None:
    planted = {
        "deal_count": '=HYPERLINK("http://evil.example","x")',
        "revenue": "+Revenue",
        "win_rate": "-Win rate",
        "mystery_shopper": "@Mystery",
    }
    for key, name in planted.items():
        Kpi.objects.filter(key=key).update(name=name)
    Goal.objects.filter(key="grow").update(title="\tGrow")
    Goal.objects.filter(key="win-more").update(title="\rWin more")
    workbook = load_workbook(io.BytesIO(report_xlsx(build_report(period="2024-03"))))
    assert workbook.sheetnames == ["Summary", "KPIs"]
    # Reading XML turns a carriage return into a line feed: count both.
    dangerous = (*FORMULA_STARTS, "\n")
    unescaped, escaped = [], []
    for sheet in workbook.worksheets:
        for row in sheet.iter_rows():
            for cell in row:
                assert cell.data_type != "f", cell.coordinate
                if not isinstance(cell.value, str):
                    continue
                if cell.value.startswith(dangerous):
                    unescaped.append(f"{sheet.title}!{cell.coordinate}")
                elif cell.value.startswith("'") and cell.value[1:].startswith(dangerous):
                    escaped.append(cell.value)
    assert unescaped == []
    # Each planted name in the goals and on the KPI sheet (some in movers and stale lists
    # too), both goal titles, the comment and the target change's reason.
    for text in [*planted.values(), "\tGrow", "\nWin more", "=三月門市活動奏效"]:
        assert f"'{text}" in escaped
    assert "'+5 points after the March review" in escaped
    assert len(escaped) >= 14


def test_numbers_stay_numbers_in_the_kpi_sheet(org: Org) -> None:
    workbook = load_workbook(io.BytesIO(report_xlsx(build_report(period="2024-03"))))
    sheet = workbook["KPIs"]
    heading = [cell.value for cell in sheet[1]]
    rows = {row[0]: row for row in sheet.iter_rows(min_row=2, values_only=True)}
    value, target, attainment = (heading.index(name) for name in ("Value", "Target", "Attainment"))
    assert rows["win_rate"][value] == pytest.approx(0.625)
    assert rows["win_rate"][target] == pytest.approx(0.6)
    assert rows["win_rate"][attainment] == pytest.approx(1.0416666667)
    assert rows["revenue"][value] == pytest.approx(1252.5)
    assert rows["deal_count"][target] is None
    assert sheet.cell(row=2, column=value + 1).number_format == "0.0%"


def test_the_workbook_speaks_the_reports_language(org: Org) -> None:
    workbook = load_workbook(
        io.BytesIO(report_xlsx(build_report(period="2024-03", language="zh-Hant")))
    )
    assert workbook.sheetnames == ["摘要", "KPI"]
    assert workbook["KPI"]["B1"].value == "KPI"
    assert workbook["KPI"]["F1"].value == "數值"


def test_file_names_say_period_team_and_language(org: Org) -> None:
    report = build_report(period="2024-03", language="zh-Hant")
    assert report_filename(report, "pdf") == "headway-report-2024-03-zh-hant.pdf"


def _pdf_text(path: Path) -> str:
    return subprocess.run(
        ["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True
    ).stdout


@pytest.mark.slow
@needs_poppler
def test_the_chinese_pdf_has_the_names_and_numbers_in_an_embedded_cjk_font(
    org: Org, tmp_path: Path
) -> None:
    report = build_report(period="2024-03", language="zh-Hant")
    started = time.perf_counter()
    pdf = report_pdf(report)
    took = time.perf_counter() - started
    # ~0.5 s once WeasyPrint is loaded; without libharfbuzz-subset0 it takes ~20 s.
    assert took < 10, f"the PDF took {took:.1f} s: is libharfbuzz-subset0 installed?"
    path = tmp_path / "report.pdf"
    path.write_bytes(pdf)
    text = _pdf_text(path)
    for expected in ("成交率", "營收", "成交件數", "神秘客評分", "2024年3月", "達標"):
        assert expected in text
    for number in ("62.5%", "60.0%", "104.2%", "TWD 1,253", "TWD 1,000", "86.00", "+25.1"):
        assert number in text
    fonts = subprocess.run(
        ["pdffonts", str(path)], capture_output=True, text=True, check=True
    ).stdout
    embedded = [line for line in fonts.splitlines() if "Noto-Sans-CJK-TC" in line]
    assert embedded
    assert all(" yes " in line for line in embedded)
    # Chinese drawn in no other font (not the Japanese one, not a box from a fallback).
    assert "CJK-JP" not in fonts
    assert "CJK-SC" not in fonts


@pytest.mark.slow
@needs_poppler
def test_the_first_page_of_the_pdf_is_not_blank(org: Org, tmp_path: Path) -> None:
    from PIL import Image

    path = tmp_path / "report.pdf"
    path.write_bytes(report_pdf(build_report(period="2024-03")))
    subprocess.run(
        ["pdftoppm", "-png", "-r", "50", "-f", "1", "-l", "1", str(path), str(tmp_path / "page")],
        check=True,
    )
    (png,) = tmp_path.glob("page*.png")
    with Image.open(png) as image:
        grey = image.convert("L")
        inked = sum(1 for value in grey.get_flattened_data() if value < 200)
    # An A4 page at 50 dpi is 413 x 585 pixels; a page of headings and tables inks
    # thousands of them, a blank one none.
    assert inked > 2000
