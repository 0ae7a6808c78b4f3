"""Data files as typed DuckDB views: CSV, Parquet and XLSX, checked before use.

Each dataset becomes a view named `ds_<n>` whose columns have the types the workspace
needs: numbers for sums, booleans for flags, and time columns converted to the
organisation's local wall time. Reading is done by DuckDB (fast path); only when
something is wrong do we go back to the file to name the exact line.
"""

from __future__ import annotations

import contextlib
import csv
import os
import re
import secrets
import tempfile
import zipfile
from collections.abc import Generator, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO, cast

import duckdb

from headway.engine.checked import CheckedFiles
from headway.engine.filters import ColumnNeed
from headway.engine.problems import HeadwayError, Problem

ROW_COLUMN = "__headway_row__"
NUMBER_PATTERN = r"^\s*[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?\s*$"
INTEGER_PATTERN = r"^\s*[+-]?\d{1,18}\s*$"
# An offset is only an offset after a time of day; "2026-01-31" ends in "-31", a day.
OFFSET_PATTERN = r"\d{2}:\d{2}(:\d{2}(\.\d+)?)?\s*([Zz]|[+-]\d{2}(:?\d{2})?)$"

MAX_XLSX_BYTES = 100 * 1024 * 1024
MAX_XLSX_UNCOMPRESSED_BYTES = 1024 * 1024 * 1024
MAX_XLSX_COMPRESSION_RATIO = 200
# The parts openpyxl holds in memory whole (shared strings above all, at about seven times
# their size as Python strings): a sheet's cells are streamed, these are not.
MAX_XLSX_LOADED_BYTES = 64 * 1024 * 1024
MAX_XLSX_ROWS = 1_100_000
MAX_XLSX_COLUMNS = 1000
MAX_PROBLEMS_PER_COLUMN = 5

# DuckDB's own limit is 80% of the machine's memory for each connection: one compute
# could take most of a server. Past this limit DuckDB spills to temporary files instead,
# so that `headway compute` and the worker stay under 1 GiB whatever the data's size on
# small servers too (bench/memory.py measures it).
ENGINE_MEMORY_LIMIT_VARIABLE = "HEADWAY_ENGINE_MEMORY_LIMIT"
DEFAULT_ENGINE_MEMORY_LIMIT = "256MB"
_MEMORY_AMOUNT = re.compile(r"\d+(\.\d+)?\s*(B|KB|MB|GB|TB|KIB|MIB|GIB|TIB)", re.IGNORECASE)


def engine_memory_limit(environ: Mapping[str, str] | None = None) -> str:
    """The most memory the engine's DuckDB may hold, from HEADWAY_ENGINE_MEMORY_LIMIT."""
    env = os.environ if environ is None else environ
    value = env.get(ENGINE_MEMORY_LIMIT_VARIABLE, "").strip() or DEFAULT_ENGINE_MEMORY_LIMIT
    if not _MEMORY_AMOUNT.fullmatch(value):
        raise HeadwayError(
            Problem(
                f"{ENGINE_MEMORY_LIMIT_VARIABLE} is {value!r}: write an amount of memory "
                "such as 256MB or 2GB"
            )
        )
    return value


NUMERIC_TYPES = (
    "TINYINT",
    "SMALLINT",
    "INTEGER",
    "BIGINT",
    "HUGEINT",
    "UTINYINT",
    "USMALLINT",
    "UINTEGER",
    "UBIGINT",
    "UHUGEINT",
    "FLOAT",
    "DOUBLE",
    "REAL",
)
NAIVE_TIME_TYPES = ("TIMESTAMP", "TIMESTAMP_NS", "TIMESTAMP_MS", "TIMESTAMP_S", "DATETIME")
AWARE_TIME_TYPES = ("TIMESTAMP WITH TIME ZONE", "TIMESTAMPTZ")


def quote_identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def quote_literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _is_numeric_type(sql_type: str) -> bool:
    return sql_type.upper() in NUMERIC_TYPES or sql_type.upper().startswith("DECIMAL")


@dataclass(frozen=True)
class DatasetRequest:
    """What the workspace needs of one dataset: its file and what each column must be."""

    name: str
    file: Path
    shown_file: str
    key: str
    needs: Mapping[str, frozenset[ColumnNeed]]
    # Where the dataset is declared, for errors that are the workspace's fault.
    workspace_file: str | None = None
    workspace_line: int | None = None


