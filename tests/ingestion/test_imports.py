"""Importing files into the warehouse: all or nothing, upsert by key, schema drift."""

from __future__ import annotations

import csv
import datetime
import io
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from headway.audit.models import AuditEntry
from headway.engine.data import quote_literal
from headway.ingestion.models import DatasetSchema, ImportRun, ImportStatus
from headway.ingestion.services import (
    import_file,
    preview_file,
    rejected_rows_csv,
    table_path,
)
from headway.kpis.models import Dataset
from headway.results.models import Result
from headway.results.services import results_recompute
from tests.app.conftest import Organisation
from tests.ingestion.conftest import (
    DEALS_V1,
    DEALS_V2,
    expected_deals,
    sha256,
    table_rows,
    write,
)

pytestmark = pytest.mark.django_db


def deals() -> Dataset:
    return Dataset.objects.get(key="deals")


def by_key(rows: list[dict[str, object]]) -> dict[object, dict[str, object]]:
    return {row["deal_id"]: row for row in rows}


def test_the_first_import_creates_the_table_with_exactly_the_files_rows(
    org: Organisation, tmp_path: Path
) -> None:
    path = write(tmp_path, "deals_v1.csv", DEALS_V1)

    run = import_file(dataset=deals(), path=path, by=org.admin)

    assert run.status == ImportStatus.SUCCEEDED, run.error
    assert (run.rows_in_file, run.added, run.updated, run.unchanged, run.rejected) == (
        3,
        3,
        0,
        0,
        0,
    )
    assert run.by == org.admin
    assert run.source == "upload"
    assert run.file_name == "deals_v1.csv"
    assert len(run.sha256) == 64
    assert run.duration is not None
    table = table_path(deals())
    assert by_key(table_rows(table)) == expected_deals(DEALS_V1)
    assert deals().file == str(table.resolve())
    schema = DatasetSchema.objects.get(dataset=deals()).columns
    assert schema == [
        {"name": "deal_id", "type": "VARCHAR"},
        {"name": "closed_at", "type": "TIMESTAMP"},
        {"name": "team", "type": "VARCHAR"},
        {"name": "stage", "type": "VARCHAR"},
        {"name": "amount", "type": "BIGINT"},
    ]
    actions = list(
        AuditEntry.objects.filter(action__startswith="import.").values_list("action", flat=True)
    )
    assert sorted(actions) == ["import.finish", "import.start"]
    assert AuditEntry.objects.filter(action="dataset.update", object_id=str(deals().pk)).exists()


def test_importing_the_same_file_again_changes_nothing(org: Organisation, tmp_path: Path) -> None:
    path = write(tmp_path, "deals_v1.csv", DEALS_V1)
    import_file(dataset=deals(), path=path, by=None)
    table = table_path(deals())
    before = (sha256(table), table.stat().st_mtime_ns)

    again = import_file(dataset=deals(), path=path, by=None)

    assert again.status == ImportStatus.SUCCEEDED
    assert (again.added, again.updated, again.unchanged) == (0, 0, 3)
    assert (sha256(table), table.stat().st_mtime_ns) == before
    assert ImportRun.objects.count() == 2


def test_a_file_with_changed_and_new_rows_upserts_by_key(org: Organisation, tmp_path: Path) -> None:
    import_file(dataset=deals(), path=write(tmp_path, "v1.csv", DEALS_V1), by=None)

    run = import_file(dataset=deals(), path=write(tmp_path, "v2.csv", DEALS_V2), by=None)

    old, new = expected_deals(DEALS_V1), expected_deals(DEALS_V2)
    added = sum(1 for key in new if key not in old)
    updated = sum(1 for key in new if key in old and new[key] != old[key])
    assert (run.added, run.updated, run.unchanged) == (added, updated, len(new) - added - updated)
    assert (added, updated) == (1, 1)
    assert by_key(table_rows(table_path(deals()))) == expected_deals(DEALS_V1, DEALS_V2)


