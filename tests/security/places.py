"""Installations of the tests' own, each in its own processes: a data folder with a SQLite
database, or one with a throwaway PostgreSQL database on the test server (for the restore
drill and the fault injection)."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

REPOSITORY = Path(__file__).resolve().parents[2]
POSTGRES_URL = os.environ.get(
    "HEADWAY_TEST_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/test"
)
# What the test process's own settings would pass on to an installation of a test's own.
NOT_PASSED = {
    "DATABASE_URL",
    "HEADWAY_DATA_DIR",
    "HEADWAY_CREDENTIALS_KEYS",
    "PYTEST_VERSION",
    "PYTEST_XDIST_WORKER",
    "DJANGO_SETTINGS_MODULE",
}


@dataclass(frozen=True)
class Place:
    """An installation: its data folder and its app database."""

    data: Path
    database_url: str

    @property
    def vendor(self) -> str:
        return "sqlite" if self.database_url.startswith("sqlite") else "postgresql"

    @property
    def sqlite_file(self) -> Path:
        return Path(self.database_url.removeprefix("sqlite:///"))

    @property
    def warehouse(self) -> Path:
        return (self.data / "warehouse").resolve()

    def environment(self) -> dict[str, str]:
        environment = {key: value for key, value in os.environ.items() if key not in NOT_PASSED}
        environment.update(
            HEADWAY_MODE="test",
            HEADWAY_DATA_DIR=str(self.data),
            DATABASE_URL=self.database_url,
        )
        return environment

    def headway(self, *args: str | Path, timeout: int = 300) -> subprocess.CompletedProcess[str]:
        """The installed `headway` command on this installation."""
        executable = Path(sys.executable).with_name("headway")
        return subprocess.run(
            [str(executable), *(str(arg) for arg in args)],
            cwd=REPOSITORY,
            env=self.environment(),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def python(self, module: str, *args: str | Path) -> subprocess.CompletedProcess[str]:
        """A helper module (`python -m module args`) on this installation."""
        return subprocess.run(
            [sys.executable, "-m", module, *(str(arg) for arg in args)],
            cwd=REPOSITORY,
            env=self.environment(),
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )


def postgres_admin_url() -> str:
    """The test server's URL, or a skip naming why it cannot be used."""
    import psycopg

    try:
        with psycopg.connect(POSTGRES_URL, connect_timeout=5):
            pass
    except psycopg.Error as error:
        pytest.skip(f"PostgreSQL at {POSTGRES_URL} is not reachable: {error}")
    return POSTGRES_URL


def _database_url(admin_url: str, name: str) -> str:
    base, _, _ = admin_url.rpartition("/")
    return f"{base}/{name}"


def place_maker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[[str], Place]]:
    """For a fixture: makes installations, `make("sqlite")` or `make("postgresql")` (a
    database of its own on the test server, dropped afterwards)."""
    made: list[str] = []

    def make(vendor: str) -> Place:
        folder = tmp_path_factory.mktemp(f"{vendor}-place")
        data = folder / "data"
        data.mkdir()
        if vendor == "sqlite":
            return Place(data, f"sqlite:///{data / 'headway.sqlite3'}")
        import psycopg

        admin = postgres_admin_url()
        name = f"headway_security_{os.getpid()}_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(admin, autocommit=True) as connection:
            connection.execute(f'CREATE DATABASE "{name}"')
        made.append(name)
        return Place(data, _database_url(admin, name))

    yield make
    if made:
        import psycopg

        with psycopg.connect(POSTGRES_URL, autocommit=True) as connection:
            for name in made:
                connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
