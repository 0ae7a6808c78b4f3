"""Backups of an installation in one file, and their restore.

A backup is one tar file holding:

    database/headway.sqlite3   the app database on SQLite: a consistent snapshot made by
                               SQLite's online backup API, or
    database/headway.pgdump    on PostgreSQL: `pg_dump --format=custom`
    warehouse/...              every file of the warehouse (HEADWAY_WAREHOUSE_DIR)
    secrets/credentials_key    the key of the sources' credentials, when DATA_DIR keeps it
    manifest.json              Headway's version, the migrations applied, each table's row
                               count and checksum, each file's size and sha256
    manifest.sha256            the sha256 of manifest.json

The snapshot and the warehouse are taken while every dataset's import lock is held (the
lock imports take), so no import swaps a table in between: the backup is a state the
installation was in. A recompute needs no lock: it writes in one transaction, which the
snapshot holds whole or not at all.

A restore checks everything before it changes anything: the manifest's own checksum,
every file's sha256, the migrations (a backup made by a newer Headway is refused), and a
target that already holds data (refused unless `force`). It then puts the database and
the warehouse in place, compares every table's row count and checksum with the manifest,
points the datasets at the warehouse where it now is, and migrates a backup made by an
older Headway. Sessions, pending uploads and the secret key are not backed up: people
sign in again after a restore.
"""

# SQL text here is built only from table and column names read from the database's own
# catalog, quoted by `_quote`.
# ruff: noqa: S608

from __future__ import annotations

import datetime
import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path, PurePosixPath
from typing import IO, Any

from django.conf import settings
from django.db import connection, connections, transaction

from headway.engine.problems import HeadwayError, Problem
from headway.ingestion.services import _dataset_lock
from headway.kpis.models import Dataset

FORMAT = "headway-backup"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
MANIFEST_SUM = "manifest.sha256"
DATABASE_MEMBERS = {"sqlite": "database/headway.sqlite3", "postgresql": "database/headway.pgdump"}
WAREHOUSE = "warehouse"
SECRETS = "secrets"
SECRET_FILES = ("credentials_key",)
VENDOR_NAMES = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}
# Tables that a freshly migrated database already fills: a target holding rows in these
# only is empty.
# Tables a freshly migrated database already fills (changes_generation: the two
# generations of headway.changes).
BOOKKEEPING = frozenset(
    {"django_migrations", "django_content_type", "auth_permission", "changes_generation"}
)
CHUNK = 1024 * 1024
# Options of Django's PostgreSQL connection that are psycopg's, not libpq's.
DRIVER_OPTIONS = frozenset(
    {"prepare_threshold", "server_side_binding", "isolation_level", "assume_role", "pool"}
)
# How rows are written as text for their checksums on PostgreSQL: the same whatever the
# server's or the session's defaults.
PG_TEXT_SETTINGS = (
    ("TimeZone", "UTC"),
    ("DateStyle", "ISO, YMD"),
    ("IntervalStyle", "iso_8601"),
    ("extra_float_digits", "1"),
    ("bytea_output", "hex"),
)


@dataclass(frozen=True)
class TableSum:
    """A table's row count and the sha256 of its rows in primary-key order."""

    rows: int
    sha256: str

    def as_json(self) -> dict[str, Any]:
        return {"rows": self.rows, "sha256": self.sha256}


@dataclass(frozen=True)
class BackupSummary:
    path: Path
    vendor: str
    tables: int
    rows: int
    files: int
    warehouse_bytes: int
    archive_bytes: int
    secrets: tuple[str, ...]
    warnings: tuple[str, ...]


@dataclass(frozen=True)
class RestoreSummary:
    source: Path
    vendor: str
    created_at: str
    tables: int
    rows: int
    files: int
    migrated: tuple[str, ...]
    relocated: tuple[str, ...]
    secrets: tuple[str, ...]
    replaced: bool
    warnings: tuple[str, ...]


# Checksums ----------------------------------------------------------------------------


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _digest_file(path: Path) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def sqlite_table_sums(database: sqlite3.Connection) -> dict[str, TableSum]:
    """Every table's rows (SQLite's own tables included), in primary-key order."""
    names = [
        str(row[0])
        for row in database.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name"
        )
    ]
    sums = {}
    for name in names:
        columns = database.execute(f"PRAGMA table_info({_quote(name)})").fetchall()
        key = [str(column[1]) for column in sorted(columns, key=lambda c: c[5]) if column[5]]
        order = ", ".join(_quote(column) for column in key or [str(c[1]) for c in columns])
        digest = hashlib.sha256()
        count = 0
        for row in database.execute(f"SELECT * FROM {_quote(name)} ORDER BY {order}"):
            digest.update(repr(row).encode("utf-8") + b"\n")
            count += 1
        sums[name] = TableSum(count, digest.hexdigest())
    return sums


def _sqlite_migrations(database: sqlite3.Connection) -> dict[str, list[str]]:
    applied: dict[str, list[str]] = {}
    for app, name in database.execute("SELECT app, name FROM django_migrations ORDER BY app, name"):
        applied.setdefault(str(app), []).append(str(name))
    return applied


