"""The restore drill: an installation with data is backed up, restored into a fresh place,
and every table's rows and every warehouse file are compared, on SQLite and on
PostgreSQL. The checksums here are the test's own, not the manifest's.

A damaged backup is refused, naming what is wrong, and changes nothing."""

from __future__ import annotations

import datetime
import decimal
import fcntl
import hashlib
import io
import json
import os
import re
import shutil
import sqlite3
import tarfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import run_headway
from tests.security.drill import TOKEN
from tests.security.places import Place, place_maker

pytestmark = pytest.mark.slow

Rewrite = Callable[[str, str, Any], Any]


def _plain(value: Any) -> Any:
    if isinstance(value, bytes | memoryview):
        return bytes(value).hex()
    if isinstance(value, datetime.datetime | datetime.date | datetime.time):
        return value.isoformat()
    if isinstance(value, decimal.Decimal | datetime.timedelta | uuid.UUID):
        return str(value)
    raise TypeError(f"{type(value).__name__} in a table")


def _row_text(table: str, columns: list[str], row: tuple[Any, ...], rewrite: Rewrite) -> bytes:
    cells = [rewrite(table, column, value) for column, value in zip(columns, row, strict=True)]
    return json.dumps(cells, default=_plain, sort_keys=True, ensure_ascii=False).encode() + b"\n"


def no_rewrite(table: str, column: str, value: Any) -> Any:
    return value


def database_state(place: Place, rewrite: Rewrite = no_rewrite) -> dict[str, Any]:
    """Every table's row count and a blake2b of its rows in primary-key order, and the
    schema (tables, indexes, triggers, sequences), read straight from the database."""
    if place.vendor == "sqlite":
        return _sqlite_state(place.sqlite_file, rewrite)
    return _postgres_state(place.database_url, rewrite)


def _sqlite_state(path: Path, rewrite: Rewrite) -> dict[str, Any]:
    database = sqlite3.connect(path)
    try:
        state: dict[str, Any] = {}
        tables = [
            row[0]
            for row in database.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        ]
        for table in tables:
            info = database.execute(f'PRAGMA table_info("{table}")').fetchall()
            columns = [column[1] for column in info]
            key = [column[1] for column in sorted(info, key=lambda c: c[5]) if column[5]]
            order = ", ".join(f'"{name}"' for name in key or columns)
            digest = hashlib.blake2b()
            count = 0
            for row in database.execute(f'SELECT * FROM "{table}" ORDER BY {order}'):
                digest.update(_row_text(table, columns, row, rewrite))
                count += 1
            state[table] = (count, digest.hexdigest())
        state["(schema)"] = sorted(
            database.execute("SELECT type, name, tbl_name, coalesce(sql, '') FROM sqlite_master")
        )
        return state
    finally:
        database.close()


def _postgres_state(url: str, rewrite: Rewrite) -> dict[str, Any]:
    import psycopg
    from psycopg import sql

    with psycopg.connect(url) as connection:
        state: dict[str, Any] = {}
        tables = [
            row[0]
            for row in connection.execute(
                "SELECT table_name FROM information_schema.tables "
                "WHERE table_schema = 'public' AND table_type = 'BASE TABLE'"
            )
        ]
        for table in tables:
            key = [
                row[0]
                for row in connection.execute(
                    "SELECT k.column_name FROM information_schema.table_constraints c "
                    "JOIN information_schema.key_column_usage k "
                    "ON k.constraint_name = c.constraint_name AND k.table_schema = c.table_schema "
                    "AND k.table_name = c.table_name "
                    "WHERE c.table_schema = 'public' AND c.table_name = %s "
                    "AND c.constraint_type = 'PRIMARY KEY' ORDER BY k.ordinal_position",
                    (table,),
                )
            ]
            assert key, f"{table} has no primary key"
            cursor = connection.execute(
                sql.SQL("SELECT * FROM {} ORDER BY {}").format(
                    sql.Identifier(table), sql.SQL(", ").join(map(sql.Identifier, key))
                )
            )
            columns = [column.name for column in cursor.description or []]
            digest = hashlib.blake2b()
            count = 0
            for row in cursor:
                digest.update(_row_text(table, columns, row, rewrite))
                count += 1
            state[table] = (count, digest.hexdigest())
        state["(columns)"] = sorted(
            connection.execute(
                "SELECT table_name, column_name, data_type, is_nullable, "
                "coalesce(column_default, ''), is_identity FROM information_schema.columns "
                "WHERE table_schema = 'public'"
            )
        )
        state["(indexes)"] = sorted(
            (table, name, _predicate(definition))
            for table, name, definition in connection.execute(
                "SELECT tablename, indexname, indexdef FROM pg_indexes WHERE schemaname = 'public'"
            )
        )
        state["(triggers)"] = sorted(
            connection.execute(
                "SELECT event_object_table, trigger_name, event_manipulation, action_statement "
                "FROM information_schema.triggers WHERE trigger_schema = 'public'"
            )
        )
        # New rows after a restore must not collide with restored ones.
        state["(sequences)"] = sorted(
            connection.execute(
                "SELECT sequencename, last_value FROM pg_sequences WHERE schemaname = 'public'"
            )
        )
        return state


