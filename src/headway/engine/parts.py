"""Datasets made of parts: a folder (or a glob) of Parquet files read as one table.

Appending a day of rows to a dataset of ten million should cost a day's worth of work:
the day is written as a new part, and only that part is checked. A part that passed its
checks is remembered (headway.engine.checked), and so is a set of parts whose keys were
found unique together; a new part's keys are then compared with the others by reading
the key column alone, within the new keys' range, which the Parquet statistics of the
older parts usually rule out without reading them at all.

Every part must have the same columns, of the same types, in the same order.

What a part's footer says (its schema, row count and per row group the min and max of
each column) is read once per file version and kept beside the checked-files markers: an
unchanged part then costs no read until a scan needs its rows, and the statistics decide
which older parts a new part's keys could collide with.
"""

# The SQL here is built from paths and names passed through quote_literal and
# quote_identifier, and from key values read back and quoted: no user text reaches it raw.
# ruff: noqa: S608

from __future__ import annotations

import dataclasses
import datetime
import glob
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb

from headway.engine.checked import CheckedFiles
from headway.engine.data import (
    MAX_PROBLEMS_PER_COLUMN,
    NUMERIC_TYPES,
    DatasetRequest,
    _check_header,
    _first_line,
    _PartsSource,
    quote_identifier,
    quote_literal,
)
from headway.engine.problems import HeadwayError, Problem

if TYPE_CHECKING:
    from headway.engine.data import Warehouse

GLOB_CHARACTERS = frozenset("*?[")


def _is_glob(path: Path) -> bool:
    return any(character in GLOB_CHARACTERS for character in str(path))


def parquet_parts(request: DatasetRequest) -> list[Path] | None:
    """The Parquet files of a folder or glob dataset, by name; None for a single file."""
    path = request.file
    if _is_glob(path):
        found = sorted(Path(name) for name in glob.glob(str(path)) if Path(name).is_file())
        parts = [part for part in found if part.suffix.lower() == ".parquet"]
        what = f"the pattern {request.shown_file}"
    elif path.is_dir():
        parts = sorted(
            entry
            for entry in path.iterdir()
            if entry.suffix.lower() == ".parquet" and entry.is_file()
        )
        what = f"the folder {request.shown_file}"
    else:
        return None
    if not parts:
        raise HeadwayError(
            Problem(
                f"dataset {request.name}: {what} holds no .parquet file",
                file=request.workspace_file,
                line=request.workspace_line,
                key=f"datasets.{request.name}.file",
            )
        )
    return parts


def shown_part(request: DatasetRequest, part: Path) -> str:
    """A part's name as people see it: the folder as the workspace names it, and the file."""
    base = request.shown_file if not _is_glob(request.file) else os.path.dirname(request.shown_file)
    return os.path.join(base, part.name) if base else part.name


# Bumped when PartFacts changes, so that facts kept by an older Headway are read again.
FACTS_VERSION = "parquet-part-facts-2"
Bounds = tuple[str | None, str | None]
INTEGER_TYPES = frozenset(kind for kind in NUMERIC_TYPES if "INT" in kind)


@dataclasses.dataclass(frozen=True)
class PartFacts:
    """What a part's footer says: its schema elements (name and Parquet types, as
    parquet_schema gives them), its rows, and per column the min and max of each row
    group holding a value in it, as text (None where the footer has no statistics)."""

    schema: tuple[tuple[str, str], ...]
    rows: int
    stats: Mapping[str, Sequence[Sequence[str | None]]]

    def as_json(self) -> dict[str, Any]:
        return {
            "schema": [list(item) for item in self.schema],
            "rows": self.rows,
            "stats": {name: [list(pair) for pair in pairs] for name, pairs in self.stats.items()},
        }

    @classmethod
    def from_json(cls, data: Any) -> PartFacts | None:
        try:
            stats = data["stats"]
            if not isinstance(stats, dict):
                return None
            # The statistics stay the lists JSON gives (pairs of text or null): most are
            # never looked at, and turning them all into tuples cost more than the rest
            # of opening a part already seen.
            return cls(
                schema=tuple((str(name), str(kinds)) for name, kinds in data["schema"]),
                rows=int(data["rows"]),
                stats=stats,
            )
        except (KeyError, TypeError, ValueError):
            return None