@dataclass
class LoadedDataset:
    """A dataset as a typed view in the warehouse connection."""

    name: str
    view: str
    shown_file: str
    row_noun: str
    column_types: dict[str, str] = field(default_factory=dict)
    row_count: int = 0
    # How the view reads the file: the casts and time-zone conversions behind every number.
    definition: str = ""
    # The data file (or folder) behind the view: other backends fingerprint it to tell
    # whether the copy they hold is still current.
    file: Path | None = None
    # The file as it was when reading began (size, mtime, inode): a CSV or XLSX is read
    # into memory then, so a backend copying the rows later must not take the file's
    # later state for what it holds (see backends.base.fingerprint).
    read_stat: tuple[int, int, int] | None = None


def file_stat(path: Path) -> tuple[int, int, int] | None:
    """What tells that a file was rewritten: size, modification time and inode (a file
    replaced by a rename has a new inode even if the other two are the same)."""
    try:
        stat = path.stat()
    except OSError:
        return None
    return (stat.st_size, stat.st_mtime_ns, stat.st_ino)


class _Source:
    """The raw rows of a file as a relation with a row number column."""

    def __init__(
        self,
        connection: duckdb.DuckDBPyConnection,
        relation: str,
        types: dict[str, str],
        row_noun: str,
    ) -> None:
        self.connection = connection
        # `relation` is what the typed view reads; `numbered` adds the row number column
        # that error messages need. For files loaded into tables they are the same.
        self.relation = relation
        self.numbered = relation
        self.types = types
        self.row_noun = row_noun

    def place(self, rows: Iterable[int]) -> dict[int, int]:
        """Maps row numbers to the numbers shown to people (lines, sheet rows)."""
        return {row: row for row in rows}


class _CsvSource(_Source):
    def __init__(
        self,
        connection: duckdb.DuckDBPyConnection,
        relation: str,
        types: dict[str, str],
        path: Path,
    ) -> None:
        super().__init__(connection, relation, types, "line")
        self.path = path

    def place(self, rows: Iterable[int]) -> dict[int, int]:
        # Records and lines differ when a quoted field spans lines, so count them.
        wanted = set(rows)
        found: dict[int, int] = {}
        if not wanted:
            return found
        with self.path.open(encoding="utf-8-sig", newline="") as handle:
            reader = csv.reader(handle)
            next(reader, None)
            start_line = reader.line_num + 1
            for record, _ in enumerate(reader, start=1):
                if record in wanted:
                    found[record] = start_line
                    if len(found) == len(wanted):
                        break
                start_line = reader.line_num + 1
        return found


class _ParquetSource(_Source):
    pass


class _PartsSource(_Source):
    """A folder (or glob) of Parquet files read as one table; see headway.engine.parts."""

    def __init__(
        self,
        connection: duckdb.DuckDBPyConnection,
        relation: str,
        types: dict[str, str],
        parts: list[Path],
    ) -> None:
        super().__init__(connection, relation, types, "row")
        self.parts = parts