def test_a_file_with_bad_rows_names_every_one_and_changes_nothing(
    org: Organisation, tmp_path: Path
) -> None:
    import_file(dataset=deals(), path=write(tmp_path, "v1.csv", DEALS_V1), by=None)
    table = table_path(deals())
    before = sha256(table)
    bad = (
        "deal_id,closed_at,team,stage,amount\n"
        'b,2026-02-11,south,"won\nafter a talk",60\n'  # a quoted field over two lines
        "e,2026-13-45,north,won,10\n"  # line 4: no 13th month
        "f,2026-03-02,north,won,ten\n"  # line 5: text in a number column
        "g,2026-03-03,south,won,5\n"
        "b,2026-03-04,south,won,7\n"  # line 7: b again (first on line 2)
    )

    run = import_file(dataset=deals(), path=write(tmp_path, "bad.csv", bad), by=org.manager)

    assert run.status == ImportStatus.FAILED
    assert (run.rejected, run.rows_in_file, run.added, run.updated) == (3, 5, 0, 0)
    rejects = [(r.line, r.column, r.value) for r in run.rejects.all()]
    assert rejects == [
        (4, "closed_at", "2026-13-45"),
        (5, "amount", "ten"),
        (7, "deal_id", "b"),
    ]
    reasons = [r.reason for r in run.rejects.all()]
    assert "not a date" in reasons[0]
    assert "not a whole number" in reasons[1]
    assert reasons[2] == "duplicate key 'b': also on line 2"
    assert "3 of 5 lines are bad" in run.error
    assert sha256(table) == before
    assert by_key(table_rows(table)) == expected_deals(DEALS_V1)


def test_schema_drift_is_refused_and_then_applied_when_accepted(
    org: Organisation, tmp_path: Path
) -> None:
    import_file(dataset=deals(), path=write(tmp_path, "v1.csv", DEALS_V1), by=None)
    table = table_path(deals())
    before = sha256(table)
    drifted = (
        "deal_id,closed_at,team,amount,region\n"
        "a,2026-01-10,north,100.5,asia\n"
        "h,2026-04-01,south,20,europe\n"
    )
    path = write(tmp_path, "drifted.csv", drifted)

    refused = import_file(dataset=deals(), path=path, by=None)

    assert refused.status == ImportStatus.FAILED
    assert refused.schema_changes == [
        "missing column 'stage' (the table has it as VARCHAR)",
        "new column 'region' (VARCHAR)",
        "column 'amount' changed type from BIGINT to DOUBLE",
    ]
    for change in refused.schema_changes:
        assert change in refused.error
    assert sha256(table) == before

    # Accepting never removes a column: the stored rows' stage values would be lost.
    dropping = import_file(dataset=deals(), path=path, by=None, accept_schema_change=True)
    assert dropping.status == ImportStatus.FAILED
    assert "lacks the column(s) stage" in dropping.error
    assert sha256(table) == before

    with_stage = (
        "deal_id,closed_at,team,stage,amount,region\n"
        "a,2026-01-10,north,won,100.5,asia\n"
        "h,2026-04-01,south,won,20,europe\n"
    )
    accepted = import_file(
        dataset=deals(),
        path=write(tmp_path, "with-stage.csv", with_stage),
        by=None,
        accept_schema_change=True,
    )

    assert accepted.status == ImportStatus.SUCCEEDED, accepted.error
    assert (accepted.added, accepted.updated, accepted.unchanged) == (1, 1, 0)
    rows = by_key(table_rows(table))
    assert list(rows["a"]) == ["deal_id", "closed_at", "team", "stage", "amount", "region"]
    assert rows["a"]["amount"] == 100.5
    assert rows["a"]["region"] == "asia"
    assert rows["b"]["amount"] == 50.0
    assert rows["b"]["stage"] is not None
    assert rows["b"]["region"] is None
    assert sorted(rows) == ["a", "b", "c", "h"]
    assert [c["name"] for c in DatasetSchema.objects.get(dataset=deals()).columns] == list(
        rows["a"]
    )


def test_a_row_without_a_time_is_rejected(org: Organisation, tmp_path: Path) -> None:
    text = "deal_id,closed_at,team,stage,amount\na,2026-01-10,north,won,1\nb,,north,won,2\n"
    run = import_file(dataset=deals(), path=write(tmp_path, "timeless.csv", text), by=None)
    assert run.status == ImportStatus.FAILED
    assert [(r.line, r.column, r.reason) for r in run.rejects.all()] == [
        (3, "closed_at", "the time is empty")
    ]