class _FactsPartsSource(_PartsSource):
    """The parts with their facts, and what tells each part's version from another."""

    def __init__(
        self,
        connection: duckdb.DuckDBPyConnection,
        relation: str,
        types: dict[str, str],
        parts: list[Path],
        facts: dict[Path, PartFacts],
        identities: dict[Path, list[object] | None],
    ) -> None:
        super().__init__(connection, relation, types, parts)
        self.facts = facts
        self.identities = identities


def _file_list(parts: Sequence[Path]) -> str:
    return "[" + ", ".join(quote_literal(str(part)) for part in parts) + "]"


def read_facts(
    warehouse: Warehouse, request: DatasetRequest, parts: list[Path]
) -> tuple[dict[Path, PartFacts], dict[Path, list[object] | None]]:
    """The facts of every part: from the cache for the part versions seen before, from
    the footers (one query for all the others) for the rest."""
    checked = warehouse.checked
    identities = {part: CheckedFiles.identity(part) for part in parts}
    signatures: dict[Path, str | None] = {
        part: checked.signature(part, FACTS_VERSION, identities[part]) if checked else None
        for part in parts
    }
    facts: dict[Path, PartFacts] = {}
    if checked is not None:
        for part in parts:
            found = PartFacts.from_json(checked.facts(signatures[part]))
            if found is not None:
                facts[part] = found
    unknown = [part for part in parts if part not in facts]
    if not unknown:
        return facts, identities
    files = _file_list(unknown)
    try:
        described = warehouse.connection.execute(
            "SELECT file_name, name, type, converted_type, logical_type, num_children "
            f"FROM parquet_schema({files})"
        ).fetchall()
        groups = warehouse.connection.execute(
            # A truncated statistic (long text) bounds nothing for sure: left out.
            "SELECT file_name, row_group_id, row_group_num_rows, path_in_schema, "
            "CASE WHEN min_is_exact IS NOT false THEN stats_min_value END, "
            "CASE WHEN max_is_exact IS NOT false THEN stats_max_value END, "
            "stats_null_count IS NOT DISTINCT FROM num_values AND num_values > 0 "
            f"FROM parquet_metadata({files}) "
            "ORDER BY file_name, row_group_id, column_id"
        ).fetchall()
    except duckdb.Error as error:
        raise HeadwayError(
            Problem(f"cannot be read as Parquet: {_first_line(error)}", file=request.shown_file)
        ) from None
    schemas: dict[str, list[tuple[str, str]]] = {}
    for file_name, name, *kinds in described:
        schemas.setdefault(str(file_name), []).append((str(name), repr(kinds)))
    rows: dict[str, dict[int, int]] = {}
    stats: dict[str, dict[str, list[Bounds]]] = {}
    for file_name, group, count, column, low, high, all_null in groups:
        rows.setdefault(str(file_name), {})[int(group)] = int(count)
        found_bounds = stats.setdefault(str(file_name), {}).setdefault(str(column), [])
        if all_null:
            # A row group with no value in the column (open deals without a close date)
            # has no bounds, and holds nothing within any range.
            continue
        found_bounds.append(
            (None if low is None else str(low), None if high is None else str(high))
        )
    for part in unknown:
        name = str(part)
        found = PartFacts(
            schema=tuple(schemas.get(name, ())),
            rows=sum(rows.get(name, {}).values()),
            stats={column: tuple(pairs) for column, pairs in stats.get(name, {}).items()},
        )
        facts[part] = found
        if checked is not None:
            checked.remember_facts(signatures[part], found.as_json())
    return facts, identities