class Warehouse:
    """One DuckDB connection that holds the workspace's datasets as typed views."""

    def __init__(self, timezone: str, checked: CheckedFiles | None = None) -> None:
        self.timezone = timezone
        self.checked = checked
        self.memory_limit = engine_memory_limit()
        self.connection = duckdb.connect(":memory:")
        # Spill files go to a folder of this connection's own, which DuckDB creates on the
        # first spill and removes on close: its default, ".tmp" in the current folder,
        # would litter the user's folder, and two connections sharing one would remove it
        # from under each other.
        spill = Path(tempfile.gettempdir()) / f"headway-engine-{os.getpid()}-{secrets.token_hex(6)}"
        self.connection.execute(f"SET memory_limit = {quote_literal(self.memory_limit)}")
        self.connection.execute(f"SET temp_directory = {quote_literal(str(spill))}")
        # Extensions must never be fetched from the internet; icu, json and parquet are
        # built in. Timestamps are converted explicitly, so the session zone is fixed.
        self.connection.execute("SET autoinstall_known_extensions = false")
        self.connection.execute("SET TimeZone = 'UTC'")
        self.connection.execute("SET parquet_metadata_cache = true")
        self.datasets: dict[str, LoadedDataset] = {}
        # The datasets made of Parquet parts, whose statistics answer some questions
        # without reading rows (headway.engine.parts).
        self.parts: dict[str, _PartsSource] = {}
        self._opened = 0

    def close(self) -> None:
        self.connection.close()

    def load_all(self, requests: Iterable[DatasetRequest]) -> dict[str, LoadedDataset]:
        """Loads every dataset; collects the problems of all of them before failing."""
        problems: list[Problem] = []
        for request in requests:
            self._opened += 1
            try:
                self.datasets[request.name] = self.load(request, self._opened)
            except HeadwayError as error:
                problems.extend(error.problems)
            except duckdb.OutOfMemoryException:
                raise HeadwayError(
                    Problem(
                        "checking the data needs more memory than the engine may use "
                        f"({ENGINE_MEMORY_LIMIT_VARIABLE} is {self.memory_limit}): raise it",
                        file=request.shown_file,
                    )
                ) from None
        if problems:
            raise HeadwayError(problems)
        return self.datasets

    def load(self, request: DatasetRequest, number: int) -> LoadedDataset:
        read_stat = file_stat(request.file)
        source = self._open(request, number)
        problems = self._check_columns(request, source)
        if problems:
            raise HeadwayError(problems)
        expressions, types, problems = self._typed_columns(request, source)
        if problems:
            raise HeadwayError(problems)
        signature = None
        what = [request.key, sorted((k, sorted(v)) for k, v in request.needs.items()), types]
        if self.checked is not None:
            signature = self.checked.signature(request.file, what)
        if isinstance(source, _PartsSource):
            from headway.engine.parts import check_parts

            check_parts(self, request, source, expressions, what)
            self.parts[request.name] = source
        elif self.checked is None or not self.checked.passed(signature):
            problems = self._check_values(request, source, expressions)
            problems += self._check_key(request, source)
            if problems:
                raise HeadwayError(problems)
            if self.checked is not None:
                self.checked.remember(signature)
        view = f"ds_{number}"
        select = ", ".join(
            f"{expression} AS {quote_identifier(name)}" for name, expression in expressions.items()
        )
        definition = f"CREATE TEMP VIEW {view} AS SELECT {select} FROM {source.relation}"
        self.connection.execute(definition)
        return LoadedDataset(
            definition=self._describe_source(source, request) + definition,
            name=request.name,
            view=view,
            shown_file=request.shown_file,
            row_noun=source.row_noun,
            column_types=types,
            file=request.file,
            read_stat=read_stat,
        )

    def _describe_source(self, source: _Source, request: DatasetRequest) -> str:
        kind = {"line": "CSV", "row": "spreadsheet or Parquet"}[source.row_noun]
        return f"-- {source.relation}: the rows of {request.shown_file} ({kind})\n"

    # Reading. No query parameters here: binding one makes duckdb import pandas (1 s).

    def _open(self, request: DatasetRequest, number: int) -> _Source:
        path = request.file
        from headway.engine.parts import open_parts, parquet_parts

        parts = parquet_parts(request)
        if parts is not None:
            return open_parts(self, request, f"src_{number}", parts)
        if not path.exists():
            raise HeadwayError(
                Problem(
                    f"data file {request.shown_file} of dataset {request.name} not found",
                    file=request.workspace_file,
                    line=request.workspace_line,
                    key=f"datasets.{request.name}.file",
                )
            )
        if not path.is_file():
            raise HeadwayError(Problem("is not a file", file=request.shown_file))
        suffix = path.suffix.lower()
        relation = f"src_{number}"
        if suffix == ".csv":
            return self._open_csv(request, relation)
        if suffix == ".parquet":
            return self._open_parquet(request, relation)
        if suffix == ".xlsx":
            return self._open_xlsx(request, relation)
        raise HeadwayError(
            Problem(
                f"dataset {request.name}: {request.shown_file} is not a .csv, .parquet or .xlsx "
                "file",
                file=request.workspace_file,
                line=request.workspace_line,
                key=f"datasets.{request.name}.file",
            )
        )

    def _read_csv_header(self, request: DatasetRequest) -> list[str]:
        try:
            with request.file.open(encoding="utf-8-sig", newline="") as handle:
                header = next(csv.reader(handle), None)
        except UnicodeDecodeError:
            raise HeadwayError(_not_utf8(request)) from None
        except csv.Error as error:
            raise HeadwayError(
                Problem(f"malformed CSV header: {error}", file=request.shown_file, line=1)
            ) from None
        if not header:
            raise HeadwayError(
                Problem("is empty: a CSV file needs a header row", file=request.shown_file)
            )
        _check_header(header, request.shown_file, "line 1")
        return header

    def _open_csv(self, request: DatasetRequest, relation: str) -> _Source:
        header = self._read_csv_header(request)
        columns = "{" + ", ".join(f"{quote_literal(name)}: 'VARCHAR'" for name in header) + "}"
        path = quote_literal(str(request.file))
        # The table keeps the file's order (insertion order is preserved), so a record's
        # number is its rowid + 1: numbering the rows while reading them (row_number()
        # OVER ()) would make the read much slower. A column named rowid hides the rowid.
        by_rowid = "rowid" not in {name.lower() for name in header}
        numbering = "" if by_rowid else f"row_number() OVER () AS {ROW_COLUMN}, "
        sql = (
            f"CREATE TEMP TABLE {relation} AS "
            f"SELECT {numbering}* FROM read_csv({path}, header = true, "
            f"auto_detect = false, columns = {columns}, delim = ',', quote = '\"', "
            f"escape = '\"', strict_mode = true)"
        )
        try:
            self.connection.execute(sql)
        except duckdb.Error as error:
            raise HeadwayError(_csv_problem(request, error)) from None
        source = _CsvSource(
            self.connection, relation, dict.fromkeys(header, "VARCHAR"), request.file
        )
        if by_rowid:
            self.connection.execute(
                f"CREATE TEMP VIEW {relation}_rows AS "
                f"SELECT rowid + 1 AS {ROW_COLUMN}, * FROM {relation}"
            )
            source.numbered = f"{relation}_rows"
        return source

    def _open_parquet(self, request: DatasetRequest, relation: str) -> _Source:
        path = quote_literal(str(request.file))
        try:
            self.connection.execute(
                f"CREATE TEMP VIEW {relation} AS SELECT * FROM read_parquet({path})"
            )
            described = self.connection.execute(f"DESCRIBE {relation}").fetchall()
        except duckdb.Error as error:
            raise HeadwayError(
                Problem(f"cannot be read as Parquet: {_first_line(error)}", file=request.shown_file)
            ) from None
        types = {str(row[0]): str(row[1]) for row in described}
        _check_header(list(types), request.shown_file, "the schema")
        # Row numbers only for error messages (from 1, like spreadsheet rows): asking the
        # reader for them on every scan would slow the scans down.
        if "file_row_number" in {name.lower() for name in types}:
            # The file has a column of that name itself, so the reader's own row number
            # cannot be asked for; rows are read in file order.
            numbering = f"SELECT row_number() OVER () AS {ROW_COLUMN}, * FROM read_parquet({path})"
        else:
            numbering = (
                f"SELECT file_row_number + 1 AS {ROW_COLUMN}, * EXCLUDE (file_row_number) "
                f"FROM read_parquet({path}, file_row_number = true)"
            )
        self.connection.execute(f"CREATE TEMP VIEW {relation}_rows AS {numbering}")
        source = _ParquetSource(self.connection, relation, types, "row")
        source.numbered = f"{relation}_rows"
        return source

    def _open_xlsx(self, request: DatasetRequest, relation: str) -> _Source:
        shown = request.shown_file
        with contextlib.closing(_xlsx_rows(request)) as rows:
            first = next(rows, None)
            if first is None:
                raise HeadwayError(
                    Problem("is empty: the first sheet needs a header row", file=shown)
                )
            header = [str(value) if value is not None else "" for value in first[1]]
            _check_header(header, shown, "row 1")
            names = [ROW_COLUMN, *header]
            column_list = ", ".join(f"{quote_identifier(name)} VARCHAR" for name in names[1:])
            self.connection.execute(
                f"CREATE TEMP TABLE {relation} ({quote_identifier(ROW_COLUMN)} BIGINT, "
                f"{column_list})"
            )
            # The rows go through a CSV file of our own into DuckDB's reader, as they are
            # read: memory stays bounded whatever the sheet's size, and it is hundreds of
            # times faster than inserting them one by one (executemany).
            descriptor, name = tempfile.mkstemp(prefix="headway-xlsx-", suffix=".csv")
            copy = Path(name)
            try:
                with os.fdopen(descriptor, "w", encoding="utf-8", newline="") as handle:
                    written = _copy_xlsx_rows(rows, len(header), handle, shown)
                if written:
                    self._load_xlsx_copy(relation, names, copy, shown)
            finally:
                copy.unlink(missing_ok=True)
        return _Source(self.connection, relation, dict.fromkeys(header, "VARCHAR"), "row")

    def _load_xlsx_copy(self, relation: str, names: list[str], copy: Path, shown: str) -> None:
        types = [f"{quote_literal(ROW_COLUMN)}: 'BIGINT'"]
        types += [f"{quote_literal(name)}: 'VARCHAR'" for name in names[1:]]
        # Every text is quoted and a null is an empty unquoted field, so that an empty
        # text stays an empty text (allow_quoted_nulls = false).
        sql = (
            f"INSERT INTO {relation} SELECT * FROM read_csv({quote_literal(str(copy))}, "
            f"header = false, auto_detect = false, columns = {{{', '.join(types)}}}, "
            "delim = ',', quote = '\"', escape = '\"', allow_quoted_nulls = false, "
            "strict_mode = true)"
        )
        try:
            self.connection.execute(sql)
        except duckdb.Error as error:
            raise HeadwayError(
                Problem(f"cannot be read as .xlsx: {_first_line(error)}", file=shown)
            ) from None

    # Checking -----------------------------------------------------------------------

    def _check_columns(self, request: DatasetRequest, source: _Source) -> list[Problem]:
        missing = [name for name in request.needs if name not in source.types]
        if not missing:
            return []
        have = ", ".join(source.types) or "none"
        return [
            Problem(
                f"dataset {request.name} has no column {name!r} (its columns: {have})",
                file=request.shown_file,
            )
            for name in missing
        ]

    def _typed_columns(
        self, request: DatasetRequest, source: _Source
    ) -> tuple[dict[str, str], dict[str, str], list[Problem]]:
        """The SQL expression and type of each needed column, by what it is needed for."""
        expressions: dict[str, str] = {}
        types: dict[str, str] = {}
        problems: list[Problem] = []
        for name, needs in request.needs.items():
            column = quote_identifier(name)
            source_type = source.types[name].upper()
            strong = needs & {ColumnNeed.NUMBER, ColumnNeed.BOOLEAN, ColumnNeed.TIME}
            if len(strong) > 1:
                uses = " and as a ".join(sorted(strong))
                problems.append(
                    Problem(
                        f"column {name!r} of dataset {request.name} is used as a {uses}",
                        file=request.workspace_file,
                        key=f"datasets.{request.name}",
                    )
                )
                continue
            need = next(iter(strong), ColumnNeed.ANY)
            problem = None
            if need is ColumnNeed.NUMBER:
                if _is_numeric_type(source_type):
                    expressions[name], types[name] = column, source_type
                elif source_type == "VARCHAR":
                    all_integers = self._all_match(source, name, INTEGER_PATTERN)
                    target = "BIGINT" if all_integers else "DOUBLE"
                    expressions[name] = f"CAST(trim({column}) AS {target})"
                    types[name] = target
                else:
                    problem = f"is {source_type}, not a number"
            elif need is ColumnNeed.BOOLEAN:
                if source_type == "BOOLEAN":
                    expressions[name], types[name] = column, "BOOLEAN"
                elif source_type == "VARCHAR":
                    expressions[name] = f"(lower(trim({column})) = 'true')"
                    types[name] = "BOOLEAN"
                else:
                    problem = f"is {source_type}, not true/false"
            elif need is ColumnNeed.TIME:
                if source_type == "TIMESTAMP":
                    expressions[name] = column
                elif source_type in NAIVE_TIME_TYPES:
                    expressions[name] = f"CAST({column} AS TIMESTAMP)"
                elif source_type in AWARE_TIME_TYPES:
                    zone = quote_literal(self.timezone)
                    expressions[name] = f"timezone({zone}, {column})"
                elif source_type == "DATE":
                    expressions[name] = f"CAST({column} AS TIMESTAMP)"
                elif source_type == "VARCHAR":
                    expressions[name] = _time_from_text(column, self.timezone, safe=False)
                else:
                    problem = f"is {source_type}, not a date or time"
                types[name] = "TIMESTAMP"
            else:
                expressions[name], types[name] = column, source_type
            if problem:
                problems.append(
                    Problem(f"column {name!r} {problem}", file=request.shown_file, key=request.name)
                )
        return expressions, types, problems

    def _all_match(self, source: _Source, name: str, pattern: str) -> bool:
        column = quote_identifier(name)
        row = self.connection.execute(
            f"SELECT bool_and(regexp_matches({column}, {quote_literal(pattern)})) "
            f"FROM {source.relation} WHERE {column} IS NOT NULL"
        ).fetchone()
        return bool(row and row[0] is not False)

    def _check_values(
        self, request: DatasetRequest, source: _Source, expressions: dict[str, str]
    ) -> list[Problem]:
        """Finds values that do not fit their column: text in a number, a bad time."""
        checks: dict[str, str] = {}
        for name, needs in request.needs.items():
            if source.types.get(name, "").upper() != "VARCHAR" or name not in expressions:
                continue
            column = quote_identifier(name)
            if ColumnNeed.NUMBER in needs:
                checks[name] = f"NOT regexp_matches({column}, {quote_literal(NUMBER_PATTERN)})"
            elif ColumnNeed.BOOLEAN in needs:
                checks[name] = f"lower(trim({column})) NOT IN ('true', 'false')"
            elif ColumnNeed.TIME in needs:
                checks[name] = f"{_time_from_text(column, self.timezone, safe=True)} IS NULL"
        if not checks:
            return []
        selects = [
            f"list({ROW_COLUMN} ORDER BY {ROW_COLUMN}) FILTER "
            f"(WHERE {quote_identifier(name)} IS NOT NULL AND ({condition}))"
            f"[1:{MAX_PROBLEMS_PER_COLUMN}]"
            for name, condition in checks.items()
        ]
        row = self.connection.execute(
            f"SELECT {', '.join(selects)} FROM {source.numbered}"
        ).fetchone()
        assert row is not None
        bad: dict[str, list[int]] = {
            name: list(rows) for name, rows in zip(checks, row, strict=True) if rows
        }
        if not bad:
            return []
        wanted = sorted({number for rows in bad.values() for number in rows})
        places = source.place(wanted)
        values = self._values_at(source, list(bad), wanted)
        problems = []
        for name, rows in bad.items():
            kind = next(
                need.value
                for need in (ColumnNeed.NUMBER, ColumnNeed.BOOLEAN, ColumnNeed.TIME)
                if need in request.needs[name]
            )
            wanted_kind = {
                "number": "a number",
                "boolean": "true or false",
                "time": "a date or timestamp",
            }[kind]
            for number in rows:
                value = values.get((number, name))
                problems.append(
                    Problem(
                        f"column {name!r} value {value!r} is not {wanted_kind}",
                        file=request.shown_file,
                        line=places.get(number, number) if source.row_noun == "line" else None,
                        key=None
                        if source.row_noun == "line"
                        else f"{source.row_noun} {places.get(number, number)}",
                    )
                )
        return problems

    def _values_at(
        self, source: _Source, names: list[str], rows: list[int]
    ) -> dict[tuple[int, str], Any]:
        columns = ", ".join(quote_identifier(name) for name in names)
        fetched = self.connection.execute(
            f"SELECT {ROW_COLUMN}, {columns} FROM {source.numbered} "
            f"WHERE {ROW_COLUMN} IN ({', '.join(str(int(row)) for row in rows)})"
        ).fetchall()
        return {
            (int(record[0]), name): record[index + 1]
            for record in fetched
            for index, name in enumerate(names)
        }

    def _check_key(self, request: DatasetRequest, source: _Source) -> list[Problem]:
        """Keys are unique and present; a duplicate names both of its rows."""
        key = quote_identifier(request.key)
        if request.key not in source.types:
            return []
        duplicate = self.connection.execute(
            f"SELECT {key} FROM {source.relation} GROUP BY {key} HAVING count(*) > 1 LIMIT 1"
        ).fetchall()
        missing = self.connection.execute(
            f"SELECT {ROW_COLUMN} FROM {source.numbered} WHERE {key} IS NULL "
            f"ORDER BY {ROW_COLUMN} LIMIT {MAX_PROBLEMS_PER_COLUMN}"
        ).fetchall()
        problems: list[Problem] = []
        if duplicate:
            repeats = self.connection.execute(
                f"SELECT {key}, list({ROW_COLUMN} ORDER BY {ROW_COLUMN})[1:2] "
                f"FROM {source.numbered} GROUP BY {key} HAVING count(*) > 1 "
                f"ORDER BY min({ROW_COLUMN}) LIMIT {MAX_PROBLEMS_PER_COLUMN}"
            ).fetchall()
            places = source.place(number for _, rows in repeats for number in rows)
            noun = source.row_noun
            for value, rows in repeats:
                first, second = (places.get(number, number) for number in rows)
                problems.append(
                    Problem(
                        f"duplicate key {request.key} = {value!r} on {noun}s {first} and {second}",
                        file=request.shown_file,
                        line=second if noun == "line" else None,
                    )
                )
        if missing:
            places = source.place(int(row[0]) for row in missing)
            for (number,) in missing:
                shown = places.get(number, number)
                problems.append(
                    Problem(
                        f"the key column {request.key!r} is empty on {source.row_noun} {shown}",
                        file=request.shown_file,
                        line=shown if source.row_noun == "line" else None,
                    )
                )
        return problems


