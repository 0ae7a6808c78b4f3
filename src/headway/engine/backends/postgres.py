"""PostgreSQL as the warehouse: typed datasets copied in with COPY, scans run there.

Each dataset becomes one table of the configured schema, filled by COPY from a CSV that
DuckDB writes of the checked, typed rows (never row by row). A small table,
`headway_loaded`, remembers the fingerprint of what each table holds, so an unchanged file
is not copied again by the next compute or by another process. Headway's sessions turn
PostgreSQL's JIT off: measured here, it made these aggregate queries 30-90% slower.
"""

# Identifiers are quoted and values bound or quoted as literals; ruff cannot see it.
# ruff: noqa: S608

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from headway.engine.backends.base import (
    Backend,
    QueryFailed,
    export_columns,
    fingerprint,
    plain_record,
)
from headway.engine.backends.url import BackendKind, WarehouseUrl
from headway.engine.data import LoadedDataset, Warehouse, quote_identifier, quote_literal
from headway.engine.problems import HeadwayError, Problem

if TYPE_CHECKING:
    import psycopg

LOADED_TABLE = "headway_loaded"
COPY_CHUNK_BYTES = 1024 * 1024
MAX_IDENTIFIER_BYTES = 63
_TYPES = {
    "BOOLEAN": "boolean",
    "SMALLINT": "smallint",
    "INTEGER": "integer",
    "BIGINT": "bigint",
    "DOUBLE": "double precision",
    "VARCHAR": "text",
    "TIMESTAMP": "timestamp without time zone",
    "DATE": "date",
}


def postgres_type(portable: str) -> str:
    if portable.startswith("DECIMAL"):
        return portable.replace("DECIMAL", "numeric")
    return _TYPES[portable]


def _first_line(error: Exception) -> str:
    lines = str(error).strip().splitlines()
    return lines[0][:300] if lines else type(error).__name__


