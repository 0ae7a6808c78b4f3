"""Warehouse backends: where the engine's scans run (docs/warehouse.md).

DuckDB (embedded, the default) reads and checks every data file whatever the backend;
PostgreSQL and Spark then receive the typed rows and run the scans in their own dialect.
Drivers are imported only when their backend is used.
"""

from __future__ import annotations

from headway.engine.backends.base import Backend, QueryFailed
from headway.engine.backends.url import (
    BackendKind,
    WarehouseUrl,
    WarehouseUrlError,
    mask,
    parse_url,
)
from headway.engine.data import Warehouse
from headway.engine.problems import HeadwayError, Problem

__all__ = [
    "Backend",
    "BackendKind",
    "QueryFailed",
    "WarehouseUrl",
    "WarehouseUrlError",
    "connect",
    "mask",
    "parse_url",
]


def connect(url: str | WarehouseUrl | None, warehouse: Warehouse) -> Backend:
    """The backend a warehouse URL names, connected; HeadwayError when it cannot be."""
    if not isinstance(url, WarehouseUrl):
        try:
            url = parse_url(url)
        except WarehouseUrlError as error:
            raise HeadwayError(Problem(str(error))) from None
    if url.kind is BackendKind.POSTGRES:
        from headway.engine.backends.postgres import PostgresBackend

        return PostgresBackend(url, warehouse)
    if url.kind is BackendKind.SPARK:
        from headway.engine.backends.spark import SparkBackend

        return SparkBackend(url, warehouse)
    from headway.engine.backends.duckdb import DuckDbBackend

    return DuckDbBackend(url, warehouse)
