"""An import under a small memory limit spills to disk and still imports every row."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
import pytest

from headway.ingestion.models import ImportStatus
from headway.ingestion.services import import_file, table_path
from headway.kpis.models import Dataset
from tests.app.conftest import Organisation

pytestmark = pytest.mark.django_db

ROWS = 400_000


def test_an_import_larger_than_its_memory_limit_spills_and_imports_every_row(
    org: Organisation, settings: Any, tmp_path: Path
) -> None:
    settings.HEADWAY_IMPORT_MEMORY_LIMIT = "48MB"
    path = tmp_path / "many.csv"
    writer = duckdb.connect(":memory:")
    writer.execute(
        "COPY (SELECT 'deal-' || i AS deal_id, "
        "DATE '2026-01-01' + (i % 300)::INTEGER AS closed_at, "
        "CASE WHEN i % 2 = 0 THEN 'north' ELSE 'south' END AS team, 'won' AS stage, "
        f"(i % 1000) AS amount FROM range({ROWS}) t(i)) TO '{path}' (HEADER)"
    )
    writer.close()

    run = import_file(dataset=Dataset.objects.get(key="deals"), path=path, by=org.admin)

    assert run.status == ImportStatus.SUCCEEDED, run.error
    assert (run.rows_in_file, run.added) == (ROWS, ROWS)
    table = table_path(Dataset.objects.get(key="deals"))
    reader = duckdb.connect(":memory:")
    count, total = reader.execute(
        f"SELECT count(*), sum(amount) FROM read_parquet('{table}')"
    ).fetchone() or (0, 0)
    reader.close()
    assert count == ROWS
    assert total == sum(i % 1000 for i in range(ROWS))
