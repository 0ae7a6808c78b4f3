"""Syncs from sources: a file import's guarantees, a cursor, a schedule, a worker."""

from __future__ import annotations

import datetime
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, ClassVar

import pytest
from django.core import mail
from django.utils import timezone

from headway.audit.errors import NotAllowed
from headway.audit.models import AuditEntry
from headway.ingestion import sources
from headway.ingestion.freshness import dataset_freshness, notify_stale, stale_kpis
from headway.ingestion.models import ImportRun, ImportStatus, Source
from headway.ingestion.services import import_file, table_path
from headway.ingestion.sources.base import (
    FetchContext,
    KindConfig,
    RowSink,
    SourceError,
    SourceKind,
)
from headway.ingestion.syncs import (
    REFRESH_JOB,
    SYNC_JOB,
    schedule_due_syncs,
    source_create,
    source_sync,
    source_sync_request,
    source_update,
)
from headway.jobs.models import Job, JobStatus
from headway.jobs.worker import Worker
from headway.kpis.models import Dataset
from headway.lib.http import SafeHttpClient
from headway.results.models import Result
from headway.results.services import results_recompute, results_refresh_dataset
from tests.app.conftest import Organisation
from tests.conftest import MailServer
from tests.ingestion.conftest import DEALS_V1, DEALS_V2, table_rows, write

pytestmark = pytest.mark.django_db

DEALS = [
    {
        "deal_id": "a",
        "closed_at": "2026-01-10",
        "team": "north",
        "stage": "won",
        "amount": 100,
        "updated": 1,
    },
    {
        "deal_id": "b",
        "closed_at": "2026-02-11",
        "team": "south",
        "stage": "won",
        "amount": 50,
        "updated": 2,
    },
    {
        "deal_id": "c",
        "closed_at": "2026-02-12",
        "team": "north",
        "stage": "lost",
        "amount": 70,
        "updated": 3,
    },
]


class RowsConfig(KindConfig):
    rows: list[dict[str, Any]]


class TokenSecrets(KindConfig):
    token: str


class ListedRows(SourceKind):
    """A source of the rows in its configuration, newer than the cursor by `updated`."""

    name: ClassVar[str] = "test-rows"
    label: ClassVar[str] = "Rows for tests"
    description: ClassVar[str] = "The rows of its configuration."
    config_model = RowsConfig
    secrets_model = TokenSecrets
    incremental = True

    def fetch(
        self,
        config: Mapping[str, Any],
        secrets: Mapping[str, Any],
        cursor: str | None,
        sink: RowSink,
        context: FetchContext,
    ) -> str | None:
        if secrets.get("token") != "good":
            raise SourceError(f"{context.source_name}: the test system refused the token")
        newest = int(cursor) if cursor else 0
        for row in config["rows"]:
            if row["updated"] > (int(cursor) if cursor else 0):
                sink.write({key: value for key, value in row.items() if key != "updated"})
                newest = max(newest, row["updated"])
        return str(newest) if newest else cursor


@pytest.fixture(autouse=True)
def test_kind() -> Iterator[None]:
    sources.KINDS["test-rows"] = ListedRows()
    yield
    sources.KINDS.pop("test-rows", None)


def context() -> FetchContext:
    return FetchContext(http=SafeHttpClient(), source_name="Test CRM", sleep=lambda seconds: None)


def deals() -> Dataset:
    return Dataset.objects.get(key="deals")


def make_source(
    org: Organisation, rows: list[dict[str, Any]] = DEALS, token: str = "good"
) -> Source:
    return source_create(
        dataset=deals(),
        kind="test-rows",
        name="Test CRM",
        config={"rows": rows},
        secrets={"token": token},
        every_minutes=60,
        by=org.admin,
    )


def test_only_admins_set_up_sources(org: Organisation) -> None:
    with pytest.raises(NotAllowed):
        source_create(
            dataset=deals(),
            kind="test-rows",
            name="x",
            config={"rows": []},
            secrets={"token": "good"},
            every_minutes=None,
            by=org.manager,
        )


def test_a_configuration_with_a_wrong_field_is_refused_naming_it(org: Organisation) -> None:
    from headway.engine.problems import HeadwayError

    with pytest.raises(HeadwayError, match="rows"):
        source_create(
            dataset=deals(),
            kind="test-rows",
            name="x",
            config={"rowz": []},
            secrets={"token": "good"},
            every_minutes=None,
            by=org.admin,
        )


def test_credentials_are_stored_encrypted_and_never_written_to_the_audit_log(
    org: Organisation,
) -> None:
    source = make_source(org, token="good-and-secret-token")

    stored = Source.objects.get(pk=source.pk).secrets
    assert stored
    assert "good-and-secret-token" not in stored
    logged = " ".join(str(entry.after) + str(entry.before) for entry in AuditEntry.objects.all())
    assert "good-and-secret-token" not in logged
    assert AuditEntry.objects.filter(action="source.create").count() == 1


