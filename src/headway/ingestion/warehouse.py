"""The warehouse side of an import: stage a file in DuckDB, check it, merge it by key.

No Django here: the services give this module a file, the dataset's columns and the
schema the table has, and get back what was found and, if asked, a new Parquet file.
Files are opened with the engine's readers (`headway.engine.data.Warehouse`), so an
import reads CSV, XLSX and Parquet by exactly the rules `headway compute` uses: UTF-8
with or without a BOM, RFC 4180 quoting, empty fields are null, XLSX bomb and size caps.
"""

# SQL text here is built only from names passed through quote_identifier/quote_literal,
# types from a fixed list and DuckDB's own type names, as in headway.engine.data.
# ruff: noqa: S608

from __future__ import annotations

import datetime
import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import duckdb

from headway.engine.data import (
    INTEGER_PATTERN,
    NUMBER_PATTERN,
    ROW_COLUMN,
    DatasetRequest,
    Warehouse,
    _time_from_text,
    quote_identifier,
    quote_literal,
)
from headway.engine.problems import HeadwayError, Problem

MAX_REJECTED = 1000
NUL_REASON = "contains a NUL character, which no text may hold"
# Rows whose values rule out types before a column is counted over the whole file.
SAMPLE_ROWS = 2048
DATE_PATTERN = r"^\s*\d{4}-\d{2}-\d{2}\s*$"
# "007" or "01234" is a code, not a number: leading zeros keep a column as text.
LEADING_ZERO_PATTERN = r"^\s*[+-]?0\d"
NUMERIC = frozenset({"BIGINT", "DOUBLE"})

_INTEGER_TYPES = {
    "TINYINT",
    "SMALLINT",
    "INTEGER",
    "BIGINT",
    "UTINYINT",
    "USMALLINT",
    "UINTEGER",
}
_TIMESTAMP_TYPES = {"TIMESTAMP", "TIMESTAMP_NS", "TIMESTAMP_MS", "TIMESTAMP_S", "DATETIME"}
_AWARE_TYPES = {"TIMESTAMP WITH TIME ZONE", "TIMESTAMPTZ"}

Step = Callable[[str], None]


def _no_step(name: str) -> None:
    pass


@dataclass(frozen=True)
class Column:
    """A column of a dataset's table and its DuckDB type."""

    name: str
    type: str

    def as_json(self) -> dict[str, str]:
        return {"name": self.name, "type": self.type}


def columns_from_json(items: Iterable[dict[str, str]]) -> list[Column]:
    return [Column(str(item["name"]), str(item["type"])) for item in items]


@dataclass(frozen=True)
class Drift:
    """A difference between the table's schema and a file's: a decision for people."""

    kind: Literal["added", "missing", "type"]
    column: str
    old_type: str | None = None
    new_type: str | None = None

    def __str__(self) -> str:
        if self.kind == "added":
            return f"new column {self.column!r} ({self.new_type})"
        if self.kind == "missing":
            return f"missing column {self.column!r} (the table has it as {self.old_type})"
        return f"column {self.column!r} changed type from {self.old_type} to {self.new_type}"


@dataclass(frozen=True)
class BadValue:
    """One rejected value: where it is (line or row as people count them), and why."""

    row: int
    line: int | None
    column: str
    value: str | None
    reason: str


@dataclass
class Staged:
    """What staging found in a file."""

    columns: list[Column]
    file_columns: list[Column]
    rows_in_file: int
    row_noun: str
    drift: list[Drift] = field(default_factory=list)
    bad: list[BadValue] = field(default_factory=list)
    bad_rows: int = 0


@dataclass(frozen=True)
class Merged:
    added: int
    updated: int
    unchanged: int
    written: bool
    # The earliest and latest time, in the time columns asked for, of the rows added,
    # of the rows changed (before and after): the periods the import touched. None when
    # it cannot say (a schema change, a time column that is not a time).
    touched_from: datetime.datetime | None = None
    touched_to: datetime.datetime | None = None


def normalise_type(sql_type: str) -> str:
    """The type a column is kept as: a few plain types, so that files compare simply."""
    upper = sql_type.upper()
    if upper in _INTEGER_TYPES:
        return "BIGINT"
    if upper in {"FLOAT", "REAL", "DOUBLE"}:
        return "DOUBLE"
    if upper in _TIMESTAMP_TYPES or upper in _AWARE_TYPES:
        return "TIMESTAMP"
    if upper in {"STRING", "TEXT"}:
        return "VARCHAR"
    return upper


