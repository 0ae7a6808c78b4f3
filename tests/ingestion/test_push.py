"""Pushing rows: a file import's guarantees for a batch of JSON rows."""

from __future__ import annotations

import csv
import datetime
import io
from decimal import Decimal
from typing import Any

import pytest

from headway.audit.errors import NotAllowed
from headway.audit.models import AuditEntry
from headway.engine.problems import HeadwayError
from headway.ingestion.models import ImportRun, ImportStatus
from headway.ingestion.push import BatchTooLarge, push_problems, push_rows
from headway.ingestion.services import import_file, table_path
from headway.kpis.models import Dataset
from headway.results.models import Result
from headway.results.services import results_recompute
from tests.app.conftest import Organisation
from tests.ingestion.conftest import DEALS_V1, expected_deals, table_rows, write

pytestmark = pytest.mark.django_db


def deals() -> Dataset:
    return Dataset.objects.get(key="deals")


def rows_of(text: str) -> list[dict[str, object]]:
    """A CSV text's rows as a client would push them: amounts as JSON numbers."""
    return [
        {**record, "amount": int(record["amount"])} for record in csv.DictReader(io.StringIO(text))
    ]


def by_key(rows: list[dict[str, Any]]) -> dict[object, dict[str, Any]]:
    return {row["deal_id"]: row for row in rows}


def test_pushed_rows_are_stored_as_the_same_rows_imported_from_a_file(
    org: Organisation,
) -> None:
    run = push_rows(dataset=deals(), rows=rows_of(DEALS_V1), by=org.manager)

    assert run.status == ImportStatus.SUCCEEDED, run.error
    assert (run.source, run.rows_in_file, run.added, run.by) == ("api", 3, 3, org.manager)
    assert by_key(table_rows(table_path(deals()))) == expected_deals(DEALS_V1)
    actions = set(AuditEntry.objects.values_list("action", flat=True))
    assert {"import.start", "import.finish"} <= actions


def test_a_push_after_a_file_import_of_the_same_rows_changes_nothing(
    org: Organisation, tmp_path: Any
) -> None:
    import_file(dataset=deals(), path=write(tmp_path, "deals.csv", DEALS_V1), by=org.admin)
    before = table_path(deals()).read_bytes()

    run = push_rows(dataset=deals(), rows=rows_of(DEALS_V1), by=org.admin)

    assert (run.status, run.added, run.updated, run.unchanged) == ("succeeded", 0, 0, 3)
    assert table_path(deals()).read_bytes() == before


def test_every_bad_value_is_reported_with_its_row_from_zero(org: Organisation) -> None:
    push_rows(dataset=deals(), rows=rows_of(DEALS_V1), by=org.admin)
    rows = rows_of(DEALS_V1)
    rows[0]["amount"] = "ten"
    rows[2]["closed_at"] = "2026-02-30"
    rows.append({**rows[1]})

    run = push_rows(dataset=deals(), rows=rows, by=org.admin)

    assert run.status == ImportStatus.FAILED
    assert [(problem.row, problem.field) for problem in push_problems(run)] == [
        (0, "amount"),
        (2, "closed_at"),
        (3, "deal_id"),
    ]
    assert push_problems(run)[2].message == "duplicate key 'b': also in row 1"
    assert [reject.line for reject in run.rejects.all()] == [1, 3, 4]
    assert by_key(table_rows(table_path(deals()))) == expected_deals(DEALS_V1)


def test_null_is_empty_and_an_empty_string_is_text(org: Organisation) -> None:
    rows = rows_of(DEALS_V1)
    rows[0]["stage"] = None
    rows[1]["stage"] = ""

    run = push_rows(dataset=deals(), rows=rows, by=None)

    assert run.status == ImportStatus.SUCCEEDED, run.error
    stored = by_key(table_rows(table_path(deals())))
    assert (stored["a"]["stage"], stored["b"]["stage"]) == (None, "")


def test_the_first_push_needs_the_key_column_on_every_row(org: Organisation) -> None:
    rows = rows_of(DEALS_V1)
    del rows[1]["deal_id"]

    run = push_rows(dataset=deals(), rows=rows, by=org.admin)

    assert run.status == ImportStatus.FAILED
    assert [(p.row, p.field, p.message) for p in push_problems(run)] == [
        (1, "deal_id", "the key is missing")
    ]
    assert not table_path(deals()).exists()


def test_members_and_viewers_may_not_push(org: Organisation) -> None:
    for person in (org.member, org.viewer):
        with pytest.raises(NotAllowed):
            push_rows(dataset=deals(), rows=rows_of(DEALS_V1), by=person)
    assert not ImportRun.objects.exists()


def test_batches_over_the_limits_and_empty_batches_are_refused(
    org: Organisation, settings: Any
) -> None:
    settings.HEADWAY_PUSH_MAX_ROWS = 2
    with pytest.raises(BatchTooLarge, match="at most 2"):
        push_rows(dataset=deals(), rows=rows_of(DEALS_V1), by=org.admin)
    with pytest.raises(HeadwayError, match="no rows"):
        push_rows(dataset=deals(), rows=[], by=org.admin)
    assert not ImportRun.objects.exists()


def test_results_are_computed_from_pushed_rows(org: Organisation) -> None:
    rows = rows_of(DEALS_V1)
    push_rows(dataset=deals(), rows=rows, by=org.admin)

    results_recompute(by=None)

    # Revenue is the sum of won deals' amounts; compute February's in plain Python.
    february = sum(
        int(str(row["amount"]))
        for row in rows
        if row["stage"] == "won" and str(row["closed_at"]).startswith("2026-02")
    )
    found = Result.objects.filter(
        measures__has_key="revenue",
        period_start=datetime.date(2026, 2, 1),
        group_dimension="",
    ).first()
    assert found is not None
    assert Decimal(str(found.measures["revenue"])) == february