def _time_from_text(column: str, timezone: str, *, safe: bool) -> str:
    """Local wall time from text: offsets are converted to the zone, the rest is local."""
    cast = "TRY_CAST" if safe else "CAST"
    zone = quote_literal(timezone)
    value = f"trim({column})"
    # DuckDB wants seconds before an offset and an upper-case Z: 17:30Z -> 17:30:00Z.
    with_seconds = (
        f"regexp_replace(regexp_replace({value}, '(T|\\s)(\\d{{2}}:\\d{{2}})([Zz+-])', "
        f"'\\1\\2:00\\3'), '[z]$', 'Z')"
    )
    return (
        f"CASE WHEN regexp_matches({value}, {quote_literal(OFFSET_PATTERN)}) "
        f"THEN timezone({zone}, {cast}({with_seconds} AS TIMESTAMPTZ)) "
        f"ELSE {cast}({value} AS TIMESTAMP) END"
    )


def _check_header(header: list[str], shown_file: str, where: str) -> None:
    problems = []
    seen: set[str] = set()
    for position, name in enumerate(header, start=1):
        if not name.strip():
            problems.append(Problem(f"column {position} of the header ({where}) has no name"))
        elif name == ROW_COLUMN:
            problems.append(Problem(f"the column name {name!r} is reserved"))
        elif name.lower() in seen:
            # Column names are case-insensitive in SQL: id and ID are the same column.
            problems.append(Problem(f"the header ({where}) names the column {name!r} twice"))
        seen.add(name.lower())
    if problems:
        raise HeadwayError(
            Problem(problem.message, file=shown_file, line=1 if where.startswith("line") else None)
            for problem in problems
        )