def table_schema(path: Path) -> list[Column] | None:
    """The columns of a warehouse table, or None when it does not exist yet."""
    if not path.exists():
        return None
    connection = duckdb.connect(":memory:")
    try:
        rows = connection.execute(
            f"DESCRIBE SELECT * FROM read_parquet({quote_literal(str(path))})"
        ).fetchall()
    finally:
        connection.close()
    return [Column(str(row[0]), str(row[1])) for row in rows]


def _text_value(
    column: str, target: str, timezone: str, *, matched: bool = False
) -> tuple[str, str]:
    """The typed value of a text column, NULL where the text does not fit; and why not.

    `matched`: every value of the column is known to match the type's pattern (the
    counts of `_text_counts`, see `_all_match`), so the cast needs no pattern guard."""
    value = f"trim({column})"
    if target == "VARCHAR":
        return column, ""
    if target == "BIGINT":
        cast = f"TRY_CAST({value} AS BIGINT)"
        return (
            cast
            if matched
            else f"CASE WHEN regexp_matches({column}, {quote_literal(INTEGER_PATTERN)}) "
            f"THEN {cast} END",
            "is not a whole number",
        )
    if target == "DOUBLE" or target.startswith("DECIMAL"):
        cast = f"TRY_CAST({value} AS {target})"
        return (
            cast
            if matched
            else f"CASE WHEN regexp_matches({column}, {quote_literal(NUMBER_PATTERN)}) "
            f"THEN {cast} END",
            "is not a number",
        )
    if target == "BOOLEAN":
        return (
            f"CASE lower({value}) WHEN 'true' THEN true WHEN 'false' THEN false END",
            "is not true or false",
        )
    if target == "DATE":
        cast = f"TRY_CAST({value} AS DATE)"
        return (
            cast
            if matched
            else f"CASE WHEN regexp_matches({column}, {quote_literal(DATE_PATTERN)}) "
            f"THEN {cast} END",
            "is not a date (YYYY-MM-DD)",
        )
    if target == "TIMESTAMP":
        return _time_from_text(column, timezone, safe=True), "is not a date or timestamp"
    return f"TRY_CAST({column} AS {target})", f"is not a {target}"


def _typed_value(column: str, source: str, timezone: str) -> str:
    """A typed (Parquet) column as its normalised type; time zones become local time."""
    upper = source.upper()
    if upper in _AWARE_TYPES:
        return f"timezone({quote_literal(timezone)}, {column})"
    normal = normalise_type(upper)
    if normal != upper:
        return f"CAST({column} AS {normal})"
    return column