def test_a_sync_imports_the_rows_and_keeps_the_cursor(org: Organisation) -> None:
    source = make_source(org)

    synced = source_sync(source=source, by=None, context=context())

    run = synced.run
    assert run.status == ImportStatus.SUCCEEDED, run.error
    assert (run.source, run.rows_in_file, run.added) == ("test-rows", 3, 3)
    assert [row["deal_id"] for row in table_rows(table_path(deals()))] == ["a", "b", "c"]
    source.refresh_from_db()
    assert (source.cursor, source.last_error) == ("3", "")
    assert source.last_success_at is not None
    refresh = Job.objects.get(kind=REFRESH_JOB)
    assert refresh.payload == {"dataset": "deals", "import_run": run.pk}
    # A first import touches everything: no range, a full recompute.
    assert run.touched_from is None


def test_the_next_sync_brings_only_what_changed_and_upserts_it(org: Organisation) -> None:
    source = make_source(org)
    source_sync(source=source, by=None, context=context())
    changed = [
        *DEALS,
        {**DEALS[1], "amount": 60, "updated": 4},
        {
            "deal_id": "d",
            "closed_at": "2026-03-01",
            "team": "north",
            "stage": "won",
            "amount": 40,
            "updated": 5,
        },
    ]
    source = source_update(
        source=source,
        version=source.version,
        by=org.admin,
        name=source.name,
        config={"rows": changed},
        every_minutes=60,
        is_active=True,
    )
    # A changed configuration starts over; put the cursor back as a sync would have.
    Source.objects.filter(pk=source.pk).update(cursor="3")

    run = source_sync(source=source, by=None, context=context()).run

    assert (run.status, run.rows_in_file, run.added, run.updated) == (
        ImportStatus.SUCCEEDED,
        2,
        1,
        1,
    )
    rows = {row["deal_id"]: row for row in table_rows(table_path(deals()))}
    assert sorted(rows) == ["a", "b", "c", "d"]
    assert float(rows["b"]["amount"]) == 60
    # A date column: its day, at midnight UTC (the recompute allows a day either side).
    assert run.touched_from == datetime.datetime(2026, 2, 11, tzinfo=datetime.UTC)
    source.refresh_from_db()
    assert source.cursor == "5"


def test_a_sync_with_nothing_new_succeeds_and_leaves_the_cursor(org: Organisation) -> None:
    source = make_source(org)
    source_sync(source=source, by=None, context=context())
    table = table_path(deals()).read_bytes()

    run = source_sync(source=source, by=None, context=context()).run

    assert (run.status, run.rows_in_file, run.added) == (ImportStatus.SUCCEEDED, 0, 0)
    assert table_path(deals()).read_bytes() == table
    source.refresh_from_db()
    assert source.cursor == "3"


def test_refused_credentials_fail_the_sync_naming_the_source_and_change_nothing(
    org: Organisation, tmp_path: Path
) -> None:
    import_file(dataset=deals(), path=write(tmp_path, "deals.csv", DEALS_V1), by=org.admin)
    before = table_path(deals()).read_bytes()
    source = make_source(org, token="expired")

    synced = source_sync(source=source, by=None, context=context())

    assert synced.run.status == ImportStatus.FAILED
    assert synced.run.error == "Test CRM: the test system refused the token"
    assert synced.retry is False
    assert table_path(deals()).read_bytes() == before
    source.refresh_from_db()
    assert (source.cursor, source.last_error) == ("", "Test CRM: the test system refused the token")
    assert not Job.objects.filter(kind=REFRESH_JOB).exists()


def test_a_new_column_waits_for_an_admin_to_accept_it(org: Organisation) -> None:
    source = make_source(org, rows=[{**row, "region": "tw"} for row in DEALS])
    import_file(dataset=deals(), path=write(org.folder, "v1.csv", DEALS_V1), by=org.admin)

    held = source_sync(source=source, by=None, context=context()).run
    assert held.status == ImportStatus.FAILED
    assert "region" in held.error

    with pytest.raises(NotAllowed):
        source_sync_request(source=source, by=org.manager, accept_schema_change=True)
    assert source_sync_request(source=source, by=org.admin, accept_schema_change=True) is not None
    accepted = source_sync(source=source, by=org.admin, context=context()).run

    assert accepted.status == ImportStatus.SUCCEEDED, accepted.error
    assert "region" in table_rows(table_path(deals()))[0]
    source.refresh_from_db()
    assert source.accept_schema_change is False


