"""Baseline (c), the floor: DuckDB only reading the columns the KPIs need, and summing them.

    python bench/baselines/floor.py bench/data/1m

One `SELECT sum(...), sum(...), ... FROM read_parquet(...)` per Parquet file over the
columns listed in the data folder's kpis.json (time, aggregated, filter and `team`
columns of the measures): no filters, no grouping, no formulas. Strings are summed by
length, booleans as 0/1, times as epoch, so that every value is decoded. Prints one line
per file with its row count, for the record.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import duckdb


def expression(column: str, type_name: str) -> str:
    col = f'"{column}"'
    t = type_name.upper()
    if t in ("VARCHAR", "BLOB"):
        return f"sum(length({col}))"
    if t == "BOOLEAN":
        return f"sum({col}::INT)"
    if t.startswith("TIMESTAMP"):
        return f"sum(epoch_us({col}))"
    if t == "DATE":
        return f"sum(date_diff('day', DATE '1970-01-01', {col}))"
    return f"sum({col})"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("data", type=Path, help="data folder (with the Parquet files, kpis.json)")
    args = ap.parse_args()
    data: Path = args.data.resolve()
    columns: dict[str, list[str]] = json.loads((data / "kpis.json").read_text())["columns"]
    con = duckdb.connect()
    for dataset, cols in columns.items():
        src = f"read_parquet('{data / (dataset + '.parquet')}')"
        types = dict(
            con.execute(
                f"SELECT column_name, column_type FROM (DESCRIBE SELECT * FROM {src})"
            ).fetchall()
        )
        sums = ", ".join(expression(c, types[c]) for c in cols)
        row = con.execute(f"SELECT count(*), {sums} FROM {src}").fetchone()
        assert row is not None
        print(f"{dataset},{row[0]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
