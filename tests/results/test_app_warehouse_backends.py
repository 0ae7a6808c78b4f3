"""The application on the PostgreSQL and Spark warehouses (docs/warehouse.md): on the
bundled tea-shop example, every Result a recompute stores, the incremental refresh after an
import, the formula preview and "my share" are those of the embedded DuckDB, and a warehouse
that cannot be reached is a message naming its host, on the pages as in the services.

DuckDB's numbers are checked against the example's CSV files directly (the conversion rate
per month, a salesperson's leads), so the comparison is against numbers known to be right.
PostgreSQL is the machine's server (HEADWAY_TEST_POSTGRES_URL), in a schema of this run
that is dropped afterwards; the app database is whichever the run uses (SQLite, or
PostgreSQL with DATABASE_URL). Spark runs in local mode and is marked slow.
"""

from __future__ import annotations

import csv
import datetime
import math
import os
import shutil
import uuid
from collections import Counter
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client, override_settings

from headway.accounts.models import User
from headway.engine.compute import ComputeRequest, Engine
from headway.engine.problems import HeadwayError
from headway.engine.workspace import load_workspace
from headway.ingestion.models import ImportRun, ImportStatus
from headway.ingestion.services import import_file, table_path
from headway.kpis.models import Dataset, Kpi
from headway.kpis.workspace_io import apply_plan, plan_apply
from headway.participation.contribution import my_contribution
from headway.results.drafts import draft_values
from headway.results.models import Result
from headway.results.services import results_recompute, results_refresh_dataset
from tests.conftest import REPOSITORY

EXAMPLE = REPOSITORY / "examples" / "tea-shop"
TAIPEI = ZoneInfo("Asia/Taipei")
POSTGRES_URL = os.environ.get(
    "HEADWAY_TEST_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/test"
)
SPARK_URL = "spark://local[2]"
# Nothing listens on port 1 of this machine: the connection is refused at once.
UNREACHABLE = "postgresql://postgres:s3cret-word@127.0.0.1:1/test?schema=headway_warehouse"
TODAY = datetime.date(2026, 11, 26)
ADMIN = "david@tea-shop.example"

Key = tuple[str, str, str, str]  # kpi, period, dimension, group
Stored = tuple[Any, ...]  # value, target, attainment, status, measures


def _conninfo() -> str:
    return POSTGRES_URL.replace("postgres://", "postgresql://", 1).split("?")[0]


def _schema_url(schema: str) -> str:
    separator = "&" if "?" in POSTGRES_URL else "?"
    return f"{POSTGRES_URL}{separator}schema={schema}"


@pytest.fixture(scope="module")
def postgres_schema() -> Iterator[str]:
    """A warehouse schema of this run alone, dropped afterwards."""
    import psycopg

    schema = f"h8_app_{uuid.uuid4().hex[:12]}"
    try:
        yield schema
    finally:
        with psycopg.connect(_conninfo(), autocommit=True) as connection:
            connection.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@pytest.fixture
def postgres_warehouse(postgres_schema: str) -> str:
    return _schema_url(postgres_schema)


@pytest.fixture
def tea_shop(db: None, tmp_path: Path, settings: Any) -> Path:
    """The demo's organisation applied from a copy of examples/tea-shop (so that imports
    and file times are this test's own), on the embedded DuckDB."""
    settings.DATA_DIR = tmp_path
    settings.HEADWAY_WAREHOUSE_DIR = tmp_path / "warehouse"
    settings.HEADWAY_WAREHOUSE_URL = ""
    shutil.copytree(EXAMPLE / "data", tmp_path / "data")
    shutil.copy(EXAMPLE / "headway.yaml", tmp_path / "headway.yaml")
    apply_plan(plan_apply(load_workspace(tmp_path / "headway.yaml")), by=None)
    return tmp_path


def stored() -> dict[Key, Stored]:
    return {
        (row[0], row[1], row[2], row[3]): row[4:]
        for row in Result.objects.values_list(
            "kpi__key",
            "period",
            "group_dimension",
            "group_value",
            "value",
            "target",
            "attainment",
            "status",
            "measures",
        )
    }