def _csv_problem(request: DatasetRequest, error: duckdb.Error) -> Problem:
    """Finds the line DuckDB stumbled on, with Python's reader, for a precise message."""
    try:
        with request.file.open(encoding="utf-8", newline="") as handle:
            reader = csv.reader(handle, strict=True)
            header = next(reader, [])
            width = len(header)
            start_line = reader.line_num + 1
            for record in reader:
                if record and len(record) != width:
                    return Problem(
                        f"has {len(record)} fields where the header has {width}",
                        file=request.shown_file,
                        line=start_line,
                    )
                start_line = reader.line_num + 1
    except UnicodeDecodeError:
        return _not_utf8(request)
    except csv.Error as csv_error:
        return Problem(f"malformed CSV: {csv_error}", file=request.shown_file, line=start_line)
    return Problem(f"cannot be read as CSV: {_first_line(error)}", file=request.shown_file)


def _not_utf8(request: DatasetRequest) -> Problem:
    """Names the first line that is not UTF-8, e.g. a file saved as Big5 by a spreadsheet."""
    with request.file.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            try:
                raw.decode("utf-8")
            except UnicodeDecodeError as error:
                return Problem(
                    f"is not UTF-8 text (byte {error.start + 1} of the line); save the file as "
                    "UTF-8",
                    file=request.shown_file,
                    line=number,
                )
    return Problem("is not UTF-8 text; save the file as UTF-8", file=request.shown_file)