def _pg_table_sums(raw: Any) -> dict[str, TableSum]:
    """Every table of the current schema, each row as PostgreSQL writes it as text, in
    primary-key order. `raw` is a psycopg connection inside a transaction."""
    with raw.cursor() as cursor:
        for name, value in PG_TEXT_SETTINGS:
            cursor.execute("SELECT set_config(%s, %s, true)", (name, value))
        cursor.execute(
            "SELECT c.oid, c.relname FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p') ORDER BY c.relname"
        )
        tables = cursor.fetchall()
        keys = {}
        for oid, name in tables:
            cursor.execute(
                "SELECT a.attname FROM pg_index i JOIN pg_attribute a "
                "ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey) "
                "WHERE i.indrelid = %s AND i.indisprimary "
                "ORDER BY array_position(i.indkey::int2[], a.attnum)",
                (oid,),
            )
            keys[name] = [str(row[0]) for row in cursor.fetchall()]
    sums = {}
    for index, (_, name) in enumerate(tables):
        order = ", ".join(_quote(column) for column in keys[name]) or "1"
        digest = hashlib.sha256()
        count = 0
        with raw.cursor(name=f"headway_backup_{index}") as rows:
            rows.itersize = 5000
            rows.execute(
                f"SELECT headway_backup_row::text FROM {_quote(name)} headway_backup_row "
                f"ORDER BY {order}"
            )
            for (text,) in rows:
                digest.update(text.encode("utf-8") + b"\n")
                count += 1
        sums[str(name)] = TableSum(count, digest.hexdigest())
    return sums


def _pg_migrations(raw: Any) -> dict[str, list[str]]:
    applied: dict[str, list[str]] = {}
    with raw.cursor() as cursor:
        cursor.execute("SELECT app, name FROM django_migrations ORDER BY app, name")
        for app, name in cursor.fetchall():
            applied.setdefault(str(app), []).append(str(name))
    return applied


def _code_migrations() -> dict[str, set[str]]:
    """The migrations this version of Headway has, per app."""
    from django.db.migrations.loader import MigrationLoader

    loader = MigrationLoader(None, ignore_no_migrations=True)
    known: dict[str, set[str]] = {}
    for app, name in loader.disk_migrations:
        known.setdefault(app, set()).add(name)
    return known


def _version() -> str:
    try:
        return metadata.version("headway")
    except metadata.PackageNotFoundError:
        return "unknown"


# The database as it is here ---------------------------------------------------------------


def _vendor() -> str:
    vendor = str(connection.vendor)
    if vendor not in DATABASE_MEMBERS:
        raise HeadwayError(f"backups are made of SQLite and PostgreSQL databases, not {vendor}")
    return vendor


def _sqlite_path() -> Path:
    name = str(connection.settings_dict["NAME"])
    if name in ("", ":memory:") or name.startswith("file:"):
        raise HeadwayError(f"the SQLite database {name!r} is not a file that can be backed up")
    return Path(name)


def _table_names() -> list[str]:
    with connection.cursor() as cursor:
        return sorted(connection.introspection.table_names(cursor))


def _tables_with_rows() -> list[str]:
    """The tables of the app database here that hold rows, bookkeeping apart."""
    found = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names(cursor):
            if table in BOOKKEEPING or table.startswith("sqlite_"):
                continue
            cursor.execute(f"SELECT 1 FROM {_quote(table)} LIMIT 1")
            if cursor.fetchone() is not None:
                found.append(table)
    return sorted(found)


def _pg_program(name: str) -> str:
    """A PostgreSQL client program: the server's major version's own (Debian keeps one per
    version), else the one on the PATH."""
    major = int(getattr(connection, "pg_version", 0) or 0) // 10000
    own = Path(f"/usr/lib/postgresql/{major}/bin/{name}")
    if major and own.is_file():
        return str(own)
    found = shutil.which(name)
    if found is None:
        raise HeadwayError(
            f"{name} was not found: install PostgreSQL's client programs of the server's "
            f"version ({major or 'unknown'}) or newer (Debian: apt-get install postgresql-client)"
        )
    return found


def _pg_target() -> tuple[str, dict[str, str]]:
    """The connection string of the app database (without its password) for PostgreSQL's
    programs, and their environment (the password in PGPASSWORD, never on a command line)."""
    from psycopg.conninfo import make_conninfo

    # The parameters Django connects with (DATABASE_URL and its options), as libpq knows
    # them: not the connection's own list, which holds options of psycopg's newer libpq
    # that an older pg_dump refuses.
    params = dict(connection.get_connection_params())
    password = params.pop("password", None)
    dsn = make_conninfo(
        "",
        **{
            name: value
            for name, value in params.items()
            if isinstance(value, str | int) and name not in DRIVER_OPTIONS
        },
    )
    environment = dict(os.environ)
    if password:
        environment["PGPASSWORD"] = str(password)
    # DROP ... CASCADE and a restore are chatty: warnings and errors are what matter. A
    # table in use elsewhere (Headway still running) stops a restore rather than hangs it.
    environment["PGOPTIONS"] = "-c client_min_messages=warning -c lock_timeout=60s"
    return dsn, environment


