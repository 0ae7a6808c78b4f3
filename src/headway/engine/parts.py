"""Datasets made of parts: a folder (or a glob) of Parquet files read as one table.

Appending a day of rows to a dataset of ten million should cost a day's worth of work:
the day is written as a new part, and only that part is checked. A part that passed its
checks is remembered (headway.engine.checked), and so is a set of parts whose keys were
found unique together; a new part's keys are then compared with the others by reading
the key column alone, within the new keys' range, which the Parquet statistics of the
older parts usually rule out without reading them at all.

Every part must have the same columns, of the same types, in the same order.
"""

# The SQL here is built from paths and names passed through quote_literal and
# quote_identifier, and from key values read back and quoted: no user text reaches it raw.
# ruff: noqa: S608

from __future__ import annotations

import dataclasses
import glob
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb

from headway.engine.data import (
    MAX_PROBLEMS_PER_COLUMN,
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


def _file_list(parts: list[Path]) -> str:
    return "[" + ", ".join(quote_literal(str(part)) for part in parts) + "]"


def open_parts(
    warehouse: Warehouse, request: DatasetRequest, relation: str, parts: list[Path]
) -> _PartsSource:
    connection = warehouse.connection
    files = _file_list(parts)
    try:
        # The columns of every part, in order: a part that differs would otherwise be read
        # by position under the first part's names.
        described = connection.execute(
            "SELECT file_name, name, type, converted_type, logical_type, num_children "
            f"FROM parquet_schema({files})"
        ).fetchall()
        connection.execute(f"CREATE TEMP VIEW {relation} AS SELECT * FROM read_parquet({files})")
        columns = connection.execute(f"DESCRIBE {relation}").fetchall()
    except duckdb.Error as error:
        raise HeadwayError(
            Problem(f"cannot be read as Parquet: {_first_line(error)}", file=request.shown_file)
        ) from None
    schemas: dict[str, tuple[list[str], list[str]]] = {}
    for file_name, name, *kinds in described:
        names, types_of = schemas.setdefault(str(file_name), ([], []))
        names.append(str(name))
        types_of.append(repr(kinds))
    first = schemas.get(str(parts[0]))
    problems = []
    for part in parts[1:]:
        schema = schemas.get(str(part))
        if schema != first and first is not None and schema is not None:
            problems.append(
                Problem(
                    f"its columns ({', '.join(schema[0])}) or their types differ from those of "
                    f"{parts[0].name} ({', '.join(first[0])}): every part of a dataset must "
                    "have the same columns",
                    file=shown_part(request, part),
                )
            )
    if problems:
        raise HeadwayError(problems)
    types = {str(row[0]): str(row[1]) for row in columns}
    _check_header(list(types), request.shown_file, "the schema")
    return _PartsSource(connection, relation, types, parts)


def check_parts(
    warehouse: Warehouse,
    request: DatasetRequest,
    source: _PartsSource,
    expressions: dict[str, str],
    what: list[Any],
) -> None:
    """The checks of a single file, part by part (skipping the parts that passed), then
    the keys across parts. Raises HeadwayError naming the part, row and value."""
    checked = warehouse.checked
    signatures = [
        checked.signature(part, what) if checked is not None else None for part in source.parts
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
    problems = _check_keys_across(warehouse, request, source.parts, known)
    if problems:
        raise HeadwayError(problems)
    if checked is not None:
        checked.remember(checked.together(signatures))


def _check_keys_across(
    warehouse: Warehouse, request: DatasetRequest, parts: list[Path], known: int
) -> list[Problem]:
    """Keys of parts[known:] against each other and against parts[:known], reading only
    the key column and, of the older parts, only the row groups within the new keys'
    range (their statistics say which)."""
    connection = warehouse.connection
    key = quote_identifier(request.key)
    older, newer = _file_list(parts[:known]), _file_list(parts[known:])
    new_keys = f"(SELECT {key} FROM read_parquet({newer}))"
    repeated = connection.execute(
        f"SELECT {key} FROM {new_keys} GROUP BY {key} HAVING count(*) > 1 LIMIT 1"
    ).fetchall()
    if not repeated:
        bounds = connection.execute(
            f"SELECT CAST(min({key}) AS VARCHAR), CAST(max({key}) AS VARCHAR) FROM {new_keys}"
        ).fetchone()
        if bounds is None or bounds[0] is None:
            return []
        # Literals, not a subquery: only constants reach the Parquet reader's row group
        # statistics. The text is cast back to the key's type by the comparison.
        low, high = quote_literal(bounds[0]), quote_literal(bounds[1])
        repeated = connection.execute(
            f"SELECT {key} FROM read_parquet({older}) WHERE {key} >= {low} "
            f"AND {key} <= {high} AND {key} IN {new_keys} LIMIT 1"
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