def _first_line(error: Exception) -> str:
    text = str(error).strip().splitlines()
    return text[0][:300] if text else type(error).__name__


def _xlsx_text(value: Any) -> str | None:
    """A spreadsheet cell as the text a CSV file would hold for it."""
    import datetime

    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, datetime.date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return str(value)


def _csv_field(text: str | None) -> str:
    return "" if text is None else '"' + text.replace('"', '""') + '"'


def _copy_xlsx_rows(
    rows: Iterator[tuple[int, tuple[Any, ...]]], width: int, out: TextIO, shown: str
) -> int:
    """Writes the rows after the header as CSV records (sheet row, cells as text) to `out`;
    returns how many. Rows without any value are left out."""
    written = 0
    for sheet_row, values in rows:
        # tuple.count runs in C: a sheet whose declared size pads a million empty rows
        # to a thousand columns each is skipped in seconds, not minutes.
        if values.count(None) == len(values):
            continue
        if len(values) > width and values[width:].count(None) != len(values) - width:
            raise HeadwayError(
                Problem(f"row {sheet_row} has values beyond the {width} named columns", file=shown)
            )
        cells = [_csv_field(_xlsx_text(value)) for value in values[:width]]
        cells += [""] * (width - len(cells))
        try:
            out.write(f"{sheet_row},{','.join(cells)}\n")
        except UnicodeEncodeError:
            raise HeadwayError(
                Problem(f"row {sheet_row} holds text that is not valid Unicode", file=shown)
            ) from None
        written += 1
    return written