def _run(command: list[str], environment: dict[str, str], what: str, **kwargs: Any) -> None:
    # Only the fixed programs' paths, our options, files of our own and the connection
    # string of the configured database are passed.
    completed = subprocess.run(  # noqa: S603
        command, env=environment, capture_output=True, text=True, check=False, **kwargs
    )
    if completed.returncode != 0:
        said = " ".join((completed.stderr or completed.stdout).split())[:2000]
        raise HeadwayError(f"{what} failed: {said or f'exit status {completed.returncode}'}")


# Making a backup --------------------------------------------------------------------------


@contextmanager
def _imports_paused(wait_seconds: float) -> Iterator[None]:
    """Holds every dataset's import lock: no import runs, or swaps a table, meanwhile.

    Waits up to `wait_seconds` for running imports; imports started meanwhile are told
    another one is running and to try again."""
    datasets = list(Dataset.objects.order_by("key"))
    deadline = time.monotonic() + wait_seconds
    while True:
        stack = ExitStack()
        busy = None
        for dataset in datasets:
            try:
                stack.enter_context(_dataset_lock(dataset))
            except HeadwayError:
                busy = dataset.key
                break
        if busy is None:
            break
        stack.close()
        if time.monotonic() >= deadline:
            raise HeadwayError(
                f"dataset {busy}: an import is still running after {wait_seconds:g} s; "
                "nothing was backed up. Try again when it is done"
            )
        time.sleep(0.2)
    with stack:
        yield


def _sqlite_snapshot(target: Path) -> tuple[dict[str, TableSum], dict[str, list[str]], str]:
    source = sqlite3.connect(str(_sqlite_path()), timeout=30)
    copy = sqlite3.connect(str(target))
    try:
        # One step (all pages at once): a consistent snapshot, whatever writes meanwhile.
        source.backup(copy)
        # The copy stands alone: one file, no write-ahead log beside it.
        copy.execute("PRAGMA journal_mode=DELETE")
        copy.commit()
        return sqlite_table_sums(copy), _sqlite_migrations(copy), sqlite3.sqlite_version
    finally:
        copy.close()
        source.close()


def _pg_snapshot(target: Path) -> tuple[dict[str, TableSum], dict[str, list[str]], str]:
    dsn, environment = _pg_target()
    program = _pg_program("pg_dump")
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        cursor.execute("SELECT pg_export_snapshot(), current_setting('server_version')")
        found = cursor.fetchone()
        assert found is not None
        snapshot, server = str(found[0]), str(found[1])
        # pg_dump reads the snapshot this transaction holds, so the dump, the checksums
        # and the migrations below are of one and the same state.
        _run(
            [
                program,
                "--format=custom",
                f"--snapshot={snapshot}",
                "--no-sync",
                "--file",
                str(target),
                "--dbname",
                dsn,
            ],
            environment,
            "pg_dump",
        )
        raw = connection.connection
        return _pg_table_sums(raw), _pg_migrations(raw), f"PostgreSQL {server}"


class _Hashing:
    """A file read through, counting its bytes into a sha256."""

    def __init__(self, handle: IO[bytes]) -> None:
        self.handle = handle
        self.digest = hashlib.sha256()
        self.size = 0

    def read(self, size: int = -1) -> bytes:
        data = self.handle.read(size)
        self.digest.update(data)
        self.size += len(data)
        return data


def _add(archive: tarfile.TarFile, member: str, path: Path) -> dict[str, Any]:
    """Adds a file to the archive and says what was written: its sha256 and size."""
    with path.open("rb") as handle:
        info = tarfile.TarInfo(member)
        info.size = os.fstat(handle.fileno()).st_size
        info.mtime = int(time.time())
        info.mode = 0o600
        reader = _Hashing(handle)
        archive.addfile(info, reader)
    if reader.size != info.size:
        raise HeadwayError(f"{path} changed size while it was being backed up; try again")
    return {"sha256": reader.digest.hexdigest(), "bytes": reader.size}


def _warehouse_files(folder: Path) -> list[Path]:
    """The warehouse's files, without import locks and an import's unfinished tables."""
    if not folder.is_dir():
        return []
    return sorted(
        path
        for path in folder.rglob("*")
        if path.is_file()
        and not (path.name.startswith(".") and path.name.endswith(".lock"))
        and ".tmp-" not in path.name
    )


def _outside_warehouse(warehouse: Path) -> list[str]:
    notes = []
    for key, file in Dataset.objects.order_by("key").values_list("key", "file"):
        path = Path(file)
        if path.is_absolute() and not path.resolve().is_relative_to(warehouse):
            notes.append(
                f"dataset {key} reads {file}, outside the warehouse: that file is not in "
                "the backup (import it, so that its data is in the warehouse)"
            )
    return notes