def close(left: Any, right: Any) -> bool:
    """Equal, or numbers within 1e-9 relative: a float summed in another order may differ
    in its last bits, which can move the tenth decimal the app stores."""
    if isinstance(left, dict) and isinstance(right, dict):
        return left.keys() == right.keys() and all(close(left[k], right[k]) for k in left)
    if left == right:
        return True
    numbers = (int, float, Decimal)
    if isinstance(left, numbers) and isinstance(right, numbers):
        if isinstance(left, bool) or isinstance(right, bool):
            return False
        return math.isclose(float(left), float(right), rel_tol=1e-9, abs_tol=1e-10)
    return False


def assert_same_results(expected: dict[Key, Stored], got: dict[Key, Stored], where: str) -> None:
    assert expected, "DuckDB stored no results"
    missing = sorted(set(expected) - set(got))[:5]
    extra = sorted(set(got) - set(expected))[:5]
    assert not missing, f"{where}: missing {missing}"
    assert not extra, f"{where}: more than DuckDB's: {extra}"
    fields = ("value", "target", "attainment", "status", "measures")
    for key, want in expected.items():
        for name, left, right in zip(fields, want, got[key], strict=True):
            assert close(left, right), f"{where} {key} {name}: {right!r}, DuckDB {left!r}"


def month_of(text: str) -> str:
    """The Taipei month of a time in the data (with an offset, or already local)."""
    moment = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is not None:
        moment = moment.astimezone(TAIPEI)
    return moment.strftime("%Y-%m")


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as file:
        return list(csv.DictReader(file))


def conversion_by_month(data: Path) -> dict[str, float]:
    """Won deals (by the month they closed) over leads (by the month they came in), read
    straight from the CSV files."""
    leads = Counter(month_of(row["created_at"]) for row in read_csv(data / "leads.csv"))
    won = Counter(
        month_of(row["closed_at"]) for row in read_csv(data / "deals.csv") if row["stage"] == "won"
    )
    return {month: won[month] / count for month, count in sorted(leads.items())}


def loaded_tables(schema: str) -> dict[str, int]:
    """What the PostgreSQL warehouse holds: dataset name to the rows copied for it."""
    import psycopg

    with psycopg.connect(_conninfo(), autocommit=True) as connection:
        rows = connection.execute(
            f'SELECT dataset, row_count FROM "{schema}".headway_loaded'
        ).fetchall()
    return {dataset: count for dataset, count in rows}


def recompute_on(url: str | None) -> dict[Key, Stored]:
    with override_settings(HEADWAY_WAREHOUSE_URL=url or ""):
        results_recompute(by=None)
    return stored()


def test_duckdb_stores_the_conversion_rate_the_csv_files_give(tea_shop: Path) -> None:
    results = recompute_on(None)
    expected = conversion_by_month(tea_shop / "data")
    assert len(expected) >= 12
    for month, rate in expected.items():
        value = results[("conversion_rate", month, "", "")][0]
        assert math.isclose(value, rate, rel_tol=1e-9), month


def test_the_postgres_warehouse_stores_every_result_duckdb_stores(
    tea_shop: Path, postgres_warehouse: str, postgres_schema: str
) -> None:
    expected = recompute_on(None)
    got = recompute_on(postgres_warehouse)
    assert_same_results(expected, got, "PostgreSQL")
    # It ran there: every dataset of the example was copied into the schema, row for row.
    copied = loaded_tables(postgres_schema)
    for name in ("leads", "deals", "surveys", "marketing_spend", "market_size"):
        assert copied[name] == len(read_csv(tea_shop / "data" / f"{name}.csv")), name