def _check_xlsx_archive(path: Path, shown: str) -> None:
    """Refuses, before anything is decompressed, an archive that would expand into a
    memory or CPU bomb: too large, too compressed, or whose parts that openpyxl reads
    whole (shared strings, styles, the workbook...) are too large."""
    if path.stat().st_size > MAX_XLSX_BYTES:
        raise HeadwayError(
            Problem(f"is larger than {MAX_XLSX_BYTES // (1024 * 1024)} MB", file=shown)
        )
    try:
        with zipfile.ZipFile(path) as archive:
            total = 0
            for info in archive.infolist():
                total += info.file_size
                ratio = info.file_size / max(info.compress_size, 1)
                if ratio > MAX_XLSX_COMPRESSION_RATIO and info.file_size > 10 * 1024 * 1024:
                    raise HeadwayError(
                        Problem(
                            f"is refused: {info.filename} expands {ratio:.0f} times "
                            "(a compression bomb?)",
                            file=shown,
                        )
                    )
            if total > MAX_XLSX_UNCOMPRESSED_BYTES:
                raise HeadwayError(Problem("is refused: it expands to more than 1 GB", file=shown))
            loaded = _xlsx_loaded_bytes(archive)
    except zipfile.BadZipFile:
        raise HeadwayError(
            Problem("is not an .xlsx file (not a zip archive)", file=shown)
        ) from None
    except (zipfile.LargeZipFile, OSError, ValueError, EOFError, NotImplementedError) as error:
        raise HeadwayError(
            Problem(f"cannot be read as .xlsx: {_first_line(error)}", file=shown)
        ) from None
    if loaded > MAX_XLSX_LOADED_BYTES:
        raise HeadwayError(
            Problem(
                f"is refused: its shared strings, styles and other parts besides the sheets "
                f"expand to {loaded / (1024 * 1024):.0f} MB, more than the "
                f"{MAX_XLSX_LOADED_BYTES // (1024 * 1024)} MB that are read into memory; "
                "save the sheet as CSV instead",
                file=shown,
            )
        )


