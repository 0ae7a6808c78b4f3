"""Imports into a warehouse of the test's own, for the small organisation of tests/app."""

from __future__ import annotations

import csv
import datetime
import hashlib
import io
from pathlib import Path
from typing import Any

import duckdb
import pytest

from headway.engine.data import quote_literal
from tests.app.conftest import Organisation, build_organisation

# The organisation's deals, as the first import brings them in (the same as tests/app).
DEALS_V1 = """\
deal_id,closed_at,team,stage,amount
a,2026-01-10,north,won,100
b,2026-02-11,south,won,50
c,2026-02-12,north,lost,70
"""

# b changed, c unchanged, d new; a is not in the file and stays.
DEALS_V2 = """\
deal_id,closed_at,team,stage,amount
b,2026-02-11,south,won,60
c,2026-02-12,north,lost,70
d,2026-03-01T09:30:00+08:00,north,won,40
"""


@pytest.fixture
def org(db: None, tmp_path: Path, settings: Any) -> Organisation:
    settings.HEADWAY_WAREHOUSE_DIR = tmp_path / "warehouse"
    return build_organisation(tmp_path)


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def table_rows(path: Path, key: str = "deal_id") -> list[dict[str, Any]]:
    """A warehouse table's rows, read with DuckDB straight from the Parquet file."""
    connection = duckdb.connect(":memory:")
    try:
        cursor = connection.execute(
            f'SELECT * FROM read_parquet({quote_literal(str(path))}) ORDER BY "{key}"'
        )
        names = [item[0] for item in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
    finally:
        connection.close()


def expected_deals(*texts: str) -> dict[str, dict[str, Any]]:
    """Deals after importing the CSV texts in order, computed in plain Python: the last
    file wins for each key, times are wall times in Asia/Taipei."""
    taipei = datetime.timezone(datetime.timedelta(hours=8))
    rows: dict[str, dict[str, Any]] = {}
    for text in texts:
        for record in csv.DictReader(io.StringIO(text)):
            when = datetime.datetime.fromisoformat(record["closed_at"])
            if when.tzinfo is not None:
                when = when.astimezone(taipei).replace(tzinfo=None)
            rows[record["deal_id"]] = {
                "deal_id": record["deal_id"],
                "closed_at": when,
                "team": record["team"],
                "stage": record["stage"],
                "amount": int(record["amount"]),
            }
    return rows


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()
