"""The embedded DuckDB: scans run on the warehouse connection's own typed views."""

from __future__ import annotations

from typing import Any

import duckdb

from headway.engine.backends.base import Backend, QueryFailed
from headway.engine.backends.url import BackendKind
from headway.engine.data import LoadedDataset


class DuckDbBackend(Backend):
    kind = BackendKind.DUCKDB
    dialect = "duckdb"
    label = "DuckDB"

    def _prepare(self, dataset: LoadedDataset) -> None:
        # The view over the file is already there: nothing is copied.
        self.reused.append(dataset.name)

    def relation(self, dataset: LoadedDataset) -> str:
        return dataset.view

    def fetch(self, sql: str) -> list[tuple[Any, ...]]:
        try:
            return self.warehouse.connection.execute(sql).fetchall()
        except duckdb.Error as error:
            raise QueryFailed(str(error).splitlines()[0]) from None