def test_a_file_duckdb_cannot_read_fails_cleanly_without_internal_details(
    org: Organisation, tmp_path: Path
) -> None:
    import openpyxl

    workbook = openpyxl.Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append(["deal_id", "DEAL_ID", "closed_at", "team", "stage", "amount"])
    sheet.append(["a", "b", "2026-01-10", "north", "won", 1])
    path = tmp_path / "odd.xlsx"
    workbook.save(path)
    preview = preview_file(dataset=deals(), path=path)
    assert preview.errors
    run = import_file(dataset=deals(), path=path, by=None)
    assert run.status == ImportStatus.FAILED
    assert "SELECT" not in run.error
    assert str(tmp_path) not in run.error


def test_whole_numbers_fit_a_decimal_column_but_a_lossy_change_of_type_is_refused(
    org: Organisation, tmp_path: Path
) -> None:
    text = "deal_id,closed_at,team,stage,amount\na,2026-01-10,north,won,100.5\n"
    import_file(dataset=deals(), path=write(tmp_path, "v1.csv", text), by=None)
    more = "deal_id,closed_at,team,stage,amount,extra\nb,2026-01-11,north,won,7,x\n"
    run = import_file(
        dataset=deals(), path=write(tmp_path, "v2.csv", more), by=None, accept_schema_change=True
    )
    assert run.status == ImportStatus.SUCCEEDED, run.error
    assert run.schema_changes == ["new column 'extra' (VARCHAR)"]
    table = table_path(deals())
    before = sha256(table)
    # A Parquet file says its types: amount as BIGINT is a change of type, and
    # converting the table's 100.5 would lose it, even when the change is accepted.
    typed = tmp_path / "typed.parquet"
    connection = duckdb.connect(":memory:")
    connection.execute(
        "COPY (SELECT 'c' AS deal_id, TIMESTAMP '2026-01-12 00:00' AS closed_at, "
        "'north' AS team, 'won' AS stage, CAST(3 AS BIGINT) AS amount, 'y' AS extra) "
        f"TO {quote_literal(str(typed))} (FORMAT parquet)"
    )
    connection.close()

    lossy = import_file(dataset=deals(), path=typed, by=None, accept_schema_change=True)

    assert lossy.status == ImportStatus.FAILED
    assert "'100.5' would be lost" in lossy.error
    assert sha256(table) == before


def test_the_engine_computes_from_the_imported_table(org: Organisation, tmp_path: Path) -> None:
    import_file(dataset=deals(), path=write(tmp_path, "v1.csv", DEALS_V1), by=None)
    import_file(dataset=deals(), path=write(tmp_path, "v2.csv", DEALS_V2), by=None)
    (tmp_path / "deals.csv").unlink()  # the engine must not need the original file

    results_recompute(by=None, kpi_keys=("revenue",))

    revenue: dict[str, int] = {}
    for row in expected_deals(DEALS_V1, DEALS_V2).values():
        if row["stage"] == "won":
            month = row["closed_at"].strftime("%Y-%m")
            revenue[month] = revenue.get(month, 0) + row["amount"]
    stored = {
        result.period: result.value
        for result in Result.objects.filter(kpi__key="revenue", group_dimension="")
    }
    assert revenue == {"2026-01": 100, "2026-02": 60, "2026-03": 40}
    for month, value in revenue.items():
        assert stored[month] == Decimal(value)


def test_the_rejected_rows_csv_escapes_formula_cells(org: Organisation, tmp_path: Path) -> None:
    text = (
        "deal_id,closed_at,team,stage,amount\n"
        "a,2026-01-10,north,won,=1+2\n"
        "b,2026-01-11,north,won,@SUM(A1)\n"
        "c,2026-01-12,north,won,-abc\n"
        "d,2026-01-13,north,won,\tx\n"
        'e,2026-01-14,north,won," =2+3"\n'
    )
    run = import_file(dataset=deals(), path=write(tmp_path, "evil.csv", text), by=None)
    assert run.status == ImportStatus.FAILED

    rows = list(csv.reader(io.StringIO(rejected_rows_csv(run))))

    assert rows[0] == ["line", "column", "value", "reason"]
    assert [row[:3] for row in rows[1:]] == [
        ["2", "amount", "'=1+2"],
        ["3", "amount", "'@SUM(A1)"],
        ["4", "amount", "'-abc"],
        ["5", "amount", "'\tx"],
        ["6", "amount", "' =2+3"],
    ]
    for row in rows[1:]:
        assert not row[3].startswith(("=", "+", "-", "@", "\t", "\r"))