class Staging(Warehouse):
    """One in-memory DuckDB connection that stages a file for one dataset."""

    def __init__(
        self,
        *,
        path: Path,
        shown_file: str,
        dataset: str,
        key_column: str,
        time_column: str,
        numeric_columns: Iterable[str],
        timezone: str,
        step: Step = _no_step,
        memory_limit: str | None = None,
        spill_dir: Path | None = None,
    ) -> None:
        super().__init__(timezone)
        if memory_limit:
            # Past the limit DuckDB spills to `spill_dir` (an in-memory database has no
            # folder of its own to spill to) rather than growing: a big import stays
            # within a bounded share of the machine's memory, beside the web processes.
            self.connection.execute("SET memory_limit = ?", [memory_limit])
        if spill_dir is not None:
            spill_dir.mkdir(parents=True, exist_ok=True)
            self.connection.execute("SET temp_directory = ?", [str(spill_dir)])
        self.path = path
        self.shown_file = shown_file
        self.dataset = dataset
        self.key_column = key_column
        self.time_column = time_column
        self.numeric_columns = set(numeric_columns)
        self.step = step
        self.staged: Staged | None = None

    def __enter__(self) -> Staging:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # Staging ------------------------------------------------------------------------

    def stage(self, stored: list[Column] | None, *, accept_schema_change: bool) -> Staged:
        """Reads the file into the temp table `staged`, typed by the schema it will have.

        Returns the drift against `stored` (the table's schema) and every bad value up to
        MAX_REJECTED; raises HeadwayError for a file that cannot be used at all."""
        request = DatasetRequest(
            name=self.dataset, file=self.path, shown_file=self.shown_file, key="", needs={}
        )
        source = self._open(request, 1)
        self.step("opened")
        numbered = source.numbered
        total_row = self.connection.execute(f"SELECT count(*) FROM {numbered}").fetchone()
        rows_in_file = int(total_row[0]) if total_row else 0
        text_columns = [name for name, kind in source.types.items() if kind.upper() == "VARCHAR"]
        counts = self._text_counts(numbered, text_columns)
        self.step("inferred")
        file_columns: list[Column] = []
        problems: list[Problem] = []
        for name, kind in source.types.items():
            inferred = (
                _infer(counts[name]) if name in counts else self._forced_typed(name, kind, problems)
            )
            if name in counts:
                inferred = self._forced_text(name, inferred, counts[name])
            file_columns.append(Column(name, inferred))
        for needed, what in ((self.key_column, "key"), (self.time_column, "time")):
            if needed and needed not in source.types:
                have = ", ".join(source.types) or "none"
                problems.append(
                    Problem(
                        f"has no {what} column {needed!r} (its columns: {have})",
                        file=self.shown_file,
                    )
                )
        if problems:
            raise HeadwayError(problems)

        by_name = {column.name: column for column in file_columns}
        drift: list[Drift] = []
        if stored is None:
            target = list(file_columns)
        else:
            stored_names = {column.name for column in stored}
            for column in stored:
                if column.name not in by_name:
                    drift.append(Drift("missing", column.name, old_type=column.type))
            for column in file_columns:
                if column.name not in stored_names:
                    drift.append(Drift("added", column.name, new_type=column.type))
            for column in stored:
                found = by_name.get(column.name)
                if found is None or found.type == column.type:
                    continue
                if column.name in counts and column.type == "VARCHAR":
                    continue  # any text fits a text column
                if column.name in counts:
                    failures = self._failures(numbered, column.name, column.type)
                    # Some values that do not fit are bad rows; a whole column of another
                    # type is a change of type.
                    if failures == 0 or found.type == "VARCHAR":
                        continue
                drift.append(Drift("type", column.name, column.type, found.type))
            lacking = [item.column for item in drift if item.kind == "missing"]
            if accept_schema_change and lacking:
                # Accepting a change never removes a column: its values in the stored
                # rows would be lost. The file must carry the column (empty is fine).
                raise HeadwayError(
                    Problem(
                        f"the file lacks the column(s) {', '.join(lacking)} that the dataset "
                        "has; add them to the file (empty values are fine): a column is "
                        "never removed by an import",
                        file=self.shown_file,
                    )
                )
            if accept_schema_change and drift:
                # The file's columns, in its order; a type changes only where it drifted.
                changed = {item.column for item in drift if item.kind == "type"}
                kept = {column.name: column.type for column in stored}
                target = [
                    column
                    if column.name in changed or column.name not in kept
                    else Column(column.name, kept[column.name])
                    for column in file_columns
                ]
            else:
                target = list(stored)
        self.step("compared")
        staged = Staged(
            columns=target,
            file_columns=file_columns,
            rows_in_file=rows_in_file,
            row_noun=source.row_noun,
            drift=drift,
        )
        if drift and not accept_schema_change:
            self.staged = staged
            return staged

        expressions: dict[str, tuple[str, str]] = {}
        for column in target:
            quoted = quote_identifier(column.name)
            kind = source.types[column.name].upper()
            if column.name in counts:
                matched = _all_match(counts[column.name], column.type)
                expressions[column.name] = _text_value(
                    quoted, column.type, self.timezone, matched=matched
                )
            elif column.name == self.time_column and normalise_type(kind) == "DATE":
                expressions[column.name] = (f"CAST({quoted} AS TIMESTAMP)", "")
            else:
                expressions[column.name] = (_typed_value(quoted, kind, self.timezone), "")
        select = ", ".join(
            f"{expression} AS {quote_identifier(name)}"
            for name, (expression, _) in expressions.items()
        )
        self.connection.execute(
            f"CREATE TEMP TABLE staged AS SELECT {ROW_COLUMN}, {select} FROM {numbered}"
        )
        self.step("staged")
        bad_rows: set[int] = set()
        found_bad: list[tuple[int, str, str | None, str]] = []
        for name, (_, reason) in expressions.items():
            if not reason:
                continue
            quoted = quote_identifier(name)
            rows = self.connection.execute(
                f"SELECT n.{ROW_COLUMN}, CAST(n.{quoted} AS VARCHAR) FROM {numbered} n "
                f"JOIN staged s USING ({ROW_COLUMN}) "
                f"WHERE n.{quoted} IS NOT NULL AND s.{quoted} IS NULL"
            ).fetchall()
            self.step(f"checked {name}")
            for row, value in rows:
                bad_rows.add(int(row))
                found_bad.append((int(row), name, value, f"{value!r} {reason}"))
        key = quote_identifier(self.key_column)
        missing = self.connection.execute(
            f"SELECT n.{ROW_COLUMN} FROM {numbered} n WHERE n.{key} IS NULL"
        ).fetchall()
        for (row,) in missing:
            bad_rows.add(int(row))
            found_bad.append((int(row), self.key_column, None, "the key is empty"))
        if self.time_column:
            # A row without a time falls in no period: KPIs would quietly undercount.
            timeless = self.connection.execute(
                f"SELECT n.{ROW_COLUMN} FROM {numbered} n "
                f"WHERE n.{quote_identifier(self.time_column)} IS NULL"
            ).fetchall()
            for (row,) in timeless:
                bad_rows.add(int(row))
                found_bad.append((int(row), self.time_column, None, "the time is empty"))
        # Whether any key repeats is a quick GROUP BY; where each repeat is and where the
        # key was first seen needs a window over every row, so only for a file with repeats.
        repeats = self.connection.execute(
            f"SELECT 1 FROM staged WHERE {key} IS NOT NULL GROUP BY {key} HAVING count(*) > 1 "
            "LIMIT 1"
        ).fetchone()
        duplicates = []
        if repeats is not None:
            duplicates = self.connection.execute(
                f"SELECT {ROW_COLUMN}, CAST({key} AS VARCHAR), first FROM ("
                f"SELECT {ROW_COLUMN}, {key}, min({ROW_COLUMN}) OVER (PARTITION BY {key}) AS "
                f"first FROM staged WHERE {key} IS NOT NULL) WHERE {ROW_COLUMN} > first"
            ).fetchall()
        self.step("checked keys")
        # No text may hold a NUL character: PostgreSQL cannot store one (a dimension's
        # values become the groups of stored results), and no real data holds one.
        for column in target:
            if column.type != "VARCHAR":
                continue
            quoted = quote_identifier(column.name)
            for row, value in self.connection.execute(
                f"SELECT {ROW_COLUMN}, {quoted} FROM staged WHERE contains({quoted}, chr(0))"
            ).fetchall():
                bad_rows.add(int(row))
                found_bad.append((int(row), column.name, value, NUL_REASON))
        self.step("checked text")
        firsts: dict[int, int] = {}
        for row, value, first in duplicates:
            bad_rows.add(int(row))
            firsts[int(row)] = int(first)
            found_bad.append((int(row), self.key_column, value, "duplicate key"))
        found_bad.sort(key=lambda item: (item[0], item[1]))
        listed = found_bad[:MAX_REJECTED]
        places = source.place(
            {row for row, *_ in listed} | {firsts[row] for row, *_ in listed if row in firsts}
        )
        noun = source.row_noun

        def shown(row: int) -> int:
            return places.get(row, row)

        for row, name, value, reason in listed:
            if row in firsts:
                reason = f"duplicate key {value!r}: also on {noun} {shown(firsts[row])}"
            staged.bad.append(BadValue(row, shown(row), name, value, reason))
        staged.bad_rows = len(bad_rows)
        self.staged = staged
        return staged

    def preview_rows(self, rows: int) -> list[dict[str, Any]]:
        """The first rows as staged (typed), in file order."""
        assert self.staged is not None
        names = ", ".join(quote_identifier(column.name) for column in self.staged.columns)
        cursor = self.connection.execute(
            f"SELECT {names} FROM staged ORDER BY {ROW_COLUMN} LIMIT {int(rows)}"
        )
        found = cursor.fetchall()
        return [
            dict(zip([column.name for column in self.staged.columns], row, strict=True))
            for row in found
        ]

    # Merging ------------------------------------------------------------------------

    def merge(self, table: Path, temporary: Path, time_columns: Sequence[str] = ()) -> Merged:
        """Upserts the staged rows into the table by key, into `temporary`.

        Writes nothing when no row changes and the schema stays; the caller renames
        `temporary` over `table` when `written`. `time_columns` are those whose times
        say which periods the changed rows touch (Merged.touched_from/to)."""
        assert self.staged is not None
        columns = self.staged.columns
        key = quote_identifier(self.key_column)
        old = table_schema(table)
        self.step("read table")
        if old is None:
            cells = ", ".join(
                f"CAST(NULL AS {column.type}) AS {quote_identifier(column.name)}"
                for column in columns
            )
            self.connection.execute(f"CREATE TEMP TABLE existing AS SELECT {cells} LIMIT 0")
        else:
            old_types = {column.name: column.type for column in old}
            cells_list = []
            for column in columns:
                name = quote_identifier(column.name)
                if column.name not in old_types:
                    cells_list.append(f"CAST(NULL AS {column.type}) AS {name}")
                elif old_types[column.name] != column.type:
                    self._check_conversion(table, column, old_types[column.name])
                    cells_list.append(f"CAST({name} AS {column.type}) AS {name}")
                else:
                    cells_list.append(name)
            self.connection.execute(
                f"CREATE TEMP TABLE existing AS SELECT {', '.join(cells_list)} "
                f"FROM read_parquet({quote_literal(str(table))})"
            )
        self.step("loaded table")
        same = " AND ".join(
            f"s.{quote_identifier(c.name)} IS NOT DISTINCT FROM c.{quote_identifier(c.name)}"
            for c in columns
        )
        times = self._time_columns(columns, time_columns) if old == columns else []
        # One join finds the rows that are new or changed, with the times (new and old) that
        # say which periods they touch: the counts and the periods come from it alike.
        time_cells = "".join(
            f", CAST(s.{quote_identifier(name)} AS TIMESTAMPTZ) AS new_{index}"
            f", CAST(c.{quote_identifier(name)} AS TIMESTAMPTZ) AS old_{index}"
            for index, name in enumerate(times)
        )
        self.connection.execute("SET TimeZone = 'UTC'")
        self.connection.execute(
            f"CREATE TEMP TABLE changed AS SELECT c.{key} IS NULL AS is_new{time_cells} "
            f"FROM staged s LEFT JOIN existing c ON s.{key} = c.{key} "
            f"WHERE c.{key} IS NULL OR NOT ({same})"
        )
        counted = self.connection.execute(
            "SELECT count(*) FILTER (WHERE is_new), count(*) FILTER (WHERE NOT is_new) FROM changed"
        ).fetchone()
        added, updated = (int(counted[0]), int(counted[1])) if counted else (0, 0)
        unchanged = self.staged.rows_in_file - added - updated
        self.step("compared rows")
        if old is not None and old == columns and added == 0 and updated == 0:
            return Merged(added, updated, unchanged, written=False)
        touched: tuple[datetime.datetime | None, datetime.datetime | None] = (None, None)
        if times:
            touched = self._touched(len(times))
        names = ", ".join(quote_identifier(column.name) for column in columns)
        if old is None:
            # A first import: the staged rows as they are (in the file's order), unsorted.
            rows = f"SELECT {names} FROM staged"
        else:
            rows = (
                f"SELECT {names} FROM (SELECT c.* FROM existing c ANTI JOIN staged s "
                f"ON c.{key} = s.{key} UNION ALL SELECT {names} FROM staged) ORDER BY {key}"
            )
        self.connection.execute(
            f"COPY ({rows}) TO {quote_literal(str(temporary))} (FORMAT parquet, COMPRESSION zstd)"
        )
        self.step("wrote temporary")
        with temporary.open("rb") as handle:
            os.fsync(handle.fileno())
        self.step("synced temporary")
        return Merged(
            added, updated, unchanged, written=True, touched_from=touched[0], touched_to=touched[1]
        )

    @staticmethod
    def _time_columns(columns: list[Column], time_columns: Sequence[str]) -> list[str]:
        """The time columns whose times place rows in periods; none when one of them is
        not a date or a timestamp (then the periods touched cannot be told)."""
        types = {column.name: column.type for column in columns}
        names = [name for name in dict.fromkeys(time_columns) if name]
        if any(
            types.get(name) not in ("DATE", "TIMESTAMP", "TIMESTAMPTZ", "TIMESTAMP WITH TIME ZONE")
            for name in names
        ):
            return []
        return names

    def _touched(self, count: int) -> tuple[datetime.datetime | None, datetime.datetime | None]:
        """The first and last time among the added rows and both versions of the changed
        ones (the `changed` table), in UTC."""
        cells = [f"new_{index}" for index in range(count)] + [
            f"old_{index}" for index in range(count)
        ]
        lows = ", ".join(f"min({cell})" for cell in cells)
        highs = ", ".join(f"max({cell})" for cell in cells)
        found = self.connection.execute(
            f"SELECT epoch_us(least({lows})), epoch_us(greatest({highs})) FROM changed"
        ).fetchone()
        if found is None:
            return None, None
        return _from_epoch_us(found[0]), _from_epoch_us(found[1])

    # Helpers ------------------------------------------------------------------------

    def _text_counts(self, relation: str, names: list[str]) -> dict[str, dict[str, int]]:
        """Per text column, how many values are not empty ("all") and how many fit each
        kind of value ("int", "num", "zero", "bool", "date", "time"): what `_infer` and
        `_forced_text` decide the column's type by.

        Only the counts that can decide a type are made over the whole file; the others
        are left out of the column's dict. A kind that a value of the first SAMPLE_ROWS
        rows does not fit counts fewer than "all" whatever the rest holds, so it cannot be
        the type; with no kind left, "zero" cannot change the type either (it is text).
        The time column is a time whatever its values, and a number column's type needs
        exact "int" and "num" counts when some of its values are bad (`_forced_text`)."""
        if not names:
            return {}
        kinds = {
            "int": f"regexp_matches(@COLUMN@, {quote_literal(INTEGER_PATTERN)})",
            "num": f"regexp_matches(@COLUMN@, {quote_literal(NUMBER_PATTERN)})",
            "zero": f"regexp_matches(@COLUMN@, {quote_literal(LEADING_ZERO_PATTERN)})",
            "bool": "lower(trim(@COLUMN@)) IN ('true', 'false')",
            "date": _text_value("@COLUMN@", "DATE", self.timezone)[0] + " IS NOT NULL",
            "time": _text_value("@COLUMN@", "TIMESTAMP", self.timezone)[0] + " IS NOT NULL",
        }
        types = [kind for kind in kinds if kind != "zero"]

        def fits(kind: str, name: str) -> str:
            condition = kinds[kind].replace("@COLUMN@", quote_identifier(name))
            return f"count(*) FILTER (WHERE {condition})"

        # Which kinds each column's first rows rule out (a value that does not fit).
        sampled = [name for name in names if name != self.time_column]
        ruled_out: dict[str, set[str]] = {name: set() for name in names}
        if sampled:
            selects = [
                f"count({quote_identifier(name)}) - {fits(kind, name)}"
                for name in sampled
                for kind in types
            ]
            row = self.connection.execute(
                f"SELECT {', '.join(selects)} FROM (SELECT * FROM {relation} LIMIT {SAMPLE_ROWS})"
            ).fetchone()
            assert row is not None
            for index, name in enumerate(sampled):
                misses = row[index * len(types) : (index + 1) * len(types)]
                ruled_out[name] = {kind for kind, n in zip(types, misses, strict=True) if n}
        counted: dict[str, list[str]] = {}
        for name in names:
            if name == self.time_column:
                counted[name] = []
                continue
            keep = set(types) - ruled_out[name]
            if name in self.numeric_columns:
                keep |= {"int", "num"}
            counted[name] = [kind for kind in kinds if kind in keep or (kind == "zero" and keep)]
        selects = []
        for name in names:
            selects.append(f"count({quote_identifier(name)})")
            selects += [fits(kind, name) for kind in counted[name]]
        row = self.connection.execute(f"SELECT {', '.join(selects)} FROM {relation}").fetchone()
        assert row is not None
        values = iter(row)
        return {
            name: {"all": int(next(values))} | {kind: int(next(values)) for kind in counted[name]}
            for name in names
        }

    def _forced_text(self, name: str, inferred: str, counts: dict[str, int]) -> str:
        """A text column's type where the dataset's use decides it (time, numbers)."""
        if name == self.time_column:
            return "TIMESTAMP"
        if name in self.numeric_columns and inferred not in NUMERIC:
            return "BIGINT" if counts["int"] == counts["num"] and counts["num"] else "DOUBLE"
        return inferred

    def _forced_typed(self, name: str, kind: str, problems: list[Problem]) -> str:
        normal = normalise_type(kind)
        if name == self.time_column:
            if normal not in {"TIMESTAMP", "DATE"}:
                problems.append(
                    Problem(f"column {name!r} is {kind}, not a date or time", file=self.shown_file)
                )
            return "TIMESTAMP"
        if (
            name in self.numeric_columns
            and normal not in NUMERIC
            and not normal.startswith(("DECIMAL", "HUGEINT", "UBIGINT"))
        ):
            problems.append(
                Problem(f"column {name!r} is {kind}, not a number", file=self.shown_file)
            )
        return normal

    def _failures(self, relation: str, name: str, target: str) -> int:
        quoted = quote_identifier(name)
        expression, _ = _text_value(quoted, target, self.timezone)
        row = self.connection.execute(
            f"SELECT count(*) FROM {relation} WHERE {quoted} IS NOT NULL AND ({expression}) IS NULL"
        ).fetchone()
        return int(row[0]) if row else 0

    def _check_conversion(self, table: Path, column: Column, old_type: str) -> None:
        """An accepted change of type converts the table's values, but never loses one."""
        name = quote_identifier(column.name)
        row = self.connection.execute(
            f"SELECT CAST({name} AS VARCHAR) FROM read_parquet({quote_literal(str(table))}) "
            f"WHERE {name} IS NOT NULL AND (TRY_CAST({name} AS {column.type}) IS NULL OR "
            f"CAST(TRY_CAST({name} AS {column.type}) AS {old_type}) != {name}) LIMIT 1"
        ).fetchone()
        if row is not None:
            raise HeadwayError(
                Problem(
                    f"column {column.name!r} cannot change from {old_type} to {column.type}: "
                    f"the table's value {row[0]!r} would be lost",
                    file=self.shown_file,
                )
            )


