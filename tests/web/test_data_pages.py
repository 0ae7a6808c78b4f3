"""The data pages: datasets, their imports and schema, and uploading a file to import."""

from __future__ import annotations

import csv
import datetime
import io
import os
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import translation

from headway.ingestion.models import ImportRun, ImportStatus
from headway.ingestion.services import import_file
from headway.kpis.models import Dataset
from headway.results.models import Result
from tests.web.conftest import Org, deal_rows, write_deals

# A month of deals unlike the workspace's: January has 4 of 4 won in north, 1 of 4 in south.
NEW_WON = {("2024-01", "north"): 4, ("2024-01", "south"): 1}


@pytest.fixture(autouse=True)
def _folders(settings: Any, tmp_path: Path) -> None:
    """Uploads and the warehouse in the test's own folder (set before `org` applies)."""
    settings.DATA_DIR = tmp_path / "data"
    settings.HEADWAY_WAREHOUSE_DIR = tmp_path / "data" / "warehouse"


def csv_bytes(rows: list[dict[str, str]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.DictWriter(
        buffer, fieldnames=["deal_id", "closed_at", "team", "stage", "amount"], lineterminator="\n"
    )
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue().encode("utf-8")


def uploads(settings: Any) -> list[Path]:
    folder = Path(settings.DATA_DIR) / "uploads"
    return sorted(folder.iterdir()) if folder.exists() else []


def import_as(org: Org, person: Any, name: str, rows: list[dict[str, str]]) -> ImportRun:
    path = org.folder / name
    write_deals(path, rows)
    return import_file(dataset=Dataset.objects.get(key="deals"), path=path, by=person)


def upload(client: Any, name: str, content: bytes) -> Any:
    return client.post("/data/deals/import/", {"file": SimpleUploadedFile(name, content)})


def test_the_data_page_lists_each_dataset_with_its_last_import(org: Org) -> None:
    import_as(org, org.ada, "deals-jan.csv", deal_rows(NEW_WON))
    html = org.client(org.vic).get("/data/").content.decode()
    assert "<code>deals</code>" in html
    assert "<code>deal_id</code>" in html
    assert "<code>closed_at</code>" in html
    assert "<code>team</code>" in html
    assert '<td class="num">8</td>' in html
    assert "by Ada Admin, from upload" in html
    assert "Succeeded" in html
    assert "Import a file" not in html


def test_admins_and_managers_are_offered_an_import_on_the_data_page(org: Org) -> None:
    for person in (org.ada, org.nora, org.sam):
        assert "Import a file" in org.client(person).get("/data/").content.decode()


def test_the_data_page_takes_the_same_queries_however_many_imports(org: Org) -> None:
    client = org.client(org.vic)
    import_as(org, org.ada, "one.csv", deal_rows(NEW_WON))
    client.get("/data/")
    with CaptureQueriesContext(connection) as once:
        client.get("/data/")
    for number in range(3):
        import_as(org, org.ada, f"more-{number}.csv", deal_rows(NEW_WON, start=100 * number))
    with CaptureQueriesContext(connection) as many:
        client.get("/data/")
    assert len(many) == len(once)


def test_the_dataset_page_shows_its_imports_and_schema(org: Org) -> None:
    import_as(org, org.ada, "deals-jan.csv", deal_rows(NEW_WON))
    html = org.client(org.mo).get("/data/deals/").content.decode()
    assert "deals-jan.csv" in html
    assert "Ada Admin" in html
    assert '<td class="num">8</td>' in html  # added
    assert "Succeeded" in html
    assert "<code>amount</code></td><td><code>DOUBLE</code>" in html
    assert "Import a file" not in html


def test_an_unknown_dataset_is_not_found(org: Org) -> None:
    assert org.client(org.vic).get("/data/nothing/").status_code == 404


@pytest.mark.parametrize("name", ["mo", "vic"])
def test_members_and_viewers_may_not_upload(org: Org, name: str, settings: Any) -> None:
    client = org.client(getattr(org, name))
    assert client.get("/data/deals/import/").status_code == 403
    content = csv_bytes(deal_rows(NEW_WON))
    response = client.post("/data/deals/import/", {"file": SimpleUploadedFile("d.csv", content)})
    assert response.status_code == 403
    assert client.post("/data/deals/import/0123abcd/", {"import": "1"}).status_code == 403
    assert uploads(settings) == []


def test_signed_out_people_are_sent_to_sign_in(org: Org) -> None:
    response = org.client(None).get("/data/")
    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]


def january_win_rate(rows: list[dict[str, str]]) -> Decimal:
    """The total win rate of January 2024, computed by hand from the rows."""
    january = [row for row in rows if row["closed_at"].startswith("2024-01")]
    won = sum(1 for row in january if row["stage"] == "won")
    return Decimal(won) / Decimal(len(january))


def win_rate_in_january() -> Decimal | None:
    result = Result.objects.get(
        kpi__key="win_rate", period_start=datetime.date(2024, 1, 1), group_value=""
    )
    return result.value


def test_a_manager_uploads_previews_and_imports_a_csv_and_the_kpis_follow(
    org: Org, settings: Any
) -> None:
    before = win_rate_in_january()
    rows = deal_rows(NEW_WON)
    client = org.client(org.nora)
    response = upload(client, "January deals.csv", csv_bytes(rows))
    assert response.status_code == 302
    [saved] = uploads(settings)
    assert saved.suffix == ".csv"
    assert "January" not in saved.name

    preview = client.get(response["Location"]).content.decode()
    assert "January deals.csv" in preview
    assert "No problems found" in preview
    assert "D00001" in preview
    assert "<code>closed_at</code></td><td><code>TIMESTAMP</code>" in preview
    assert "Accept these schema changes" not in preview

    done = client.post(response["Location"], {"import": "1"}, follow=True)
    html = done.content.decode()
    assert "8 rows added, 0 updated, 0 unchanged" in html
    assert uploads(settings) == []
    run = ImportRun.objects.get()
    assert (run.status, run.added, run.by) == (ImportStatus.SUCCEEDED, 8, org.nora)
    # The history names the file as the person knew it, not its stored name.
    assert run.file_name == "January deals.csv"
    assert f'id="import-{run.pk}"' in html
    assert "Nora North" in html

    expected = january_win_rate(rows)
    assert expected == Decimal("0.625") != before
    assert win_rate_in_january() == expected


def test_importing_the_same_file_again_changes_nothing(org: Org, settings: Any) -> None:
    content = csv_bytes(deal_rows(NEW_WON))
    client = org.client(org.ada)
    for _ in range(2):
        response = upload(client, "deals.csv", content)
        done = client.post(response["Location"], {"import": "1"}, follow=True)
    assert "0 rows added, 0 updated, 8 unchanged" in done.content.decode()


def test_a_file_with_bad_rows_fails_with_the_rows_listed_and_a_safe_download(
    org: Org, settings: Any
) -> None:
    rows = deal_rows(NEW_WON)
    rows[2]["amount"] = "=cmd()"
    client = org.client(org.sam)
    response = upload(client, "bad.csv", csv_bytes(rows))
    preview = client.get(response["Location"]).content.decode()
    assert "1 row is bad" in preview
    assert "<code>=cmd()</code>" in preview

    html = client.post(response["Location"], {"import": "1"}, follow=True).content.decode()
    run = ImportRun.objects.get()
    assert run.status == ImportStatus.FAILED
    assert "failed and changed nothing" in html
    assert f'id="rejects-{run.pk}"' in html
    assert '<td class="num">4</td>' in html  # line 4: the header, then the third row
    assert "<code>=cmd()</code>" in html
    assert uploads(settings) == []

    download = client.get(f"/data/deals/imports/{run.pk}/rejected.csv")
    assert download.status_code == 200
    assert download["Content-Disposition"].startswith("attachment;")
    assert download["Content-Type"].startswith("text/csv")
    lines = list(csv.reader(io.StringIO(download.content.decode())))
    assert lines[0] == ["line", "column", "value", "reason"]
    assert lines[1][:3] == ["4", "amount", "'=cmd()"]


def test_a_schema_change_is_imported_only_when_accepted(org: Org, settings: Any) -> None:
    import_as(org, org.ada, "first.csv", deal_rows(NEW_WON))
    rows = [dict(row, region="asia") for row in deal_rows(NEW_WON)]
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    client = org.client(org.ada)

    response = upload(client, "wider.csv", buffer.getvalue().encode())
    preview = client.get(response["Location"]).content.decode()
    assert "Accept these schema changes" in preview
    assert "new column &#x27;region&#x27;" in preview
    client.post(response["Location"], {"import": "1"})
    assert ImportRun.objects.order_by("-pk")[0].status == ImportStatus.FAILED

    response = upload(client, "wider.csv", buffer.getvalue().encode())
    client.post(response["Location"], {"import": "1", "accept_schema_change": "on"})
    run = ImportRun.objects.order_by("-pk")[0]
    assert (run.status, run.updated) == (ImportStatus.SUCCEEDED, 8)


def test_cancelling_deletes_the_uploaded_file(org: Org, settings: Any) -> None:
    client = org.client(org.nora)
    response = upload(client, "deals.csv", csv_bytes(deal_rows(NEW_WON)))
    assert len(uploads(settings)) == 1
    cancelled = client.post(response["Location"], {"cancel": "1"}, follow=True)
    assert "was cancelled" in cancelled.content.decode()
    assert uploads(settings) == []
    assert ImportRun.objects.count() == 0
    assert client.get(response["Location"]).status_code == 404


def test_an_upload_belongs_to_the_session_that_made_it(org: Org, settings: Any) -> None:
    response = upload(org.client(org.nora), "deals.csv", csv_bytes(deal_rows(NEW_WON)))
    assert org.client(org.ada).get(response["Location"]).status_code == 404
    assert org.client(org.ada).post(response["Location"], {"import": "1"}).status_code == 404
    assert ImportRun.objects.count() == 0


def test_an_oversized_file_is_stopped_as_it_arrives_and_refused(org: Org, settings: Any) -> None:
    settings.HEADWAY_UPLOAD_MAX_BYTES = 100
    response = upload(org.client(org.nora), "deals.csv", csv_bytes(deal_rows(NEW_WON)))
    assert response.status_code == 200
    assert "The file is larger than 100\xa0bytes" in response.content.decode()
    assert "This field is required" not in response.content.decode()
    assert uploads(settings) == []


@pytest.mark.parametrize("name", ["deals.txt", "deals.csv.exe", "deals"])
def test_a_file_named_other_than_csv_xlsx_or_parquet_is_refused(
    org: Org, settings: Any, name: str
) -> None:
    response = upload(org.client(org.nora), name, csv_bytes(deal_rows(NEW_WON)))
    assert response.status_code == 200
    assert "ends in .csv, .xlsx or .parquet" in response.content.decode()
    assert uploads(settings) == []


ENGLISH = ["Data", "Key column", "Time column", "Dimensions", "Import a file"]


def test_the_data_page_is_in_the_chosen_language(org: Org) -> None:
    english = org.client(org.ada).get("/data/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    chinese = org.client(org.ada).get("/data/", HTTP_ACCEPT_LANGUAGE="zh-hant").content.decode()
    assert '<html lang="zh-hant">' in chinese
    for text in ENGLISH:
        assert text in english
        with translation.override("zh-hant"):
            assert translation.gettext(text) in chinese


def test_an_upload_left_for_a_day_is_removed_by_the_next_upload(org: Org, settings: Any) -> None:
    folder = Path(settings.DATA_DIR) / "uploads"
    folder.mkdir(parents=True)
    stale = folder / "0123456789abcdef0123456789abcdef.csv"
    stale.write_text("deal_id\n", encoding="utf-8")
    two_days_ago = time.time() - 2 * 24 * 60 * 60
    os.utime(stale, (two_days_ago, two_days_ago))
    upload(org.client(org.nora), "deals.csv", csv_bytes(deal_rows(NEW_WON)))
    assert not stale.exists()
    assert len(uploads(settings)) == 1