def test_times_with_offsets_are_stored_as_the_organisations_wall_time(
    org: Organisation, tmp_path: Path
) -> None:
    text = (
        "deal_id,closed_at,team,stage,amount\n"
        "a,2026-01-31T20:00:00Z,north,won,1\n"
        "b,2026-01-31 23:30,north,won,2\n"
    )
    run = import_file(dataset=deals(), path=write(tmp_path, "tz.csv", text), by=None)
    assert run.status == ImportStatus.SUCCEEDED, run.error
    rows = by_key(table_rows(table_path(deals())))
    assert rows["a"]["closed_at"] == datetime.datetime(2026, 2, 1, 4, 0)
    assert rows["b"]["closed_at"] == datetime.datetime(2026, 1, 31, 23, 30)


def test_xlsx_and_parquet_files_import_like_csv(org: Organisation, tmp_path: Path) -> None:
    import openpyxl

    workbook = openpyxl.Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append(["deal_id", "closed_at", "team", "stage", "amount"])
    sheet.append(["a", datetime.datetime(2026, 1, 10), "north", "won", 100])
    sheet.append(["b", datetime.datetime(2026, 2, 11), "south", "won", 50])
    sheet.append(["c", datetime.datetime(2026, 2, 12), "north", "lost", 70])
    workbook.save(tmp_path / "deals.xlsx")

    run = import_file(dataset=deals(), path=tmp_path / "deals.xlsx", by=None)

    assert run.status == ImportStatus.SUCCEEDED, run.error
    assert by_key(table_rows(table_path(deals()))) == expected_deals(DEALS_V1)
    copy = tmp_path / "copy.parquet"
    copy.write_bytes(table_path(deals()).read_bytes())
    again = import_file(dataset=deals(), path=copy, by=None)
    assert (again.status, again.added, again.updated) == (ImportStatus.SUCCEEDED, 0, 0)


def test_a_preview_shows_rows_schema_and_problems_and_writes_nothing(
    org: Organisation, tmp_path: Path
) -> None:
    text = DEALS_V1 + "d,someday,north,won,5\n"

    preview = preview_file(dataset=deals(), path=write(tmp_path, "p.csv", text), rows=2)

    assert [(c.name, c.type) for c in preview.columns][-1] == ("amount", "BIGINT")
    assert [row["deal_id"] for row in preview.rows] == ["a", "b"]
    assert preview.rows_in_file == 4
    assert preview.bad_rows == 1
    assert (preview.bad[0].line, preview.bad[0].column) == (5, "closed_at")
    assert not ImportRun.objects.exists()
    assert not table_path(deals()).exists()
    assert not AuditEntry.objects.filter(action__startswith="import.").exists()


def test_an_unreadable_file_fails_the_run_with_the_reason(
    org: Organisation, tmp_path: Path
) -> None:
    path = tmp_path / "big5.csv"
    path.write_bytes("deal_id,closed_at,team,stage,amount\na,2026-01-10,北,won,1\n".encode("big5"))

    run = import_file(dataset=deals(), path=path, by=None)

    assert run.status == ImportStatus.FAILED
    assert "not UTF-8" in run.error
    assert not table_path(deals()).exists()


def test_a_run_left_running_by_a_crash_is_marked_abandoned_by_the_next_import(
    org: Organisation, tmp_path: Path
) -> None:
    from django.utils import timezone

    stale = ImportRun.objects.create(
        dataset=deals(), started_at=timezone.now(), file_name="x.csv", sha256="0" * 64
    )

    import_file(dataset=deals(), path=write(tmp_path, "v1.csv", DEALS_V1), by=None)

    stale.refresh_from_db()
    assert stale.status == ImportStatus.ABANDONED
    assert stale.finished_at is not None
    assert AuditEntry.objects.filter(action="import.abandon", object_id=str(stale.pk)).exists()


def test_a_half_written_file_left_by_a_crash_is_removed_and_never_read(
    org: Organisation, tmp_path: Path
) -> None:
    import_file(dataset=deals(), path=write(tmp_path, "v1.csv", DEALS_V1), by=None)
    table = table_path(deals())
    leftover = table.with_name(f"{table.name}.tmp-999")
    leftover.write_bytes(b"PAR1 half a file")

    run = import_file(dataset=deals(), path=write(tmp_path, "v2.csv", DEALS_V2), by=None)

    assert run.status == ImportStatus.SUCCEEDED, run.error
    assert not leftover.exists()
    assert by_key(table_rows(table)) == expected_deals(DEALS_V1, DEALS_V2)