def _destination(destination: Path) -> Path:
    destination = destination.expanduser()
    if destination.is_dir():
        stamp = datetime.datetime.now(datetime.UTC).strftime("%Y%m%dT%H%M%SZ")
        destination = destination / f"headway-backup-{stamp}.tar"
    if destination.exists():
        raise HeadwayError(
            f"{destination} already exists: a backup is never written over; name a new file"
        )
    if not destination.parent.is_dir():
        raise HeadwayError(f"{destination.parent}: no such folder")
    return destination.resolve()


def backup_create(*, destination: Path, wait_seconds: float = 300.0) -> BackupSummary:
    """Writes a backup of the app database, the warehouse and the credentials key to one
    tar file (`destination`, or a new file in it when it is a folder).

    Raises HeadwayError for what stops it (a file in the way, a missing pg_dump, an
    import that does not end); nothing is left behind then."""
    vendor = _vendor()
    if "django_migrations" not in _table_names():
        raise HeadwayError("the app database has no tables (nothing was set up): no backup made")
    destination = _destination(destination)
    warehouse = Path(settings.HEADWAY_WAREHOUSE_DIR).resolve()
    data_dir = Path(settings.DATA_DIR).resolve()
    warnings = _outside_warehouse(warehouse)
    files: dict[str, dict[str, Any]] = {}
    partial = destination.with_name(f".{destination.name}.partial-{os.getpid()}")
    try:
        with (
            tempfile.TemporaryDirectory(prefix=".headway-backup-", dir=destination.parent) as work,
            tarfile.open(partial, "w", format=tarfile.PAX_FORMAT) as archive,
        ):
            snapshot = Path(work) / "database"
            with _imports_paused(wait_seconds):
                if vendor == "sqlite":
                    sums, migrations, server = _sqlite_snapshot(snapshot)
                    tool = f"sqlite3 online backup (SQLite {sqlite3.sqlite_version})"
                else:
                    sums, migrations, server = _pg_snapshot(snapshot)
                    tool = "pg_dump --format=custom"
                for path in _warehouse_files(warehouse):
                    member = f"{WAREHOUSE}/{path.relative_to(warehouse).as_posix()}"
                    try:
                        files[member] = _add(archive, member, path)
                    except FileNotFoundError:
                        continue  # removed meanwhile (not a table: imports are paused)
            member = DATABASE_MEMBERS[vendor]
            files[member] = _add(archive, member, snapshot)
            secrets = []
            if not settings.HEADWAY_CREDENTIALS_KEYS:
                for name in SECRET_FILES:
                    path = data_dir / name
                    if path.is_file():
                        files[f"{SECRETS}/{name}"] = _add(archive, f"{SECRETS}/{name}", path)
                        secrets.append(name)
            elif _has_credentials():
                warnings.append(
                    "the sources' credentials are encrypted with HEADWAY_CREDENTIALS_KEYS, "
                    "which is not in the backup: keep those keys, a restore cannot read the "
                    "credentials without them"
                )
            manifest = {
                "format": FORMAT,
                "format_version": FORMAT_VERSION,
                "created_at": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
                "headway_version": _version(),
                "database": {"vendor": vendor, "member": member, "server": server, "tool": tool},
                "migrations": migrations,
                "tables": {name: item.as_json() for name, item in sums.items()},
                "warehouse": {"path": str(warehouse)},
                "secrets": secrets,
                "files": files,
                "not_included": warnings,
            }
            text = json.dumps(manifest, indent=1, sort_keys=True, ensure_ascii=False).encode()
            _add_bytes(archive, MANIFEST, text)
            _add_bytes(archive, MANIFEST_SUM, hashlib.sha256(text).hexdigest().encode() + b"\n")
        with partial.open("rb") as handle:
            os.fsync(handle.fileno())
        os.replace(partial, destination)
        _sync_folder(destination.parent)
    except OSError as error:
        raise HeadwayError(_os_problem(error, destination)) from None
    finally:
        partial.unlink(missing_ok=True)
    warehouse_files = [item for name, item in files.items() if name.startswith(WAREHOUSE + "/")]
    return BackupSummary(
        path=destination,
        vendor=vendor,
        tables=len(sums),
        rows=sum(item.rows for item in sums.values()),
        files=len(warehouse_files),
        warehouse_bytes=sum(int(item["bytes"]) for item in warehouse_files),
        archive_bytes=destination.stat().st_size,
        secrets=tuple(secrets),
        warnings=tuple(warnings),
    )


def _has_credentials() -> bool:
    from headway.ingestion.models import Source

    return Source.objects.exclude(secrets="").exists()


def _add_bytes(archive: tarfile.TarFile, member: str, data: bytes) -> None:
    import io

    info = tarfile.TarInfo(member)
    info.size = len(data)
    info.mtime = int(time.time())
    info.mode = 0o600
    archive.addfile(info, io.BytesIO(data))


