"""Apache Spark as the warehouse: typed datasets staged as Parquet, scans in Spark SQL.

DuckDB writes each checked, typed dataset once to a Parquet file named by its fingerprint
in the staging folder; Spark reads it as a temporary view. One Spark session serves the
whole process (starting one takes ~20 s). The session's time zone is UTC and timestamps
are TIMESTAMP_NTZ, so the local wall times the engine works in never shift.
"""

# Identifiers are quoted and values bound or quoted as literals; ruff cannot see it.
# ruff: noqa: S608

from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
import socket
import threading
from pathlib import Path
from typing import Any

from headway.engine.backends.base import (
    Backend,
    QueryFailed,
    export_columns,
    fingerprint,
    plain_record,
)
from headway.engine.backends.url import BackendKind, WarehouseUrl
from headway.engine.data import LoadedDataset, Warehouse, quote_literal
from headway.engine.problems import HeadwayError, Problem

SHUFFLE_PARTITIONS = 4
_SESSIONS: dict[str, Any] = {}
_LOCK = threading.Lock()
_CONFIG = {
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    # The scans' results are a few hundred rows: Spark's default 200 partitions only add
    # tasks.
    "spark.sql.shuffle.partitions": str(SHUFFLE_PARTITIONS),
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.timestampType": "TIMESTAMP_NTZ",
    "spark.sql.parquet.inferTimestampNTZ.enabled": "true",
}


def default_staging(environ: dict[str, str] | None = None) -> Path:
    env = dict(os.environ) if environ is None else environ
    base = env.get("HEADWAY_CACHE_DIR")
    if base:
        return Path(base) / "spark"
    cache_home = env.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache_home) / "headway" / "spark"


def _first_line(error: BaseException) -> str:
    for line in str(error).strip().splitlines():
        if line.strip():
            return line.strip()[:300]
    return type(error).__name__


def _reachable(url: WarehouseUrl, what: str) -> None:
    assert url.port is not None
    try:
        with socket.create_connection((url.host, url.port), timeout=5):
            pass
    except OSError as error:
        raise HeadwayError(
            Problem(f"cannot reach the {what} at {url.where} ({url.masked}): {error.strerror}")
        ) from None