_WORKSHEET_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"
# Parts openpyxl reads whole by their name, whatever type the package declares for them.
_READ_BY_NAME = ("[content_types].xml", "xl/styles.xml", "xl/theme/theme1.xml", "docprops/")


def _xlsx_loaded_bytes(archive: zipfile.ZipFile) -> int:
    """Uncompressed bytes of the parts openpyxl reads whole into memory when it opens a
    workbook read-only: every part but the worksheets, which it streams."""
    sheets: set[str] = set()
    try:
        manifest = archive.getinfo("[Content_Types].xml")
    except KeyError:
        manifest = None  # openpyxl refuses the file itself
    if manifest is not None and manifest.file_size <= 1024 * 1024:
        from openpyxl.packaging.manifest import Manifest
        from openpyxl.xml.functions import fromstring

        try:
            package = Manifest.from_tree(cast("Any", fromstring(archive.read(manifest))))
        except Exception:  # openpyxl refuses the file itself, with its own words
            package = None
        if package is not None:
            sheets = {
                part.PartName.lstrip("/")
                for part in package.Override
                if part.ContentType == _WORKSHEET_TYPE
            }
    total = 0
    for info in archive.infolist():
        name = info.filename
        streamed = name in sheets and not (
            name.lower().startswith(_READ_BY_NAME) or name.lower().endswith(".rels")
        )
        if not streamed:
            total += info.file_size
    return total


def _xlsx_rows(request: DatasetRequest) -> Generator[tuple[int, tuple[Any, ...]], None, None]:
    """The first sheet's rows with their numbers, streamed, after refusing files that would
    expand into a bomb. Anything wrong found on the way is a HeadwayError."""
    path = request.file
    shown = request.shown_file
    _check_xlsx_archive(path, shown)

    import openpyxl  # openpyxl uses defusedxml when it is installed, as it is here.

    try:
        workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as error:  # openpyxl raises many kinds for a broken file
        raise HeadwayError(
            Problem(f"cannot be read as .xlsx: {_first_line(error)}", file=shown)
        ) from None
    try:
        if not workbook.worksheets:
            raise HeadwayError(Problem("has no worksheet", file=shown))
        sheet = workbook.worksheets[0]
        for number, values in enumerate(sheet.iter_rows(values_only=True), start=1):
            if number > MAX_XLSX_ROWS:
                raise HeadwayError(Problem(f"has more than {MAX_XLSX_ROWS:,} rows", file=shown))
            if len(values) > MAX_XLSX_COLUMNS:
                raise HeadwayError(Problem(f"has more than {MAX_XLSX_COLUMNS} columns", file=shown))
            yield number, tuple(values)
    except HeadwayError:
        raise
    except Exception as error:  # a broken sheet is found as it is read (XML, CRC, numbers)
        raise HeadwayError(
            Problem(f"cannot be read as .xlsx: {_first_line(error)}", file=shown)
        ) from None
    finally:
        workbook.close()