def _sync_folder(folder: Path) -> None:
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _os_problem(error: OSError, near: Path) -> Problem:
    where = error.filename or near
    return Problem(f"{error.strerror or error}", file=str(where))


# Reading a backup -------------------------------------------------------------------------


@dataclass
class _Backup:
    """An opened backup whose manifest has been checked."""

    path: Path
    archive: tarfile.TarFile
    manifest: dict[str, Any]
    members: dict[str, tarfile.TarInfo]

    @property
    def vendor(self) -> str:
        return str(self.manifest["database"]["vendor"])

    def damaged(self, what: str) -> HeadwayError:
        return HeadwayError(
            Problem(f"the backup is damaged: {what}; nothing was restored", file=str(self.path))
        )


@contextmanager
def _opened(source: Path) -> Iterator[_Backup]:
    source = source.expanduser()
    shown = str(source)
    if not source.exists():
        raise HeadwayError(Problem("no such file", file=shown))
    if not source.is_file():
        raise HeadwayError(Problem("is not a file (a backup is one .tar file)", file=shown))
    try:
        archive = tarfile.open(source, "r:")  # noqa: SIM115 (closed by the `with` below)
    except (tarfile.TarError, EOFError) as error:
        raise HeadwayError(
            Problem(
                f"is not a Headway backup, or a damaged one (not a tar archive: {error})",
                file=shown,
            )
        ) from None
    except OSError as error:
        raise HeadwayError(_os_problem(error, source)) from None
    with archive:
        try:
            listed = archive.getmembers()
        except (tarfile.TarError, EOFError, OSError) as error:
            raise HeadwayError(
                Problem(
                    f"the backup is damaged or cut short ({error}); nothing was restored",
                    file=shown,
                )
            ) from None
        members: dict[str, tarfile.TarInfo] = {}
        for member in listed:
            if member.name in members:
                raise HeadwayError(Problem(f"holds {member.name} twice", file=shown))
            members[member.name] = member
        if MANIFEST not in members or MANIFEST_SUM not in members:
            raise HeadwayError(
                Problem(
                    "is not a Headway backup (it has no manifest.json and manifest.sha256)",
                    file=shown,
                )
            )
        text = _read_member(archive, members[MANIFEST], shown)
        expected = _read_member(archive, members[MANIFEST_SUM], shown).decode("ascii", "replace")
        if hashlib.sha256(text).hexdigest() != expected.strip():
            raise HeadwayError(
                Problem(
                    "the backup is damaged: manifest.json does not match its checksum "
                    "(manifest.sha256); nothing was restored",
                    file=shown,
                )
            )
        try:
            manifest = json.loads(text)
        except ValueError:
            raise HeadwayError(Problem("manifest.json is not JSON", file=shown)) from None
        if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
            raise HeadwayError(Problem("is not a Headway backup (manifest format)", file=shown))
        if manifest.get("format_version") != FORMAT_VERSION:
            raise HeadwayError(
                Problem(
                    f"is a backup of format {manifest.get('format_version')!r}, which this "
                    f"Headway ({_version()}) does not read",
                    file=shown,
                )
            )
        backup = _Backup(source.resolve(), archive, manifest, members)
        _check_members(backup)
        yield backup


def _read_member(archive: tarfile.TarFile, member: tarfile.TarInfo, shown: str) -> bytes:
    if not member.isfile() or member.size > 256 * 1024 * 1024:
        raise HeadwayError(Problem(f"{member.name} is not a file it can read", file=shown))
    try:
        handle = archive.extractfile(member)
        assert handle is not None
        data = handle.read()
    except (tarfile.TarError, EOFError, OSError) as error:
        raise HeadwayError(
            Problem(f"the backup is damaged or cut short ({error})", file=shown)
        ) from None
    if len(data) != member.size:
        raise HeadwayError(Problem(f"the backup is cut short in {member.name}", file=shown))
    return data


def _safe_member(name: str) -> bool:
    path = PurePosixPath(name)
    return (
        not path.is_absolute()
        and ".." not in path.parts
        and len(path.parts) >= 2
        and path.parts[0] in {"database", WAREHOUSE, SECRETS}
        and "\\" not in name
    )