def open_parts(
    warehouse: Warehouse, request: DatasetRequest, relation: str, parts: list[Path]
) -> _PartsSource:
    connection = warehouse.connection
    # The columns of every part, in order: a part that differs would otherwise be read
    # by position under the first part's names.
    facts, identities = read_facts(warehouse, request, parts)
    files = _file_list(parts)
    try:
        connection.execute(f"CREATE TEMP VIEW {relation} AS SELECT * FROM read_parquet({files})")
        columns = connection.execute(f"DESCRIBE {relation}").fetchall()
    except duckdb.Error as error:
        raise HeadwayError(
            Problem(f"cannot be read as Parquet: {_first_line(error)}", file=request.shown_file)
        ) from None
    first = facts[parts[0]].schema
    problems = []
    for part in parts[1:]:
        schema = facts[part].schema
        if schema != first:
            problems.append(
                Problem(
                    f"its columns ({', '.join(name for name, _ in schema)}) or their types "
                    f"differ from those of {parts[0].name} "
                    f"({', '.join(name for name, _ in first)}): every part of a dataset must "
                    "have the same columns",
                    file=shown_part(request, part),
                )
            )
    if problems:
        raise HeadwayError(problems)
    types = {str(row[0]): str(row[1]) for row in columns}
    _check_header(list(types), request.shown_file, "the schema")
    return _FactsPartsSource(connection, relation, types, parts, facts, identities)


def check_parts(
    warehouse: Warehouse,
    request: DatasetRequest,
    source: _PartsSource,
    expressions: dict[str, str],
    what: list[Any],
) -> None:
    """The checks of a single file, part by part (skipping the parts that passed), then
    the keys across parts. Raises HeadwayError naming the part, row and value."""
    assert isinstance(source, _FactsPartsSource)
    checked = warehouse.checked
    signatures = [
        checked.signature(part, what, source.identities.get(part)) if checked is not None else None
        for part in source.parts
    ]
    problems: list[Problem] = []
    for index, (part, signature) in enumerate(zip(source.parts, signatures, strict=True)):
        if checked is not None and checked.passed(signature):
            continue
        single = dataclasses.replace(request, file=part, shown_file=shown_part(request, part))
        opened = warehouse._open_parquet(single, f"{source.relation}_part{index}")
        found = warehouse._check_values(single, opened, expressions)
        found += warehouse._check_key(single, opened)
        if not found and checked is not None:
            checked.remember(signature)
        problems += found
    if problems:
        raise HeadwayError(problems)
    if request.key not in source.types or len(source.parts) < 2:
        return
    # The longest run of first parts already known to be unique together: only the parts
    # after it need their keys compared (each part's own keys are unique, checked above).
    known = 1
    if checked is not None:
        for end in range(len(source.parts), 1, -1):
            if checked.passed(checked.together(signatures[:end])):
                known = end
                break
    if known == len(source.parts):
        return
    problems = _check_keys_across(warehouse, request, source, known)
    if problems:
        raise HeadwayError(problems)
    if checked is not None:
        checked.remember(checked.together(signatures))


def typed_bound(text: str | None, sql_type: str) -> Any:
    """A statistic's text as a Python value that orders as DuckDB orders the column's
    values; None where that is not known (the caller then reads the rows)."""
    if text is None:
        return None
    kind = sql_type.upper()
    try:
        if kind in INTEGER_TYPES:
            return int(text)
        if kind in ("DOUBLE", "FLOAT", "REAL"):
            value = float(text)
            return None if value != value else value  # NaN orders last in DuckDB
        if kind == "TIMESTAMP":
            return datetime.datetime.fromisoformat(text)
        if kind == "DATE":
            return datetime.date.fromisoformat(text)
        if kind == "VARCHAR":
            # Byte order of UTF-8 is code point order, which Python's str comparison is.
            return text
    except ValueError:
        return None
    return None


def column_bounds(facts: PartFacts, column: str, sql_type: str) -> list[tuple[Any, Any]] | None:
    """Per row group the typed (min, max) of a column; None if any is unknown."""
    pairs = facts.stats.get(column)
    if pairs is None:
        return None
    found = []
    for pair in pairs:
        if len(pair) != 2:
            return None
        typed = (typed_bound(pair[0], sql_type), typed_bound(pair[1], sql_type))
        if typed[0] is None or typed[1] is None:
            return None
        found.append(typed)
    return found


def span_from_statistics(
    source: _PartsSource, column: str, first: datetime.datetime, last: datetime.datetime
) -> tuple[datetime.datetime | None, datetime.datetime | None] | None:
    """The first and last value of a (plain TIMESTAMP) time column within [first, last],
    from the row groups' statistics alone; (None, None) when no row group holds such a
    value. None when the statistics cannot tell: a row group has none, or reaches over
    a bound (its values inside it are then unknown), or the column is converted."""
    if not isinstance(source, _FactsPartsSource) or source.types.get(column) != "TIMESTAMP":
        return None
    low: datetime.datetime | None = None
    high: datetime.datetime | None = None
    for part in source.parts:
        bounds = column_bounds(source.facts[part], column, "TIMESTAMP")
        if bounds is None:
            return None
        for bottom, top in bounds:
            if top < first or bottom > last:
                continue
            if bottom < first or top > last:
                return None
            low = bottom if low is None else min(low, bottom)
            high = top if high is None else max(high, top)
    return low, high