def _predicate(definition: str) -> str:
    """An index's definition without casts and parentheses: PostgreSQL writes a partial
    index's condition back in another (equal) form after a dump is loaded."""
    return re.sub(r"::[a-z ]+(\[\])?|[()]", "", definition)


def warehouse_state(place: Place) -> dict[str, str]:
    found = {}
    for path in sorted(place.warehouse.rglob("*")):
        if path.is_file() and not path.name.endswith(".lock"):
            found[path.relative_to(place.warehouse).as_posix()] = hashlib.blake2b(
                path.read_bytes()
            ).hexdigest()
    return found


def moved(source: Place, target: Place) -> Rewrite:
    """The source's rows as the target should hold them: datasets' tables are in the
    target's warehouse."""

    def rewrite(table: str, column: str, value: Any) -> Any:
        if table == "kpis_dataset" and column == "file" and isinstance(value, str):
            return value.replace(str(source.warehouse), str(target.warehouse))
        return value

    return rewrite


def installation_with_data(place: Place) -> None:
    made = place.python("tests.security.drill", "setup", place.data.parent)
    assert made.returncode == 0, made.stderr


def is_empty(place: Place) -> bool:
    if place.vendor == "sqlite":
        if not place.sqlite_file.exists():
            return True
        database = sqlite3.connect(place.sqlite_file)
        try:
            return not database.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
        finally:
            database.close()
    import psycopg

    with psycopg.connect(place.database_url) as connection:
        found = connection.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'"
        ).fetchone()
    return found is not None and found[0] == 0


# The drill ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def make_place(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[[str], Place]]:
    yield from place_maker(tmp_path_factory)


@pytest.fixture(scope="module")
def sqlite_backup(
    make_place: Callable[[str], Place], tmp_path_factory: pytest.TempPathFactory
) -> tuple[Place, Path]:
    source = make_place("sqlite")
    installation_with_data(source)
    backup = tmp_path_factory.mktemp("backups") / "sqlite.tar"
    made = source.headway("backup", backup)
    assert made.returncode == 0, made.stderr
    return source, backup


@pytest.fixture(scope="module")
def postgresql_backup(
    make_place: Callable[[str], Place], tmp_path_factory: pytest.TempPathFactory
) -> tuple[Place, Path]:
    source = make_place("postgresql")
    installation_with_data(source)
    backup = tmp_path_factory.mktemp("backups") / "postgresql.tar"
    made = source.headway("backup", backup)
    assert made.returncode == 0, made.stderr
    return source, backup


@pytest.mark.parametrize("vendor", ["sqlite", "postgresql"])
def test_a_backup_restored_into_a_fresh_place_has_every_row_and_file(
    vendor: str, make_place: Callable[[str], Place], request: pytest.FixtureRequest
) -> None:
    source, backup = request.getfixturevalue(f"{vendor}_backup")
    before = database_state(source)
    target = make_place(vendor)

    restored = target.headway("restore", backup)

    assert restored.returncode == 0, restored.stderr
    assert "every checksum matching the manifest" in restored.stdout
    assert "Pointed 2 datasets at the warehouse here" in restored.stdout
    expected = database_state(source, moved(source, target))
    found = database_state(target)
    assert sorted(found) == sorted(expected)
    differing = [name for name in expected if found[name] != expected[name]]
    assert not differing, f"tables that differ after the restore: {differing}"
    assert len([name for name in found if not name.startswith("(")]) > 40
    assert sum(count for count, _ in (v for k, v in found.items() if k[0] != "(")) > 100
    assert warehouse_state(target) == warehouse_state(source)
    assert sorted(warehouse_state(target)) == ["deals.parquet", "leads.parquet"]
    key = "credentials_key"
    assert (target.data / key).read_bytes() == (source.data / key).read_bytes()
    # The backup wrote nothing to the installation it copied.
    assert database_state(source) == before

    working = target.python("tests.security.drill", "verify")
    assert working.returncode == 0, working.stderr
    facts = json.loads(working.stdout.strip().splitlines()[-1])
    assert facts == {
        "token": TOKEN,
        "datasets_in_warehouse": ["deals", "leads"],
        "results": facts["results"],
        "recomputed_the_same": True,
    }
    assert facts["results"] > 0