def test_a_sync_is_queued_once_when_its_time_comes(org: Organisation) -> None:
    source = make_source(org)
    now = timezone.now() + datetime.timedelta(seconds=1)

    assert schedule_due_syncs(now) == 1
    assert schedule_due_syncs(now) == 0
    source.refresh_from_db()
    assert source.next_sync_at == now + datetime.timedelta(minutes=60)
    assert Job.objects.filter(kind=SYNC_JOB, status=JobStatus.QUEUED).count() == 1


def results_of(keys: tuple[str, ...]) -> set[tuple[Any, ...]]:
    return set(
        Result.objects.filter(kpi__key__in=keys).values_list(
            "kpi__key", "period", "group_dimension", "group_value", "value", "target", "status"
        )
    )


def test_the_worker_syncs_then_recomputes_the_kpis_the_new_rows_touch(
    org: Organisation, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("headway.ingestion.syncs.fetch_context", lambda source: context())
    results_recompute(by=None)
    make_source(org)
    schedule_due_syncs(timezone.now() + datetime.timedelta(seconds=1))

    Worker(name="test", schedule_seconds=3600).run(until_idle=True)

    assert set(Job.objects.values_list("kind", "status")) == {
        (SYNC_JOB, JobStatus.SUCCEEDED),
        (REFRESH_JOB, JobStatus.SUCCEEDED),
    }
    synced = results_of(("conversion", "revenue"))
    results_recompute(by=None)
    assert synced == results_of(("conversion", "revenue"))


def test_recomputing_from_the_touched_period_gives_the_results_of_a_full_recompute(
    org: Organisation, tmp_path: Path
) -> None:
    import_file(dataset=deals(), path=write(tmp_path, "v1.csv", DEALS_V1), by=org.admin)
    results_recompute(by=None)
    run = import_file(dataset=deals(), path=write(tmp_path, "v2.csv", DEALS_V2), by=org.admin)
    january = set(Result.objects.filter(period="2026-01").values_list("pk", flat=True))

    assert run.touched_from is not None
    assert (
        results_refresh_dataset(dataset_key="deals", by=None, touched_from=run.touched_from) == []
    )

    partial = results_of(("conversion", "revenue"))
    # Periods before the change were left alone (same rows, same ids).
    assert set(Result.objects.filter(period="2026-01").values_list("pk", flat=True)) == january
    results_recompute(by=None)
    assert partial == results_of(("conversion", "revenue"))


def test_a_dataset_older_than_its_limit_makes_its_kpis_stale_and_tells_their_owners_once(
    org: Organisation, tmp_path: Path
) -> None:
    import_file(dataset=deals(), path=write(tmp_path, "v1.csv", DEALS_V1), by=org.admin)
    Dataset.objects.filter(key="deals").update(freshness_hours=24)
    ImportRun.objects.update(finished_at=timezone.now() - datetime.timedelta(days=9))

    freshness = dataset_freshness()["deals"]
    assert (freshness.stale, freshness.age_days, freshness.source) == (True, 9, "upload (v1.csv)")
    assert set(stale_kpis()) == {"conversion", "revenue"}
    assert notify_stale() == 1
    assert notify_stale() == 0

    told = sorted(address for message in mail.outbox for address in message.to)
    assert told == ["nora@example.com", "sam@example.com"]
    assert "9" in mail.outbox[0].body
    assert AuditEntry.objects.filter(action="dataset.stale").count() == 1


def test_fresh_data_and_datasets_without_a_limit_are_never_stale(
    org: Organisation, tmp_path: Path
) -> None:
    import_file(dataset=deals(), path=write(tmp_path, "v1.csv", DEALS_V1), by=org.admin)

    assert stale_kpis() == {}
    Dataset.objects.filter(key="deals").update(freshness_hours=24)
    assert stale_kpis() == {}
    assert notify_stale() == 0


def test_the_stale_data_notice_goes_out_over_smtp_in_each_owners_language(
    org: Organisation, tmp_path: Path, smtp_server: MailServer
) -> None:
    import_file(dataset=deals(), path=write(tmp_path, "v1.csv", DEALS_V1), by=org.admin)
    Dataset.objects.filter(key="deals").update(freshness_hours=24)
    ImportRun.objects.update(finished_at=timezone.now() - datetime.timedelta(days=9))
    org.manager.language = "zh-hant"
    org.manager.save()

    assert notify_stale() == 1

    by_address = {message["To"]: message for message in smtp_server.messages}
    assert sorted(by_address) == ["nora@example.com", "sam@example.com"]
    chinese = by_address["nora@example.com"]
    assert chinese["Subject"] == "Headway：deals 的資料已過期"
    assert "Conversion (conversion)" in chinese.get_content()
    assert "9 天" in chinese.get_content()
    assert "is stale" in by_address["sam@example.com"]["Subject"]
