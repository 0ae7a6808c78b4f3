"""`headway report` writes each format, and says what is wrong without a traceback."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from openpyxl import load_workbook

from tests.conftest import run_headway
from tests.web.conftest import Org

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _same_database(monkeypatch: pytest.MonkeyPatch) -> None:
    from django.conf import settings

    monkeypatch.setenv("HEADWAY_DATA_DIR", str(settings.DATA_DIR))


def test_the_command_writes_html_and_excel(org: Org, tmp_path: Path) -> None:
    html = tmp_path / "march.html"
    run = run_headway(
        "report",
        "--period",
        "2024-03",
        "--language",
        "zh-Hant",
        "--format",
        "html",
        "--output",
        html,
    )
    assert run.exit_code == 0, run
    assert "Wrote the report of 2024-03 (4 KPIs)" in run.stderr
    text = html.read_text(encoding="utf-8")
    assert "Test Tea 2024年3月月報" in text
    assert "成交率" in text
    workbook_path = tmp_path / "north.xlsx"
    run = run_headway("report", "--period", "2024-03", "--team", "north", "--output", workbook_path)
    assert run.exit_code == 0, run
    workbook = load_workbook(io.BytesIO(workbook_path.read_bytes()))
    assert workbook.sheetnames == ["Summary", "KPIs"]


@pytest.mark.slow
def test_the_command_writes_a_pdf(org: Org, tmp_path: Path) -> None:
    pdf = tmp_path / "march.pdf"
    run = run_headway("report", "--period", "2024-03", "--format", "pdf", "--output", pdf)
    assert run.exit_code == 0, run
    assert pdf.read_bytes().startswith(b"%PDF-")


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--period", "2024-13"], "error: '2024-13' is not a period label"),
        (["--period", "2999-01"], "error: the period 2999-01 has not begun yet"),
        (["--period", "2024-03", "--team", "west"], "error: there is no team 'west'"),
        (["--period", "2024-03", "--language", "fr"], "error: 'fr' is not a language"),
    ],
)
def test_bad_input_is_named_with_exit_status_2(
    org: Org, tmp_path: Path, arguments: list[str], message: str
) -> None:
    output = tmp_path / "report.html"
    run = run_headway("report", *arguments, "--output", output)
    assert run.exit_code == 2
    assert message in run.stderr
    assert "Traceback" not in run.stderr
    assert not output.exists()


def test_a_format_is_needed_when_the_file_name_does_not_tell(org: Org, tmp_path: Path) -> None:
    run = run_headway("report", "--period", "2024-03", "--output", tmp_path / "report")
    assert run.exit_code == 2
    assert "--format" in run.stderr