def test_the_backup_warns_that_it_holds_the_credentials_key(
    sqlite_backup: tuple[Place, Path], tmp_path: Path
) -> None:
    source, _ = sqlite_backup
    made = source.headway("backup", tmp_path)
    assert made.returncode == 0, made.stderr
    assert "holds secrets (credentials_key" in made.stderr
    written = list(tmp_path.glob("headway-backup-*.tar"))
    assert len(written) == 1
    with tarfile.open(written[0]) as archive:
        names = set(archive.getnames())
    assert {"database/headway.sqlite3", "secrets/credentials_key", "manifest.json"} <= names
    assert {"warehouse/deals.parquet", "warehouse/leads.parquet"} <= names
    assert not [name for name in names if name.endswith(".lock")]

    again = source.headway("backup", written[0])
    assert again.returncode == 2
    assert "already exists" in again.stderr
    assert "Traceback" not in again.stderr


def test_a_backup_waits_for_a_running_import_and_gives_up_saying_so(
    sqlite_backup: tuple[Place, Path], tmp_path: Path
) -> None:
    source, _ = sqlite_backup
    # What an import holds while it runs (headway.ingestion.services._dataset_lock).
    descriptor = os.open(source.warehouse / ".deals.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        made = source.headway("backup", tmp_path / "busy.tar", "--wait", "1")
    finally:
        os.close(descriptor)

    assert made.returncode == 2
    assert "dataset deals: an import is still running after 1 s" in made.stderr
    assert list(tmp_path.iterdir()) == []


def test_a_target_with_data_is_refused_unless_forced(
    sqlite_backup: tuple[Place, Path],
) -> None:
    source, backup = sqlite_backup
    before = database_state(source)

    refused = source.headway("restore", backup)

    assert refused.returncode == 2
    assert "the target is not empty" in refused.stderr
    assert "--force" in refused.stderr
    assert database_state(source) == before

    forced = source.headway("restore", backup, "--force")
    assert forced.returncode == 0, forced.stderr
    assert "replaced (--force)" in forced.stdout
    assert database_state(source) == before


def test_a_backup_of_an_older_headway_is_migrated(
    make_place: Callable[[str], Place], tmp_path: Path
) -> None:
    old = make_place("sqlite")
    made = old.python("tests.security.drill", "older")
    assert made.returncode == 0, made.stderr
    backup = tmp_path / "old.tar"
    assert old.headway("backup", backup).returncode == 0
    target = make_place("sqlite")

    restored = target.headway("restore", backup)

    assert restored.returncode == 0, restored.stderr
    assert "Migrated the database to this Headway: 1 migrations" in restored.stdout
    database = sqlite3.connect(target.sqlite_file)
    try:
        applied = database.execute(
            "SELECT count(*) FROM django_migrations "
            "WHERE app = 'results' AND name = '0004_period_lock'"
        ).fetchone()[0]
        assert applied == 1
        assert database.execute("SELECT count(*) FROM results_periodlock").fetchone()[0] == 0
    finally:
        database.close()


# Damaged backups ------------------------------------------------------------------------


def rewritten(backup: Path, out: Path, change: Callable[[str, bytes], bytes | None]) -> Path:
    """A copy of the backup with members changed (None leaves a member out)."""
    with tarfile.open(backup) as archive, tarfile.open(out, "w") as copy:
        for member in archive.getmembers():
            handle = archive.extractfile(member)
            assert handle is not None
            data = change(member.name, handle.read())
            if data is None:
                continue
            info = tarfile.TarInfo(member.name)
            info.size = len(data)
            copy.addfile(info, io.BytesIO(data))
    return out


def flip(data: bytes, at: int) -> bytes:
    changed = bytearray(data)
    changed[at] ^= 0x01
    return bytes(changed)


def with_manifest(backup: Path, out: Path, edit: Callable[[dict[str, Any]], None]) -> Path:
    """A backup whose manifest is edited and signed again with its new checksum."""
    with tarfile.open(backup) as archive:
        handle = archive.extractfile("manifest.json")
        assert handle is not None
        manifest = json.loads(handle.read())
    edit(manifest)
    text = json.dumps(manifest).encode()

    def change(name: str, data: bytes) -> bytes:
        if name == "manifest.json":
            return text
        if name == "manifest.sha256":
            return hashlib.sha256(text).hexdigest().encode()
        return data

    return rewritten(backup, out, change)


def refused(path: Path, *words: str) -> None:
    checked = run_headway("restore", path, "--check")
    assert checked.exit_code == 2, checked.stdout
    assert "Traceback" not in checked.stderr
    for word in words:
        assert word in checked.stderr, checked.stderr


def test_a_sound_backup_passes_the_check(sqlite_backup: tuple[Place, Path]) -> None:
    _, backup = sqlite_backup
    checked = run_headway("restore", backup, "--check")
    assert checked.exit_code == 0, checked.stderr
    assert "every file's and every table's checksum matches" in checked.stdout


def test_damaged_backups_are_refused_naming_what_is_wrong(
    sqlite_backup: tuple[Place, Path], tmp_path: Path
) -> None:
    _, backup = sqlite_backup
    data = backup.read_bytes()

    refused(tmp_path / "missing.tar", "missing.tar", "no such file")
    refused(tmp_path, "is not a file")
    (tmp_path / "random.tar").write_bytes(bytes(range(256)) * 40)
    refused(tmp_path / "random.tar", "not a Headway backup")
    (tmp_path / "empty.tar").write_bytes(b"")
    refused(tmp_path / "empty.tar", "not a Headway backup")
    (tmp_path / "cut.tar").write_bytes(data[: len(data) // 2])
    refused(tmp_path / "cut.tar", "damaged")

    def parquet(name: str, member: bytes) -> bytes:
        return flip(member, len(member) // 2) if name == "warehouse/deals.parquet" else member

    refused(
        rewritten(backup, tmp_path / "parquet.tar", parquet),
        "warehouse/deals.parquet does not match its checksum",
    )

    def database(name: str, member: bytes) -> bytes:
        return flip(member, len(member) - 100) if name.startswith("database/") else member

    refused(
        rewritten(backup, tmp_path / "database.tar", database),
        "database/headway.sqlite3 does not match its checksum",
    )
    refused(
        rewritten(
            backup,
            tmp_path / "manifest.tar",
            lambda name, member: flip(member, 10) if name == "manifest.json" else member,
        ),
        "manifest.json does not match its checksum",
    )
    refused(
        rewritten(
            backup,
            tmp_path / "lacking.tar",
            lambda name, member: None if name == "warehouse/leads.parquet" else member,
        ),
        "warehouse/leads.parquet is missing",
    )
    refused(_with_extra(backup, tmp_path / "extra.tar"), "warehouse/extra.parquet", "not list")
    refused(
        rewritten(
            backup,
            tmp_path / "bare.tar",
            lambda name, member: None if name.startswith("manifest") else member,
        ),
        "no manifest.json",
    )

    # A table's checksum in the manifest that the database does not have (a manifest
    # signed again, so only the comparison of the tables finds it).
    def wrong_table(manifest: dict[str, Any]) -> None:
        manifest["tables"]["results_result"]["rows"] += 1

    refused(
        with_manifest(backup, tmp_path / "table.tar", wrong_table),
        "table results_result differs from the manifest",
    )

    def escaping(manifest: dict[str, Any]) -> None:
        manifest["files"]["warehouse/../../escape"] = {"sha256": "0", "bytes": 1}

    refused(with_manifest(backup, tmp_path / "escape.tar", escaping), "not a file of a backup")


def _with_extra(backup: Path, out: Path) -> Path:
    shutil.copyfile(backup, out)
    with tarfile.open(out, "a") as archive:
        info = tarfile.TarInfo("warehouse/extra.parquet")
        info.size = 3
        archive.addfile(info, io.BytesIO(b"abc"))
    return out


def test_a_backup_of_a_newer_headway_is_refused(
    sqlite_backup: tuple[Place, Path], make_place: Callable[[str], Place], tmp_path: Path
) -> None:
    _, backup = sqlite_backup

    def newer(manifest: dict[str, Any]) -> None:
        manifest["migrations"]["results"].append("9999_from_the_future")
        manifest["headway_version"] = "99.0"

    target = make_place("sqlite")
    result = target.headway("restore", with_manifest(backup, tmp_path / "newer.tar", newer))

    assert result.returncode == 2
    assert "made by a newer Headway (99.0" in result.stderr
    assert "results.9999_from_the_future" in result.stderr
    assert is_empty(target)


def test_a_damaged_postgresql_backup_changes_nothing(
    postgresql_backup: tuple[Place, Path], make_place: Callable[[str], Place], tmp_path: Path
) -> None:
    _, backup = postgresql_backup

    def database(name: str, member: bytes) -> bytes:
        return flip(member, len(member) // 2) if name.startswith("database/") else member

    target = make_place("postgresql")
    result = target.headway("restore", rewritten(backup, tmp_path / "bad.tar", database))

    assert result.returncode == 2
    assert "database/headway.pgdump does not match its checksum" in result.stderr
    assert "nothing was restored" in result.stderr
    assert is_empty(target)
    assert not (target.data / "warehouse").exists()
    assert not (target.data / "credentials_key").exists()