def _missing(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is None
    except (ImportError, ValueError):
        return True


def _check_requirements(url: WarehouseUrl) -> None:
    try:
        import pyspark  # noqa: F401
    except ImportError:
        raise HeadwayError(
            Problem(
                f"the Spark warehouse {url.masked} needs PySpark, which is not installed: "
                "install Headway with its spark extra (pip install 'headway[spark]')"
            )
        ) from None
    if url.spark_remote:
        # The modules pyspark's connect client imports (pip install 'pyspark[connect]').
        for module in ("grpc", "grpc_status", "google.protobuf", "zstandard"):
            if _missing(module):
                raise HeadwayError(
                    Problem(
                        f"Spark Connect ({url.masked}) needs PySpark's connect client, and "
                        f"{module} is not installed: pip install 'pyspark[connect]'"
                    )
                )
        _reachable(url, "Spark Connect server")
        return
    java_home = os.environ.get("JAVA_HOME")
    java = Path(java_home) / "bin" / "java" if java_home else None
    if not (java is not None and java.exists()) and shutil.which("java") is None:
        raise HeadwayError(
            Problem(
                f"the Spark warehouse {url.masked} needs Java 17 or newer, and no `java` was "
                "found: install it (Debian: apt-get install default-jre-headless) or set "
                "JAVA_HOME"
            )
        )
    if url.host != "local":
        _reachable(url, "Spark master")


def spark_session(url: WarehouseUrl) -> Any:
    """The process's Spark session for this URL, started on first use."""
    key = url.spark_remote or url.spark_master
    with _LOCK:
        if key in _SESSIONS:
            return _SESSIONS[key]
        _check_requirements(url)
        from pyspark.sql import SparkSession

        if url.spark_remote:
            builder = SparkSession.builder.remote(url.spark_remote)
        else:
            if _SESSIONS:
                # A process has one Spark context, bound to one master.
                raise HeadwayError(
                    Problem(
                        f"this process already runs Spark on {next(iter(_SESSIONS))}; "
                        f"it cannot also use {url.masked}"
                    )
                )
            builder = SparkSession.builder.master(url.spark_master)
        builder = builder.appName("headway")
        for name, value in _CONFIG.items():
            builder = builder.config(name, value)
        try:
            session = builder.getOrCreate()
        except Exception as error:  # py4j and Spark raise many kinds on start-up
            raise HeadwayError(
                Problem(f"cannot start Spark for {url.masked}: {_first_line(error)}")
            ) from None
        if not url.spark_remote:
            session.sparkContext.setLogLevel("ERROR")
        _SESSIONS[key] = session
        return session


def stop_sessions() -> None:
    """Stops the process's Spark sessions (and their JVM's work), e.g. after a test."""
    with _LOCK:
        for session in _SESSIONS.values():
            session.stop()
        _SESSIONS.clear()


class SparkBackend(Backend):
    kind = BackendKind.SPARK
    dialect = "spark"
    label = "Spark"

    def __init__(self, url: WarehouseUrl, warehouse: Warehouse) -> None:
        super().__init__(url, warehouse)
        self.session = spark_session(url)
        self.staging = Path(url.staging) if url.staging else default_staging()
        self.views: dict[str, str] = {}
        self.files: dict[str, Path] = {}

    def _prepare(self, dataset: LoadedDataset) -> None:
        digest = fingerprint(dataset, self.warehouse.timezone)[:32]
        source = str(dataset.file.resolve()) if dataset.file is not None else dataset.shown_file
        place = hashlib.sha256(f"{dataset.name}\n{source}".encode()).hexdigest()[:16]
        folder = self.staging / place
        target = folder / f"{digest}.parquet"
        columns = export_columns(dataset)
        if target.exists():
            self.reused.append(dataset.name)
        else:
            folder.mkdir(parents=True, exist_ok=True)
            partial = folder / f".{digest}.{os.getpid()}.partial"
            # Positional names in the file: Parquet and Spark refuse some characters in
            # column names that a CSV header may hold; the view gives the real ones back.
            select = ", ".join(
                f"{expression} AS c{index}" for index, (_, _, expression) in enumerate(columns)
            )
            try:
                self.warehouse.connection.execute(
                    f"COPY (SELECT {select} FROM {dataset.view}) TO "
                    f"{quote_literal(str(partial))} (FORMAT parquet)"
                )
                partial.replace(target)
            finally:
                partial.unlink(missing_ok=True)
            for old in folder.glob("*.parquet"):
                if old != target:
                    old.unlink(missing_ok=True)
            self.loaded.append(dataset.name)
        view = f"hw_{digest[:24]}"
        try:
            frame = self.session.read.parquet(str(target.resolve()))
            frame.toDF(*(name for name, _, _ in columns)).createOrReplaceTempView(view)
        except Exception as error:  # py4j and Spark raise many kinds
            raise HeadwayError(
                Problem(
                    f"Spark ({self.url.masked}) cannot read the staged data of dataset "
                    f"{dataset.name} at {target}: {_first_line(error)}",
                    file=dataset.shown_file,
                )
            ) from None
        self.views[dataset.view] = view
        self.files[dataset.view] = target

    def relation(self, dataset: LoadedDataset) -> str:
        return self.views[dataset.view]

    def fetch(self, sql: str) -> list[tuple[Any, ...]]:
        try:
            rows = self.session.sql(sql).collect()
        except Exception as error:  # py4j and Spark raise many kinds
            raise QueryFailed(_first_line(error)) from None
        return [plain_record(tuple(row)) for row in rows]

    def describe(self, dataset: LoadedDataset) -> str:
        return (
            f"-- Spark view {self.views.get(dataset.view, '?')} ({self.url.masked}): the typed "
            f"rows of the view below, staged as Parquet at {self.files.get(dataset.view)}\n"
        )
