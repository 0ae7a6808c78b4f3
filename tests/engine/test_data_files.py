"""Data files other than plain CSV: XLSX and Parquet, and files that must be refused."""

from __future__ import annotations

import datetime
import zipfile
from pathlib import Path

import duckdb
import openpyxl

from tests.conftest import run_headway

WORKSPACE = """\
version: 1
organization: {{name: Test, timezone: Asia/Taipei}}
datasets:
  deals: {{file: {file}, key: deal_id, time: closed_at, dimensions: [team]}}
measures:
  won: {{dataset: deals, agg: count, filter: "stage = 'won' and is_first"}}
  revenue: {{dataset: deals, agg: sum, column: amount}}
kpis:
  - {{key: won, name: Won, formula: won, unit: count, grain: month}}
  - {{key: revenue, name: Revenue, formula: revenue, unit: currency, grain: month}}
"""


def write_workspace(folder: Path, file: str) -> Path:
    path = folder / "headway.yaml"
    path.write_text(WORKSPACE.format(file=file), encoding="utf-8")
    return path


def test_an_xlsx_sheet_is_read_with_its_dates_numbers_and_booleans(tmp_path: Path) -> None:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append(["deal_id", "closed_at", "team", "stage", "amount", "is_first"])
    sheet.append([1, datetime.datetime(2026, 1, 31, 23, 0), "north", "won", 100.5, True])
    sheet.append([2, datetime.date(2026, 2, 1), "south", "won", 20, False])
    sheet.append([None, None, None, None, None, None])
    sheet.append([3, "2026-01-31T17:30:00Z", "south", "won", 7, True])
    workbook.save(tmp_path / "deals.xlsx")
    run = run_headway("compute", write_workspace(tmp_path, "deals.xlsx"), "--format", "json")
    assert run.exit_code == 0, run
    values = {(row["kpi"], row["period"]): row["value"] for row in run.json_rows()}
    # 17:30Z on Jan 31 is 01:30 on Feb 1 in Taipei.
    assert values == {
        ("won", "2026-01"): 1,
        ("won", "2026-02"): 1,
        ("revenue", "2026-01"): 100.5,
        ("revenue", "2026-02"): 27,
    }


def test_a_bad_value_in_an_xlsx_sheet_names_its_row(tmp_path: Path) -> None:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append(["deal_id", "closed_at", "team", "stage", "amount", "is_first"])
    sheet.append([1, datetime.datetime(2026, 1, 3), "north", "won", "n/a", True])
    workbook.save(tmp_path / "deals.xlsx")
    run = run_headway("compute", write_workspace(tmp_path, "deals.xlsx"))
    assert run.exit_code == 2
    assert "deals.xlsx (row 2)" in run.stderr
    assert "'n/a' is not a number" in run.stderr


def test_an_xlsx_compression_bomb_is_refused_before_parsing(tmp_path: Path) -> None:
    bomb = tmp_path / "deals.xlsx"
    with zipfile.ZipFile(bomb, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        chunk = b"<c><v>0</v></c>" * 1024 * 64
        with archive.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as sheet:
            for _ in range(64):  # about 60 MB that compress to a few hundred KB
                sheet.write(chunk)
    run = run_headway("compute", write_workspace(tmp_path, "deals.xlsx"))
    assert run.exit_code == 2
    assert "compression bomb" in run.stderr


def test_a_csv_file_named_xlsx_is_refused_clearly(tmp_path: Path) -> None:
    (tmp_path / "deals.xlsx").write_text("deal_id,closed_at\n1,2026-01-01\n", encoding="utf-8")
    run = run_headway("compute", write_workspace(tmp_path, "deals.xlsx"))
    assert run.exit_code == 2
    assert "is not an .xlsx file" in run.stderr


def test_a_text_file_named_parquet_is_refused_clearly(tmp_path: Path) -> None:
    (tmp_path / "deals.parquet").write_text("deal_id\n1\n", encoding="utf-8")
    run = run_headway("compute", write_workspace(tmp_path, "deals.parquet"))
    assert run.exit_code == 2
    assert "cannot be read as Parquet" in run.stderr


def test_an_unknown_file_type_is_refused(tmp_path: Path) -> None:
    (tmp_path / "deals.json").write_text("[]", encoding="utf-8")
    run = run_headway("compute", write_workspace(tmp_path, "deals.json"))
    assert run.exit_code == 2
    assert "is not a .csv, .parquet or .xlsx file" in run.stderr


def test_parquet_instants_are_converted_to_local_time(tmp_path: Path) -> None:
    connection = duckdb.connect()
    connection.execute("SET TimeZone = 'UTC'")
    connection.execute(
        f"""COPY (SELECT * FROM (VALUES
            (1, TIMESTAMPTZ '2026-01-31 17:30:00+00', 'north', 'won', 10.0, true),
            (2, TIMESTAMPTZ '2026-01-31 15:30:00+00', 'north', 'won', 5.0, true)
        ) t(deal_id, closed_at, team, stage, amount, is_first))
        TO '{tmp_path / "deals.parquet"}' (FORMAT parquet)"""
    )
    run = run_headway(
        "compute", write_workspace(tmp_path, "deals.parquet"), "--kpi", "revenue", "--format", "csv"
    )
    assert run.exit_code == 0, run
    assert run.csv_rows() == [
        {
            "kpi": "revenue",
            "period": "2026-01",
            "value": "5",
            "target": "",
            "attainment": "",
            "status": "none",
        },
        {
            "kpi": "revenue",
            "period": "2026-02",
            "value": "10",
            "target": "",
            "attainment": "",
            "status": "none",
        },
    ]


def test_a_duplicate_key_in_parquet_names_both_rows(tmp_path: Path) -> None:
    connection = duckdb.connect()
    connection.execute(
        f"""COPY (SELECT * FROM (VALUES
            (1, TIMESTAMP '2026-01-01 10:00', 'north', 'won', 1.0, true),
            (2, TIMESTAMP '2026-01-02 10:00', 'north', 'won', 1.0, true),
            (1, TIMESTAMP '2026-01-03 10:00', 'north', 'won', 1.0, true)
        ) t(deal_id, closed_at, team, stage, amount, is_first))
        TO '{tmp_path / "deals.parquet"}' (FORMAT parquet)"""
    )
    run = run_headway("compute", write_workspace(tmp_path, "deals.parquet"))
    assert run.exit_code == 2
    assert "duplicate key deal_id = 1 on rows 1 and 3" in run.stderr


def test_a_parquet_column_named_file_row_number_is_an_ordinary_column(tmp_path: Path) -> None:
    connection = duckdb.connect()
    connection.execute(
        f"""COPY (SELECT * FROM (VALUES
            (1, TIMESTAMP '2026-01-01 10:00', 'north', 'won', 1.0, true, 7),
            (1, TIMESTAMP '2026-01-03 10:00', 'north', 'won', 1.0, true, 8)
        ) t(deal_id, closed_at, team, stage, amount, is_first, file_row_number))
        TO '{tmp_path / "deals.parquet"}' (FORMAT parquet)"""
    )
    run = run_headway("compute", write_workspace(tmp_path, "deals.parquet"))
    assert run.exit_code == 2
    assert "duplicate key deal_id = 1 on rows 1 and 2" in run.stderr