# February 2026 again: one deal's amount changed, a new won deal, a deal of a new team
# closed at 01:30 on 1 March in Taipei (17:30 UTC the day before), which counts in March,
# and a deal without a team.
def _changed_deals(data: Path) -> str:
    deals = read_csv(data / "deals.csv")
    columns = list(deals[0])
    february = next(
        row
        for row in deals
        if row["stage"] == "won" and row["closed_at"] and month_of(row["closed_at"]) == "2026-02"
    )
    changed = {**february, "amount": f"{Decimal(february['amount']) + 1000:.2f}"}
    new = {
        **february,
        "deal_id": "D99001",
        "customer_id": "C99001",
        "closed_at": "2026-02-14T10:00:00+08:00",
        "amount": "12345.60",
        "is_first_purchase": "true",
    }
    east = {
        **february,
        "deal_id": "D99002",
        "customer_id": "C99002",
        "closed_at": "2026-02-28T17:30:00Z",
        "team": "east",
        "amount": "999.90",
        "is_first_purchase": "true",
    }
    # No team: the group of rows without one, stored as "".
    unassigned = {**new, "deal_id": "D99003", "customer_id": "C99003", "team": ""}
    lines = [",".join(columns)]
    lines += [
        ",".join(row[column] for column in columns) for row in (changed, new, east, unassigned)
    ]
    return "\n".join(lines) + "\n"


def import_history(tea_shop: Path) -> ImportRun:
    """The example's closed deals imported, as the first upload does: the dataset reads
    its Parquet table in HEADWAY_WAREHOUSE_DIR from then on. (An import refuses rows
    without a time: the open deals, with no closed_at yet, stay out.)"""
    closed = tea_shop / "closed-deals.csv"
    text = (tea_shop / "data" / "deals.csv").read_text(encoding="utf-8").splitlines()
    closed.write_text("\n".join(line for line in text if line.split(",")[4]) + "\n")
    deals = Dataset.objects.get(key="deals")
    run = import_file(dataset=deals, path=closed, by=User.objects.get(email=ADMIN))
    assert run.status == ImportStatus.SUCCEEDED, run.error
    assert Dataset.objects.get(key="deals").file == str(table_path(deals).resolve())
    return run


def import_and_refresh(tea_shop: Path) -> dict[Key, Stored]:
    """February's changes imported, then the incremental refresh the upload page runs;
    the Results stored after it."""
    change = tea_shop / "february.csv"
    change.write_text(_changed_deals(tea_shop / "data"), encoding="utf-8")
    admin = User.objects.get(email=ADMIN)
    run = import_file(dataset=Dataset.objects.get(key="deals"), path=change, by=admin)
    assert run.status == ImportStatus.SUCCEEDED, run.error
    assert (run.added, run.updated) == (3, 1)
    assert run.touched_from is not None
    assert run.touched_to is not None
    problems = results_refresh_dataset(
        dataset_key="deals", by=admin, touched_from=run.touched_from, touched_to=run.touched_to
    )
    assert problems == []
    return stored()


@pytest.mark.slow
def test_the_spark_warehouse_stores_every_result_duckdb_stores_and_refreshes_alike(
    tea_shop: Path,
) -> None:
    from headway.engine.backends.spark import stop_sessions

    import_history(tea_shop)
    expected = recompute_on(None)
    try:
        got = recompute_on(SPARK_URL)
        with override_settings(HEADWAY_WAREHOUSE_URL=SPARK_URL):
            incremental = import_and_refresh(tea_shop)
    finally:
        stop_sessions()
    assert_same_results(expected, got, "Spark")
    assert_same_results(recompute_on(None), incremental, "incremental on Spark")


def test_an_import_then_the_incremental_refresh_on_postgres_equals_a_full_recompute(
    tea_shop: Path, postgres_warehouse: str, postgres_schema: str
) -> None:
    with override_settings(HEADWAY_WAREHOUSE_URL=postgres_warehouse):
        history = import_history(tea_shop)
        results_recompute(by=None)

        incremental = import_and_refresh(tea_shop)

        # The imported table (Parquet in HEADWAY_WAREHOUSE_DIR) was copied again: the
        # warehouse holds the three new rows.
        assert loaded_tables(postgres_schema)["deals"] == history.added + 3
        results_recompute(by=None)
        full = stored()
    assert_same_results(full, incremental, "incremental on PostgreSQL")
    assert_same_results(full, recompute_on(None), "DuckDB after the import")
    assert ("new_customers", "2026-03", "team", "east") in full
    assert ("new_customers", "2026-02", "team", "") in full


