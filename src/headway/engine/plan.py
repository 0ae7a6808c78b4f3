"""Planning: which scans answer a compute request, and the SQL of each.

One scan per dataset and time column reads every measure that shares them, for every
grain that needs them (GROUPING SETS), with the aggregation per period and group pushed
down to the backend. Plan nodes are frozen dataclasses so a plan can be printed and
compared in tests.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from dataclasses import dataclass

import sqlglot

from headway.engine.data import LoadedDataset, quote_identifier, quote_literal
from headway.engine.model import Aggregation
from headway.engine.workspace import ResolvedMeasure
from headway.lib.periods import Grain, Period

GROUP_ALIAS = "group_value"
ROWS_ALIAS = "row_count"


@dataclass(frozen=True)
class ScanMeasure:
    """One measure inside a scan, with the alias of its result column."""

    alias: str
    measure: ResolvedMeasure


@dataclass(frozen=True)
class Scan:
    """One pass over a dataset for all measures that share its time column."""

    dataset: str
    time_column: str
    grains: tuple[Grain, ...]
    measures: tuple[ScanMeasure, ...]
    first_day: datetime.date
    end_day: datetime.date  # exclusive
    by: str | None
    fiscal_year_start: int
    # Only the rows of these groups of `by` (None: rows without a value); None: all rows.
    groups: frozenset[str | None] | None = None
    # Only the rows within these [first, end) day ranges (first_day..end_day is their
    # hull); None: the whole hull. An incremental compute reads the periods it redoes and
    # those prev() reaches back to, not the years in between.
    ranges: tuple[tuple[datetime.date, datetime.date], ...] | None = None

    def period_alias(self, grain: Grain) -> str:
        return f"period_{grain.value}"


def period_start_sql(grain: Grain, column: str, fiscal_year_start: int) -> str:
    """SQL for the first day of the period that a local timestamp falls in."""
    if grain is Grain.WEEK:
        # DuckDB's week truncation is the ISO week: Monday.
        return f"CAST(date_trunc('week', {column}) AS DATE)"
    if grain is Grain.MONTH:
        return f"CAST(date_trunc('month', {column}) AS DATE)"
    unit = "quarter" if grain is Grain.QUARTER else "year"
    shift = fiscal_year_start - 1
    if shift == 0:
        return f"CAST(date_trunc('{unit}', {column}) AS DATE)"
    # A fiscal quarter or year is a calendar one moved by the months the year starts late.
    return (
        f"CAST(date_trunc('{unit}', {column} - INTERVAL {shift} MONTH) "
        f"+ INTERVAL {shift} MONTH AS DATE)"
    )


def _aggregate_sql(measure: ResolvedMeasure, wide_sum: bool = False) -> str:
    spec = measure.spec
    column = quote_identifier(spec.column) if spec.column is not None else None
    match spec.agg:
        case Aggregation.COUNT:
            expression = f"count({column})" if column else "count(*)"
        case Aggregation.COUNT_DISTINCT:
            expression = f"count(DISTINCT {column})"
        case Aggregation.SUM:
            # Spark's sum of integers overflows where DuckDB's widens (HUGEINT): exact
            # decimals keep the same numbers.
            expression = f"sum(CAST({column} AS DECIMAL(38,0)))" if wide_sum else f"sum({column})"
        case Aggregation.AVG:
            expression = f"avg({column})"
        case Aggregation.MIN:
            expression = f"min({column})"
        case Aggregation.MAX:
            expression = f"max({column})"
    if measure.filter is not None:
        expression += f" FILTER (WHERE {measure.filter.sql('duckdb')})"
    return expression


def groups_condition(group_sql: str, groups: frozenset[str | None]) -> str:
    """SQL that holds for the rows of the given groups: an IN list of quoted literals, and
    IS NULL for the rows without a value."""
    values = sorted(group for group in groups if group is not None)
    parts = (
        [f"{group_sql} IN ({', '.join(quote_literal(value) for value in values)})"]
        if values
        else []
    )
    if None in groups:
        parts.append(f"{group_sql} IS NULL")
    return "(" + " OR ".join(parts) + ")" if parts else "false"


def day_ranges(periods: Iterable[Period]) -> tuple[tuple[datetime.date, datetime.date], ...]:
    """The [first, end) day ranges that cover the periods, touching ones joined."""
    ranges: list[tuple[datetime.date, datetime.date]] = []
    for period in sorted(periods, key=lambda found: (found.start, found.end)):
        if ranges and period.start <= ranges[-1][1]:
            ranges[-1] = (ranges[-1][0], max(ranges[-1][1], period.end))
        else:
            ranges.append((period.start, period.end))
    return tuple(ranges)


def to_dialect(sql: str, dialect: str) -> str:
    """DuckDB's SQL in another backend's dialect (sqlglot): date_trunc, INTERVAL, FILTER,
    GROUPING SETS and the casts all have their counterparts there."""
    if dialect == "duckdb":
        return sql
    return sqlglot.transpile(sql, read="duckdb", write=dialect, pretty=True)[0]


def _is_integer_sum(measure: ResolvedMeasure, dataset: LoadedDataset) -> bool:
    from headway.engine.backends.base import INTEGER_TYPES, portable_type

    column = measure.spec.column
    if measure.spec.agg is not Aggregation.SUM or column is None:
        return False
    return portable_type(dataset.column_types.get(column, "VARCHAR")) in INTEGER_TYPES


def scan_sql(
    scan: Scan, dataset: LoadedDataset, relation: str | None = None, dialect: str = "duckdb"
) -> str:
    """The one query of a scan, reading `relation` (the dataset's view by default), in the
    dialect of the backend that runs it."""
    time = quote_identifier(scan.time_column)
    group_sql = None
    if scan.by is not None:
        column = quote_identifier(scan.by)
        kind = dataset.column_types.get(scan.by, "VARCHAR").upper()
        group_sql = column if kind == "VARCHAR" else f"CAST({column} AS VARCHAR)"
    selects = []
    sets = []
    for grain in scan.grains:
        period = period_start_sql(grain, time, scan.fiscal_year_start)
        selects.append(f"{period} AS {scan.period_alias(grain)}")
        sets.append([period, group_sql] if group_sql else [period])
    if group_sql:
        selects.append(f"{group_sql} AS {GROUP_ALIAS}")
    selects.append(f"count(*) AS {ROWS_ALIAS}")
    for item in scan.measures:
        wide = dialect == "spark" and _is_integer_sum(item.measure, dataset)
        selects.append(f"{_aggregate_sql(item.measure, wide)} AS {item.alias}")
    # Constant bounds on the bare time column: the Parquet reader skips the row groups
    # (and parts) whose statistics lie outside them.
    ranges = scan.ranges if scan.ranges is not None else ((scan.first_day, scan.end_day),)
    bounds = []
    for first, end in ranges:
        low = quote_literal(f"{first.isoformat()} 00:00:00")
        high = quote_literal(f"{end.isoformat()} 00:00:00")
        bounds.append(f"{time} >= TIMESTAMP {low} AND {time} < TIMESTAMP {high}")
    where = bounds[0] if len(bounds) == 1 else "(" + " OR ".join(f"({b})" for b in bounds) + ")"
    if group_sql is not None and scan.groups is not None:
        where += f" AND {groups_condition(group_sql, scan.groups)}"
    if len(sets) == 1:
        group_by = ", ".join(sets[0])
    else:
        group_by = "GROUPING SETS (" + ", ".join("(" + ", ".join(s) + ")" for s in sets) + ")"
    sql = (
        "SELECT\n  "
        + ",\n  ".join(selects)
        + f"\nFROM {relation or dataset.view}"
        + f"\nWHERE {where}"
        + f"\nGROUP BY {group_by}"
    )
    return to_dialect(sql, dialect)
