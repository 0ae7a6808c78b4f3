"""What every warehouse backend offers the engine, and what they share.

DuckDB always reads and checks the data files (the same errors whatever the backend);
another backend then receives each dataset's typed rows once, keyed by a fingerprint of
the file and of how it was typed, and runs the scans in its own SQL dialect.
"""

from __future__ import annotations

import glob
import hashlib
import json
import secrets
import time
from abc import ABC, abstractmethod
from collections.abc import Iterable
from decimal import Decimal
from pathlib import Path
from typing import Any

from headway.engine.backends.url import BackendKind, WarehouseUrl
from headway.engine.data import LoadedDataset, Warehouse, file_stat, quote_identifier

# Bumped when the way typed data is handed over changes, so old copies are not reused.
FORMAT_VERSION = 1

_INTEGERS = {
    "TINYINT": "SMALLINT",
    "UTINYINT": "SMALLINT",
    "SMALLINT": "SMALLINT",
    "USMALLINT": "INTEGER",
    "INTEGER": "INTEGER",
    "UINTEGER": "BIGINT",
    "BIGINT": "BIGINT",
    "UBIGINT": "DECIMAL(38,0)",
    "HUGEINT": "DECIMAL(38,0)",
    "UHUGEINT": "DECIMAL(38,0)",
}
_TIMES = {"TIMESTAMP", "TIMESTAMP_NS", "TIMESTAMP_MS", "TIMESTAMP_S", "DATETIME"}
INTEGER_TYPES = frozenset({"SMALLINT", "INTEGER", "BIGINT"})


class QueryFailed(Exception):
    """A scan the backend could not run; the message is its first line, for people."""


def portable_type(duckdb_type: str) -> str:
    """The type a column travels as: one that DuckDB, PostgreSQL and Spark all have.

    Unsigned and huge integers become DECIMAL(38,0) and FLOAT becomes DOUBLE, so sums
    cannot overflow or lose digits where DuckDB's would not; anything exotic (a time zone
    aware timestamp kept as a dimension, a list, a blob) travels as DuckDB's text of it,
    which is what DuckDB itself groups by.
    """
    kind = duckdb_type.upper()
    if kind in _INTEGERS:
        return _INTEGERS[kind]
    if kind in ("FLOAT", "REAL", "DOUBLE", "FLOAT4", "FLOAT8"):
        return "DOUBLE"
    if kind.startswith("DECIMAL"):
        return kind.replace(" ", "")
    if kind in _TIMES:
        return "TIMESTAMP"
    if kind in ("BOOLEAN", "DATE", "VARCHAR"):
        return kind
    return "VARCHAR"


def export_columns(dataset: LoadedDataset) -> list[tuple[str, str, str]]:
    """(name, portable type, DuckDB expression over the typed view) of every column."""
    columns = []
    for name, kind in dataset.column_types.items():
        target = portable_type(kind)
        column = quote_identifier(name)
        same = target == kind.upper().replace(" ", "")
        columns.append((name, target, column if same else f"CAST({column} AS {target})"))
    return columns


def source_files(path: Path) -> list[Path]:
    """The files behind a dataset: one file, every file of a folder, or a glob's matches."""
    if path.is_dir():
        return sorted(item for item in path.rglob("*") if item.is_file())
    if not path.exists() and any(mark in str(path) for mark in "*?["):
        return sorted(Path(item) for item in glob.glob(str(path), recursive=True))
    return [path]


def fingerprint(dataset: LoadedDataset, timezone: str) -> str:
    """Changes whenever the data behind a dataset or the way it is typed changes: the files'
    paths, sizes, modification times and inodes (as make does, and an import's rename
    gives a new inode even within one tick of a coarse clock), the columns and their casts.

    A file that changed after DuckDB began reading it (an import or an edit during the
    compute) gets a fingerprint of its own that no later compute matches: the rows copied
    now are those DuckDB read, which may not be the file's current ones, so the next
    compute copies again rather than take them for the new file's."""
    files = []
    if dataset.file is not None:
        for item in source_files(dataset.file):
            try:
                stat = item.stat()
            except OSError:
                continue  # gone since DuckDB read it: the next compute sees the change
            files.append([str(item.resolve()), stat.st_size, stat.st_mtime_ns, stat.st_ino])
    facts: dict[str, Any] = {
        "version": FORMAT_VERSION,
        "files": files,
        "columns": [list(column) for column in export_columns(dataset)],
        "definition": dataset.definition,
        "timezone": timezone,
    }
    read = dataset.read_stat
    if dataset.file is not None and read is not None and file_stat(dataset.file) != read:
        facts["changed while read"] = secrets.token_hex(16)
    return hashlib.sha256(json.dumps(facts, sort_keys=True).encode()).hexdigest()


def plain_record(record: Iterable[Any]) -> tuple[Any, ...]:
    """A row as DuckDB would give it: PostgreSQL's and Spark's exact sums of integers come
    back as whole Decimals (ints for DuckDB), their other Decimals as DuckDB's would."""
    values = []
    for value in record:
        if isinstance(value, Decimal) and value.is_finite():
            exponent = value.as_tuple().exponent
            if isinstance(exponent, int) and exponent >= 0:
                value = int(value)
        values.append(value)
    return tuple(values)


class Backend(ABC):
    """Where the scans run. Created by `headway.engine.backends.connect`."""

    kind: BackendKind
    dialect: str
    label: str

    def __init__(self, url: WarehouseUrl, warehouse: Warehouse) -> None:
        self.url = url
        self.warehouse = warehouse
        # What the last prepare did, for explain output, tests and the benchmark.
        self.loaded: list[str] = []
        self.reused: list[str] = []
        self.load_seconds = 0.0
        self._prepared: set[str] = set()

    def prepare(self, datasets: Iterable[LoadedDataset]) -> None:
        """Makes each dataset's typed rows available to the backend (once per engine)."""
        for dataset in datasets:
            if dataset.view in self._prepared:
                continue
            started = time.perf_counter()
            self._prepare(dataset)
            self.load_seconds += time.perf_counter() - started
            self._prepared.add(dataset.view)

    @abstractmethod
    def _prepare(self, dataset: LoadedDataset) -> None: ...

    @abstractmethod
    def relation(self, dataset: LoadedDataset) -> str:
        """The name scans read the dataset from, in the backend's SQL."""

    @abstractmethod
    def fetch(self, sql: str) -> list[tuple[Any, ...]]:
        """Runs one query (in the backend's dialect); raises QueryFailed."""

    def render(self, duckdb_sql: str) -> str:
        """DuckDB's SQL in the backend's dialect (sqlglot)."""
        from headway.engine.plan import to_dialect

        return to_dialect(duckdb_sql, self.dialect)

    def describe(self, dataset: LoadedDataset) -> str:
        """A comment for explain output: how the data reached the backend."""
        return ""

    def close(self) -> None:
        return None