def test_the_formula_preview_on_postgres_gives_duckdbs_values(
    tea_shop: Path, postgres_warehouse: str
) -> None:
    draft = {"formula": "won_deals / leads", "unit": "percent", "grain": "month"}
    expected = draft_values(**draft, direction="up", today=TODAY)
    with override_settings(HEADWAY_WAREHOUSE_URL=postgres_warehouse):
        got = draft_values(**draft, direction="up", today=TODAY)
    assert [value.period for value in got] == [value.period for value in expected]
    assert [value.period for value in got][-1] == "2026-11"
    rates = conversion_by_month(tea_shop / "data")
    for value in got:
        assert value.value is not None
        assert math.isclose(value.value, rates[value.period], rel_tol=1e-9), value.period


def test_my_share_on_postgres_is_duckdbs(tea_shop: Path, postgres_warehouse: str) -> None:
    leo = User.objects.get(email="leo@tea-shop.example")

    def shares() -> list[tuple[str, str, Any, Any]]:
        found = my_contribution(leo, today=TODAY)
        assert found.problems == []
        return [(share.label, share.period, share.mine, share.whole) for share in found.shares]

    expected = shares()
    with override_settings(HEADWAY_WAREHOUSE_URL=postgres_warehouse):
        got = shares()
    assert got == expected
    leads = read_csv(tea_shop / "data" / "leads.csv")
    october = [row for row in leads if month_of(row["created_at"]) == "2026-10"]
    mine = sum(1 for row in october if row["owner"] == "leo@tea-shop.example")
    north = sum(1 for row in october if row["team"] == "north")
    assert ("leads", "2026-10", mine, north) in got
    assert mine > 0


def test_an_unreachable_warehouse_stops_the_recompute_with_its_host_named(
    tea_shop: Path,
) -> None:
    results_recompute(by=None)
    before = stored()
    with (
        override_settings(HEADWAY_WAREHOUSE_URL=UNREACHABLE),
        pytest.raises(HeadwayError) as raised,
    ):
        results_recompute(by=None)
    message = str(raised.value)
    assert "cannot reach the PostgreSQL warehouse at 127.0.0.1:1" in message
    assert "s3cret-word" not in message
    assert stored() == before


def _client(email: str) -> Client:
    client = Client()
    client.force_login(User.objects.get(email=email))
    return client


def test_an_unreachable_warehouse_is_a_message_on_the_data_and_preview_pages(
    tea_shop: Path,
) -> None:
    client = _client(ADMIN)
    change = _changed_deals(tea_shop / "data").encode()
    with override_settings(HEADWAY_WAREHOUSE_URL=UNREACHABLE):
        uploaded = client.post(
            "/data/deals/import/", {"file": SimpleUploadedFile("february.csv", change)}
        )
        assert uploaded.status_code == 302
        done = client.post(uploaded["Location"], {"import": "1"}, follow=True)
        preview = client.post(
            "/kpis/preview/",
            {"formula": "won_deals / leads", "unit": "percent", "grain": "month"},
        )
    for response in (done, preview):
        html = response.content.decode()
        assert response.status_code == 200
        assert "cannot reach the PostgreSQL warehouse at 127.0.0.1:1" in html
        assert "s3cret-word" not in html
        assert "Traceback" not in html
    page = done.content.decode()
    assert "The data was imported, but the KPIs that use it could not be recomputed" in page
    assert "No preview" in preview.content.decode()


def test_an_unreachable_warehouse_is_a_message_on_the_kpi_page_after_an_edit(
    tea_shop: Path,
) -> None:
    kpi = Kpi.objects.get(key="csat")
    edit = {
        "name": "Customer satisfaction (1-5)",
        "description": kpi.description,
        "entry": "formula",
        "formula": kpi.formula,
        "unit": kpi.unit,
        "direction": kpi.direction,
        "grain": kpi.grain,
        "team": kpi.team_id or "",
        "owner": kpi.owner_id or "",
        "green_from": "100",
        "amber_from": "95",
        "version": kpi.version,
    }
    with override_settings(HEADWAY_WAREHOUSE_URL=UNREACHABLE):
        response = _client(ADMIN).post("/kpis/csat/edit/", edit, follow=True)
    html = response.content.decode()
    assert response.redirect_chain == [("/kpis/csat/", 302)]
    assert "Saved, but the values could not be recomputed" in html
    assert "cannot reach the PostgreSQL warehouse at 127.0.0.1:1" in html
    assert "s3cret-word" not in html
    assert Kpi.objects.get(key="csat").name == "Customer satisfaction (1-5)"