class PostgresBackend(Backend):
    kind = BackendKind.POSTGRES
    dialect = "postgres"
    label = "PostgreSQL"

    def __init__(self, url: WarehouseUrl, warehouse: Warehouse) -> None:
        super().__init__(url, warehouse)
        import psycopg

        self.schema = url.schema
        try:
            self.connection: psycopg.Connection[Any] = psycopg.connect(
                url.conninfo,
                autocommit=True,
                connect_timeout=10,
                application_name="headway-warehouse",
            )
        except psycopg.Error as error:
            raise HeadwayError(
                Problem(
                    f"cannot reach the PostgreSQL warehouse at {url.where} ({url.masked}): "
                    f"{_first_line(error)}"
                )
            ) from None
        self.tables: dict[str, str] = {}
        try:
            self._start_session()
        except psycopg.Error as error:
            self.connection.close()
            raise HeadwayError(
                Problem(
                    f"the PostgreSQL warehouse {url.masked} refused to set up schema "
                    f"{self.schema}: {_first_line(error)} (docs/warehouse.md lists the "
                    "privileges it needs)"
                )
            ) from None

    def _start_session(self) -> None:
        schema = quote_identifier(self.schema)
        with self.connection.cursor() as cursor:
            # JIT compiles each of these short aggregate queries anew: 30-90% slower here.
            cursor.execute("SET jit = off")
            cursor.execute(f"SET statement_timeout = '{int(self.url.statement_timeout_s)}s'")
            cursor.execute("SET TimeZone = 'UTC'")
            cursor.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", (self.schema,))
            if cursor.fetchone() is None:
                # Checked first: CREATE SCHEMA IF NOT EXISTS needs the CREATE privilege on
                # the database even when the schema exists.
                cursor.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
            cursor.execute(
                f"CREATE TABLE IF NOT EXISTS {schema}.{LOADED_TABLE} ("
                "table_name text PRIMARY KEY, dataset text NOT NULL, source text NOT NULL, "
                "fingerprint text NOT NULL, row_count bigint NOT NULL, "
                "loaded_at timestamp with time zone NOT NULL DEFAULT now())"
            )

    def table_name(self, dataset: LoadedDataset) -> str:
        """One table per dataset name and file: hw_<name>_<hash of the file's path>."""
        plain = re.sub(r"[^a-z0-9_]", "_", dataset.name.lower())[:40]
        source = str(dataset.file.resolve()) if dataset.file is not None else dataset.shown_file
        digest = hashlib.sha256(f"{dataset.name}\n{source}".encode()).hexdigest()[:10]
        return f"hw_{plain}_{digest}"

    def relation(self, dataset: LoadedDataset) -> str:
        return f"{quote_identifier(self.schema)}.{quote_identifier(self.table_name(dataset))}"

    def _prepare(self, dataset: LoadedDataset) -> None:
        import psycopg

        for name in dataset.column_types:
            if len(name.encode()) > MAX_IDENTIFIER_BYTES:
                raise HeadwayError(
                    Problem(
                        f"column {name[:40]!r}... of dataset {dataset.name} has a name longer "
                        f"than PostgreSQL's {MAX_IDENTIFIER_BYTES} bytes",
                        file=dataset.shown_file,
                    )
                )
        table = self.table_name(dataset)
        digest = fingerprint(dataset, self.warehouse.timezone)
        relation = self.relation(dataset)
        loaded = f"{quote_identifier(self.schema)}.{LOADED_TABLE}"
        try:
            with self.connection.transaction(), self.connection.cursor() as cursor:
                # Two processes loading the same table wait for each other, and the second
                # finds the first one's copy current.
                cursor.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (relation,))
                cursor.execute(
                    f"SELECT fingerprint, to_regclass(%s) IS NOT NULL FROM {loaded} "
                    "WHERE table_name = %s",
                    (relation, table),
                )
                row = cursor.fetchone()
                if row is not None and row[0] == digest and row[1]:
                    self.reused.append(dataset.name)
                    return
                count = self._copy(cursor, dataset, relation)
                cursor.execute(
                    f"INSERT INTO {loaded} (table_name, dataset, source, fingerprint, row_count) "
                    "VALUES (%s, %s, %s, %s, %s) ON CONFLICT (table_name) DO UPDATE SET "
                    "dataset = excluded.dataset, source = excluded.source, "
                    "fingerprint = excluded.fingerprint, row_count = excluded.row_count, "
                    "loaded_at = now()",
                    (table, dataset.name, dataset.shown_file, digest, count),
                )
            # Statistics for the planner, outside the load's transaction.
            with self.connection.cursor() as cursor:
                cursor.execute(f"ANALYZE {relation}")
        except psycopg.Error as error:
            raise HeadwayError(
                Problem(
                    f"copying dataset {dataset.name} into the PostgreSQL warehouse "
                    f"{self.url.masked} failed: {_first_line(error)}",
                    file=dataset.shown_file,
                )
            ) from None
        self.loaded.append(dataset.name)

    def _copy(self, cursor: psycopg.Cursor[Any], dataset: LoadedDataset, relation: str) -> int:
        """Replaces the table with the dataset's typed rows, streamed with COPY."""
        columns = export_columns(dataset)
        definitions = ", ".join(
            f"{quote_identifier(name)} {postgres_type(kind)}" for name, kind, _ in columns
        )
        cursor.execute(f"DROP TABLE IF EXISTS {relation}")
        cursor.execute(f"CREATE TABLE {relation} ({definitions})")
        select = ", ".join(expression for _, _, expression in columns)
        descriptor, name = tempfile.mkstemp(prefix="headway-copy-", suffix=".csv")
        os.close(descriptor)
        path = Path(name)
        try:
            # DuckDB writes the CSV in parallel: NULL as an empty field, an empty text as
            # "" (PostgreSQL's CSV format reads them the same way), doubles so that they
            # read back to the same bits.
            self.warehouse.connection.execute(
                f"COPY (SELECT {select} FROM {dataset.view}) TO {quote_literal(str(path))} "
                "(FORMAT csv, HEADER false)"
            )
            names = ", ".join(quote_identifier(name) for name, _, _ in columns)
            with (
                path.open("rb") as handle,
                cursor.copy(f"COPY {relation} ({names}) FROM STDIN (FORMAT csv)") as copy,
            ):
                while chunk := handle.read(COPY_CHUNK_BYTES):
                    copy.write(chunk)
            return max(cursor.rowcount, 0)
        finally:
            path.unlink(missing_ok=True)

    def fetch(self, sql: str) -> list[tuple[Any, ...]]:
        import psycopg

        try:
            with self.connection.cursor() as cursor:
                cursor.execute(sql)
                return [plain_record(record) for record in cursor.fetchall()]
        except psycopg.Error as error:
            raise QueryFailed(_first_line(error)) from None

    def describe(self, dataset: LoadedDataset) -> str:
        return (
            f"-- PostgreSQL table {self.relation(dataset)} ({self.url.masked}): the typed rows "
            f"of the view below, copied in with COPY when {dataset.shown_file} changes\n"
        )

    def close(self) -> None:
        self.connection.close()