def _may_hold(facts: PartFacts, column: str, sql_type: str, low: Any, high: Any) -> bool:
    """Whether a part may hold a value of `column` within [low, high]."""
    bounds = column_bounds(facts, column, sql_type)
    if bounds is None:
        return True
    return any(not (top < low or bottom > high) for bottom, top in bounds)


def _check_keys_across(
    warehouse: Warehouse, request: DatasetRequest, source: _FactsPartsSource, known: int
) -> list[Problem]:
    """Keys of parts[known:] against each other and against parts[:known], reading only
    the key column, and of the older parts only those whose statistics overlap the new
    keys' range (their row groups outside it are skipped by the reader too)."""
    connection = warehouse.connection
    parts, facts = source.parts, source.facts
    key_type = source.types[request.key]
    key = quote_identifier(request.key)
    older, newer = parts[:known], parts[known:]
    new_keys = f"(SELECT {key} FROM read_parquet({_file_list(newer)}))"
    if len(newer) > 1:
        repeated = connection.execute(
            f"SELECT {key} FROM {new_keys} GROUP BY {key} HAVING count(*) > 1 LIMIT 1"
        ).fetchall()
        if repeated:
            return _describe_repeats(warehouse, request, parts)
    new_bounds: list[tuple[Any, Any]] = []
    for part in newer:
        bounds = column_bounds(facts[part], request.key, key_type)
        if bounds is None:
            new_bounds = []
            break
        new_bounds += bounds
    if new_bounds:
        low: Any = min(bottom for bottom, _ in new_bounds)
        high: Any = max(top for _, top in new_bounds)
        candidates = [
            part for part in older if _may_hold(facts[part], request.key, key_type, low, high)
        ]
        if not candidates:
            return []
        low_text, high_text = str(low), str(high)
    else:
        # No statistics to go by: the new keys' range, read.
        row = connection.execute(
            f"SELECT CAST(min({key}) AS VARCHAR), CAST(max({key}) AS VARCHAR) FROM {new_keys}"
        ).fetchone()
        if row is None or row[0] is None:
            return []
        candidates, low_text, high_text = older, row[0], row[1]
    # Literals, not a subquery: only constants reach the Parquet reader's row group
    # statistics. The text is cast back to the key's type by the comparison.
    repeated = connection.execute(
        f"SELECT {key} FROM read_parquet({_file_list(candidates)}) "
        f"WHERE {key} >= {quote_literal(low_text)} AND {key} <= {quote_literal(high_text)} "
        f"AND {key} IN {new_keys} LIMIT 1"
    ).fetchall()
    if not repeated:
        return []
    return _describe_repeats(warehouse, request, parts)


def _describe_repeats(
    warehouse: Warehouse, request: DatasetRequest, parts: list[Path]
) -> list[Problem]:
    """Names the parts and rows of the first repeated keys (only run when some repeat)."""
    key = quote_identifier(request.key)
    rows = warehouse.connection.execute(
        f"SELECT {key}, list(filename ORDER BY filename, file_row_number)[1:2], "
        f"list(file_row_number ORDER BY filename, file_row_number)[1:2] "
        f"FROM read_parquet({_file_list(parts)}, filename = true, file_row_number = true) "
        f"GROUP BY {key} HAVING count(*) > 1 ORDER BY {key} LIMIT {MAX_PROBLEMS_PER_COLUMN}"
    ).fetchall()
    problems = []
    for value, files, numbers in rows:
        first, second = (
            f"{shown_part(request, Path(name))} row {number + 1}"
            for name, number in zip(files, numbers, strict=True)
        )
        problems.append(
            Problem(
                f"duplicate key {request.key} = {value!r} in {first} and {second}",
                file=request.shown_file,
            )
        )
    return problems