def _check_manifest(backup: _Backup) -> None:
    """The manifest has what a restore reads, in the shapes it reads."""
    manifest = backup.manifest
    files = manifest.get("files")
    database = manifest.get("database")
    tables = manifest.get("tables")
    migrations = manifest.get("migrations")
    warehouse = manifest.get("warehouse")
    secrets = manifest.get("secrets", [])
    if (
        not isinstance(files, dict)
        or not isinstance(database, dict)
        or database.get("vendor") not in DATABASE_MEMBERS
        or database.get("member") != DATABASE_MEMBERS[database["vendor"]]
        or database["member"] not in files
        or not isinstance(tables, dict)
        or not isinstance(migrations, dict)
        or not isinstance(warehouse, dict)
        or not isinstance(warehouse.get("path"), str)
        or not isinstance(secrets, list)
    ):
        raise backup.damaged("its manifest lacks the database, its tables or its files")
    for name, item in files.items():
        if (
            not _safe_member(name)
            or not isinstance(item, dict)
            or not isinstance(item.get("bytes"), int)
            or not isinstance(item.get("sha256"), str)
        ):
            raise backup.damaged(f"its manifest lists {name!r}, which is not a file of a backup")
    for name, item in tables.items():
        if not (
            isinstance(item, dict)
            and isinstance(item.get("rows"), int)
            and isinstance(item.get("sha256"), str)
        ):
            raise backup.damaged(f"its manifest's entry for the table {name!r} is not readable")
    for app, names in migrations.items():
        if not isinstance(names, list) or not all(isinstance(name, str) for name in names):
            raise backup.damaged(f"its manifest's migrations of {app!r} are not readable")
    for name in secrets:
        # Only the files Headway keeps its keys in: a backup never writes elsewhere.
        if name not in SECRET_FILES or f"{SECRETS}/{name}" not in files:
            raise backup.damaged(f"its manifest lists the secret {name!r}, which is not one")


def _check_members(backup: _Backup) -> None:
    """The archive holds exactly the files its manifest lists, each a plain file."""
    _check_manifest(backup)
    files = backup.manifest["files"]
    for name in files:
        member = backup.members.get(name)
        if member is None:
            raise backup.damaged(f"{name} is missing, although its manifest lists it")
        if not member.isfile():
            raise backup.damaged(f"{name} is not a plain file")
        if member.size != files[name]["bytes"]:
            raise backup.damaged(
                f"{name} has {member.size} bytes, its manifest says {files[name]['bytes']}"
            )
    extra = sorted(set(backup.members) - set(files) - {MANIFEST, MANIFEST_SUM})
    if extra:
        raise backup.damaged(f"it holds {', '.join(extra)}, which its manifest does not list")


def _extract(backup: _Backup, name: str, target: Path) -> None:
    """Writes a member to `target`, checking its sha256 against the manifest."""
    expected = backup.manifest["files"][name]
    target.parent.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    size = 0
    try:
        handle = backup.archive.extractfile(backup.members[name])
        assert handle is not None
        with target.open("wb") as out:
            while chunk := handle.read(CHUNK):
                digest.update(chunk)
                size += len(chunk)
                out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
    except (tarfile.TarError, EOFError) as error:
        raise backup.damaged(f"{name} cannot be read ({error})") from None
    if size != expected["bytes"] or digest.hexdigest() != expected["sha256"]:
        raise backup.damaged(
            f"{name} does not match its checksum in the manifest "
            f"(sha256 {digest.hexdigest()[:16]}…, expected {str(expected['sha256'])[:16]}…)"
        )


def _compare_sums(backup: _Backup, found: dict[str, TableSum], where: str) -> tuple[int, int]:
    expected = {
        name: TableSum(int(item["rows"]), str(item["sha256"]))
        for name, item in backup.manifest["tables"].items()
    }
    problems = []
    for name in sorted(set(expected) | set(found)):
        if name not in found:
            problems.append(f"table {name} is missing")
        elif name not in expected:
            problems.append(f"table {name} is not in the manifest")
        elif found[name] != expected[name]:
            problems.append(
                f"table {name} differs from the manifest: {found[name].rows} rows with "
                f"sha256 {found[name].sha256[:16]}…, the manifest has {expected[name].rows} "
                f"with {expected[name].sha256[:16]}…"
            )
    if problems:
        raise HeadwayError(
            [Problem(f"{where}: {problem}", file=str(backup.path)) for problem in problems]
        )
    return len(found), sum(item.rows for item in found.values())


def _newer_migrations(backup: _Backup) -> list[str]:
    known = _code_migrations()
    newer = []
    for app, names in backup.manifest["migrations"].items():
        if app not in known:
            continue  # an app Headway no longer has: its tables are left as they are
        newer += [f"{app}.{name}" for name in names if name not in known[app]]
    return sorted(newer)


def backup_verify(*, source: Path) -> RestoreSummary:
    """Checks a backup without restoring it: the manifest, every file's checksum and, for
    SQLite, every table's row count and checksum."""
    with _opened(source) as backup, tempfile.TemporaryDirectory(prefix="headway-verify-") as work:
        files = 0
        for name in backup.manifest["files"]:
            _extract(backup, name, Path(work) / name)
            files += name.startswith(WAREHOUSE + "/")
        database = Path(work) / backup.manifest["database"]["member"]
        tables = rows = 0
        if backup.vendor == "sqlite":
            copy = sqlite3.connect(f"{database.as_uri()}?mode=ro", uri=True)
            try:
                tables, rows = _compare_sums(backup, sqlite_table_sums(copy), "the database")
            finally:
                copy.close()
        return RestoreSummary(
            source=backup.path,
            vendor=backup.vendor,
            created_at=str(backup.manifest.get("created_at", "")),
            tables=tables or len(backup.manifest["tables"]),
            rows=rows or sum(int(item["rows"]) for item in backup.manifest["tables"].values()),
            files=files,
            migrated=(),
            relocated=(),
            secrets=tuple(backup.manifest.get("secrets", [])),
            replaced=False,
            warnings=tuple(backup.manifest.get("not_included", [])),
        )