# The data files an import rewrites: the PostgreSQL warehouse must never keep an old copy.
ORDERS_WORKSPACE = """\
version: 1
organization: {name: Rewrites, timezone: Asia/Taipei}
datasets:
  orders: {file: orders.csv, key: id, time: at}
measures:
  amount: {dataset: orders, agg: sum, column: amount}
kpis:
  - {key: amount, name: Amount, formula: amount, unit: number, grain: month}
"""


def _orders(folder: Path, amount: int) -> Path:
    (folder / "headway.yaml").write_text(ORDERS_WORKSPACE, encoding="utf-8")
    (folder / "orders.csv").write_text(f"id,at,amount\n1,2026-01-05 10:00,{amount}\n")
    return folder / "orders.csv"


def _amount(folder: Path, url: str) -> tuple[Any, list[str]]:
    with Engine(load_workspace(folder / "headway.yaml"), warehouse=url) as engine:
        [row] = engine.compute(ComputeRequest()).rows
        assert engine.backend is not None
        return row.value, engine.backend.loaded


def test_a_file_replaced_with_the_same_size_and_time_is_copied_again(
    tmp_path: Path, postgres_warehouse: str
) -> None:
    path = _orders(tmp_path, 100)
    assert _amount(tmp_path, postgres_warehouse) == (100, ["orders"])
    assert _amount(tmp_path, postgres_warehouse) == (100, [])
    # An import writes a new file and renames it over the old one; within one tick of a
    # coarse clock (or on a file system keeping whole seconds) the time does not move.
    before = path.stat()
    replacement = tmp_path / "orders.csv.tmp"
    replacement.write_text("id,at,amount\n1,2026-01-05 10:00,200\n")
    os.utime(replacement, ns=(before.st_atime_ns, before.st_mtime_ns))
    os.replace(replacement, path)
    assert (path.stat().st_size, path.stat().st_mtime_ns) == (before.st_size, before.st_mtime_ns)

    assert _amount(tmp_path, postgres_warehouse) == (200, ["orders"])


def test_a_file_changed_while_it_is_computed_is_copied_again_next_time(
    tmp_path: Path, postgres_warehouse: str
) -> None:
    path = _orders(tmp_path, 100)
    with Engine(load_workspace(tmp_path / "headway.yaml"), warehouse=postgres_warehouse) as engine:
        engine.load(["orders"])  # DuckDB has read the file: 100
        path.write_text("id,at,amount\n1,2026-01-05 10:00,300\n")
        # This compute copies the rows DuckDB read, as they were.
        [row] = engine.compute(ComputeRequest()).rows
        assert row.value == 100

    # The next one must not take that copy for the file as it is now.
    assert _amount(tmp_path, postgres_warehouse) == (300, ["orders"])


def test_applying_a_workspace_that_names_a_warehouse_says_the_app_uses_its_setting(
    db: None, tmp_path: Path, settings: Any
) -> None:
    settings.HEADWAY_WAREHOUSE_URL = ""
    text = (EXAMPLE / "headway.yaml").read_text(encoding="utf-8")
    (tmp_path / "data").symlink_to(EXAMPLE / "data")
    path = tmp_path / "headway.yaml"
    path.write_text(text + "\nwarehouse: postgresql://kpi:hunter2@db.internal/w\n")

    notes = plan_apply(load_workspace(path)).notes

    [note] = [note for note in notes if "warehouse" in note and "HEADWAY_WAREHOUSE_URL" in note]
    assert "postgresql://kpi:***@db.internal/w is not applied" in note
    assert "(the embedded DuckDB)" in note
    assert "hunter2" not in note
    settings.HEADWAY_WAREHOUSE_URL = "postgresql://kpi:hunter2@db.internal/w"
    assert not [note for note in plan_apply(load_workspace(path)).notes if "warehouse " in note]