def _infer(counts: dict[str, int]) -> str:
    """The narrowest type that every non-empty value of a text column fits."""
    # A kind left out of `counts` does not fit every value (see Staging._text_counts).
    total = counts["all"]
    if total == 0:
        return "VARCHAR"
    if counts.get("zero"):
        return "VARCHAR"
    for kind, sql_type in (
        ("int", "BIGINT"),
        ("num", "DOUBLE"),
        ("bool", "BOOLEAN"),
        ("date", "DATE"),
        ("time", "TIMESTAMP"),
    ):
        if counts.get(kind) == total:
            return sql_type
    return "VARCHAR"


def _from_epoch_us(value: object) -> datetime.datetime | None:
    """Microseconds since 1970 in UTC as a time (DuckDB's own times need pytz in Python)."""
    if not isinstance(value, int):
        return None
    return datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC) + datetime.timedelta(
        microseconds=value
    )


def _all_match(counts: dict[str, int], target: str) -> bool:
    """Whether every value of a text column matches the pattern that guards its cast to
    `target` (BIGINT, DOUBLE or DECIMAL, DATE), by its counts from `_text_counts`."""
    kind = {"BIGINT": "int", "DOUBLE": "num", "DATE": "date"}.get(target)
    if target.startswith("DECIMAL"):
        kind = "num"
    return kind is not None and counts.get(kind) == counts["all"]


def rows_to_parquet(lines: Path, columns: list[str], path: Path) -> None:
    """Rows of text cells, one JSON object a line, as a Parquet file whose columns are all
    text, as a CSV's are (null stays null, an empty string stays empty)."""
    types = "{" + ", ".join(f"{quote_literal(name)}: 'VARCHAR'" for name in columns) + "}"
    names = ", ".join(quote_identifier(name) for name in columns)
    connection = duckdb.connect(":memory:")
    try:
        connection.execute(
            f"COPY (SELECT {names} FROM read_json({quote_literal(str(lines))}, "
            f"format = 'newline_delimited', columns = {types}, maximum_object_size = 16777216)) "
            f"TO {quote_literal(str(path))} (FORMAT parquet)"
        )
    finally:
        connection.close()


def replace_table(temporary: Path, table: Path) -> None:
    """Puts the new table in place in one step, and makes the rename itself durable."""
    os.replace(temporary, table)
    descriptor = os.open(table.parent, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