# Restoring --------------------------------------------------------------------------------


def _target_contents(vendor: str) -> list[str]:
    """What the target already holds: the reasons it is not empty."""
    held = []
    tables = _tables_with_rows()
    if tables:
        held.append(
            f"the app database ({VENDOR_NAMES[vendor]}) holds data in {len(tables)} tables "
            f"({', '.join(tables[:3])}{', ...' if len(tables) > 3 else ''})"
        )
    warehouse = Path(settings.HEADWAY_WAREHOUSE_DIR)
    found = _warehouse_files(warehouse)
    if found:
        held.append(f"the warehouse {warehouse} holds {len(found)} files")
    return held


def _pg_clearing() -> list[str]:
    """Statements that drop every table, view, sequence, function and type of the current
    schema (what a restore replaces); objects of extensions stay."""
    statements = []
    kinds = {
        "v": "VIEW",
        "m": "MATERIALIZED VIEW",
        "r": "TABLE",
        "p": "TABLE",
        "f": "FOREIGN TABLE",
        "S": "SEQUENCE",
    }
    not_extension = (
        "NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = {oid} AND d.deptype = 'e')"
    )
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relkind, quote_ident(n.nspname) || '.' || quote_ident(c.relname) "
            "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = current_schema() AND c.relkind IN ('v','m','r','p','f','S') AND "
            + not_extension.format(oid="c.oid")
            # Tables first (their views, triggers and identity sequences go with them).
            + " ORDER BY c.relkind NOT IN ('r', 'p', 'f'), c.relkind = 'S', c.relname"
        )
        for kind, name in cursor.fetchall():
            statements.append(f"DROP {kinds[kind]} IF EXISTS {name} CASCADE;")
        cursor.execute(
            "SELECT p.oid::regprocedure::text FROM pg_proc p "
            "JOIN pg_namespace n ON n.oid = p.pronamespace "
            "WHERE n.nspname = current_schema() AND " + not_extension.format(oid="p.oid")
        )
        statements += [f"DROP ROUTINE IF EXISTS {row[0]} CASCADE;" for row in cursor.fetchall()]
        cursor.execute(
            "SELECT quote_ident(n.nspname) || '.' || quote_ident(t.typname) FROM pg_type t "
            "JOIN pg_namespace n ON n.oid = t.typnamespace "
            "WHERE n.nspname = current_schema() AND t.typtype IN ('e', 'd') AND "
            + not_extension.format(oid="t.oid")
        )
        statements += [f"DROP TYPE IF EXISTS {row[0]} CASCADE;" for row in cursor.fetchall()]
    return statements


def _restore_pg(backup: _Backup, dump: Path, work: Path) -> tuple[int, int]:
    """Replaces the database's schema with the dump's, in one transaction: a restore that
    fails leaves the database as it was."""
    dsn, environment = _pg_target()
    pg_restore, psql = _pg_program("pg_restore"), _pg_program("psql")
    clearing = work / "clear.sql"
    clearing.write_text("\n".join(_pg_clearing()) + "\n", encoding="utf-8")
    connections.close_all()
    script = work / "restore.sql"
    _run(
        [pg_restore, "--no-owner", "--no-privileges", "--file", str(script), str(dump)],
        environment,
        "pg_restore",
    )
    _run(
        [
            psql,
            "--no-psqlrc",
            "--quiet",
            "--set",
            "ON_ERROR_STOP=1",
            "--single-transaction",
            "--file",
            str(clearing),
            "--file",
            str(script),
            "--dbname",
            dsn,
        ],
        environment,
        "restoring the database with psql",
    )
    script.unlink()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        return _compare_sums(backup, _pg_table_sums(connection.connection), "the restored database")


def _restore_sqlite(backup: _Backup, staged: Path) -> tuple[int, int]:
    target = _sqlite_path()
    copy = sqlite3.connect(f"{staged.resolve().as_uri()}?mode=ro", uri=True)
    try:
        counted = _compare_sums(backup, sqlite_table_sums(copy), "the database")
    finally:
        copy.close()
    connections.close_all()
    # A write-ahead log of the database being replaced must not be applied to the new one.
    for suffix in ("-wal", "-shm", "-journal"):
        Path(f"{target}{suffix}").unlink(missing_ok=True)
    os.replace(staged, target)
    _sync_folder(target.parent)
    return counted


def _swap_folder(staged: Path, target: Path) -> None:
    """Puts the staged warehouse in place of the target's (gone once the new one is in)."""
    old = target.with_name(f".{target.name}.replaced-{os.getpid()}")
    if target.exists():
        os.replace(target, old)
    os.replace(staged, target)
    _sync_folder(target.parent)
    if old.exists():
        shutil.rmtree(old)


def _relocate(old: str, new: Path) -> list[str]:
    """Points datasets whose table was in the backup's warehouse at the warehouse here."""
    if Path(old) == new:
        return []
    moved = []
    for dataset in Dataset.objects.order_by("key"):
        path = Path(dataset.file)
        if path.is_absolute() and path.is_relative_to(old):
            Dataset.objects.filter(pk=dataset.pk).update(file=str(new / path.relative_to(old)))
            moved.append(dataset.key)
    return moved


def _applied() -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT app, name FROM django_migrations")
        return {f"{app}.{name}" for app, name in cursor.fetchall()}


def backup_restore(*, source: Path, force: bool = False) -> RestoreSummary:
    """Restores a backup into the app database and the warehouse configured here.

    Refuses a target that holds data unless `force` (then it is replaced). Everything in
    the backup is checked before anything changes; the restored tables are compared
    with the manifest; a backup of an older Headway is migrated. Raises HeadwayError
    naming what is wrong."""
    from django.core.management import call_command

    vendor = _vendor()
    warehouse = Path(settings.HEADWAY_WAREHOUSE_DIR).resolve()
    data_dir = Path(settings.DATA_DIR).resolve()
    with _opened(source) as backup:
        shown = str(backup.path)
        if backup.vendor != vendor:
            raise HeadwayError(
                Problem(
                    f"holds a {VENDOR_NAMES[backup.vendor]} database, but the app database "
                    f"here is {VENDOR_NAMES[vendor]} (DATABASE_URL): restore it into "
                    f"{VENDOR_NAMES[backup.vendor]}",
                    file=shown,
                )
            )
        newer = _newer_migrations(backup)
        if newer:
            raise HeadwayError(
                Problem(
                    f"was made by a newer Headway ({backup.manifest.get('headway_version')}, "
                    f"migrations {', '.join(newer[:5])}{' ...' if len(newer) > 5 else ''} "
                    f"unknown here): upgrade Headway ({_version()}) before restoring it",
                    file=shown,
                )
            )
        held = _target_contents(vendor)
        secrets = list(backup.manifest.get("secrets", []))
        for name in secrets:
            here = data_dir / name
            if (
                here.is_file()
                and _digest_file(here)[0] != backup.manifest["files"][f"{SECRETS}/{name}"]["sha256"]
            ):
                held.append(f"{here} is another key than the backup's")
        if held and not force:
            raise HeadwayError(
                [Problem(f"the target is not empty: {item}") for item in held]
                + [Problem("nothing was restored; restore with --force to replace it all")]
            )
        warehouse.parent.mkdir(parents=True, exist_ok=True)
        staged_warehouse = warehouse.with_name(f".{warehouse.name}.restore-{os.getpid()}")
        try:
            with tempfile.TemporaryDirectory(prefix=".headway-restore-", dir=data_dir) as work:
                scratch = Path(work)
                if vendor == "sqlite":
                    target = _sqlite_path()
                    target.parent.mkdir(parents=True, exist_ok=True)
                    database = target.with_name(f".{target.name}.restore-{os.getpid()}")
                else:
                    database = scratch / "database.pgdump"
                try:
                    # Every file is checked before anything here changes.
                    staged_warehouse.mkdir()
                    files = 0
                    for name in backup.manifest["files"]:
                        if name.startswith(WAREHOUSE + "/"):
                            _extract(backup, name, staged_warehouse / name.split("/", 1)[1])
                            files += 1
                        elif name.startswith(SECRETS + "/"):
                            _extract(backup, name, scratch / name)
                    _extract(backup, backup.manifest["database"]["member"], database)
                    if vendor == "sqlite":
                        tables, rows = _restore_sqlite(backup, database)
                    else:
                        tables, rows = _restore_pg(backup, database, scratch)
                finally:
                    if vendor == "sqlite":
                        database.unlink(missing_ok=True)
                _swap_folder(staged_warehouse, warehouse)
                for name in secrets:
                    here = data_dir / name
                    temporary = here.with_name(f".{name}.restore-{os.getpid()}")
                    shutil.copyfile(scratch / SECRETS / name, temporary)
                    temporary.chmod(0o600)
                    os.replace(temporary, here)
        except OSError as error:
            raise HeadwayError(_os_problem(error, backup.path)) from None
        finally:
            if staged_warehouse.exists():
                shutil.rmtree(staged_warehouse)
        manifest = backup.manifest
    before = _applied()
    call_command("migrate", verbosity=0, interactive=False)
    migrated = tuple(sorted(_applied() - before))
    relocated = _relocate(str(manifest["warehouse"]["path"]), warehouse)
    warnings = list(manifest.get("not_included", []))
    return RestoreSummary(
        source=backup.path,
        vendor=vendor,
        created_at=str(manifest.get("created_at", "")),
        tables=tables,
        rows=rows,
        files=files,
        migrated=migrated,
        relocated=tuple(relocated),
        secrets=tuple(secrets),
        replaced=bool(held),
        warnings=tuple(warnings),
    )
