"""PostgreSQL for the benches: a private, throw-away cluster, and throw-away databases.

Two ways a bench gets a PostgreSQL database of its own:

- `private_cluster()`: a whole server of the bench's own (initdb into a temporary folder,
  `pg_ctl start` on a free port of 127.0.0.1, `pg_ctl stop` and the folder removed at the
  end). It exists because bench/fault_injection.py crashes the server in the middle of an
  import (`pg_ctl stop -m immediate`): done to the shared server of
  HEADWAY_TEST_POSTGRES_URL, that would break the tests and benches using it at the same
  time, and a bench must never be able to stop a server it does not own. Where no cluster
  can be made (PostgreSQL's server programs missing; root with no `postgres` user to run
  them as) it says why, and the bench falls back to something gentler.
- `throwaway_database_name()` and `database_url()`, with `run_admin_statements()`: a database
  with a unique name, created and dropped by the bench on a server that is already there
  (the shared one, or a private cluster), for benches that only need their rows kept apart.

The benches run as scripts (`uv run python bench/<script>.py`) and import this module as
`pgcluster`, from the bench folder on sys.path.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# The server the tests use; benches only create and drop databases of their own on it.
SHARED_SERVER_URL = os.environ.get(
    "HEADWAY_TEST_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/test"
)

# Trust, because the cluster listens on 127.0.0.1 and a socket in its own folder only, and
# lives for one bench; no fsync at initdb, because the cluster is thrown away afterwards.
INITDB_OPTIONS = ("-A", "trust", "-U", "postgres", "-E", "UTF8", "--locale", "C", "--no-sync")
PG_CTL_TIMEOUT_SECONDS = 120
INITDB_TIMEOUT_SECONDS = 300


@dataclass
class Cluster:
    """A PostgreSQL server of our own: it may be stopped and started at will.

    `as_user` prefixes every command (`runuser -u postgres --` when we are root, as
    PostgreSQL refuses to run as root). The cluster crosses process boundaries as JSON
    (`as_json`, `from_json`): a bench's campaigns run in processes of their own."""

    url: str
    data: Path
    pg_ctl: str
    as_user: list[str]
    port: int

    def ctl(self, *args: str) -> None:
        subprocess.run(
            [*self.as_user, self.pg_ctl, "-D", str(self.data), *args],
            check=True,
            capture_output=True,
            timeout=PG_CTL_TIMEOUT_SECONDS,
        )

    def start(self) -> None:
        """Starts the server and waits until it accepts connections."""
        self.ctl(
            "-l",
            str(self.data / "server.log"),
            "-w",
            "-t",
            str(PG_CTL_TIMEOUT_SECONDS),
            "-o",
            # The socket goes into the data folder: the system's socket folder may not be
            # writable by us, and a second server there would clash with the shared one.
            f"-p {self.port} -k {self.data} -c listen_addresses=127.0.0.1",
            "start",
        )

    def stop(self) -> None:
        """A crash: the server ends at once, without a checkpoint."""
        self.ctl("-m", "immediate", "-w", "stop")

    def is_running(self) -> bool:
        found = subprocess.run(
            [*self.as_user, self.pg_ctl, "-D", str(self.data), "status"],
            capture_output=True,
            check=False,
        )
        return found.returncode == 0

    def as_json(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "data": str(self.data),
            "pg_ctl": self.pg_ctl,
            "as_user": self.as_user,
            "port": self.port,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Cluster:
        return cls(**{**data, "data": Path(data["data"])})


def free_port() -> int:
    """A TCP port of 127.0.0.1 that nothing listens on now (the OS's choice)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def find_initdb() -> str | None:
    """PostgreSQL's initdb: Debian keeps it out of PATH, under a folder per version (the
    newest is taken); elsewhere it is on PATH."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return found[-1] if found else shutil.which("initdb")


@contextlib.contextmanager
def private_cluster() -> Iterator[tuple[Cluster | None, str]]:
    """A started cluster in a temporary folder, or None and why it could not be made.

    On leaving, the cluster is stopped (immediately: its data is thrown away) and the
    folder removed."""
    initdb = find_initdb()
    if initdb is None:
        yield None, "no initdb (PostgreSQL's server programs are not installed)"
        return
    bindir = Path(initdb).parent
    as_user: list[str] = []
    root = Path(tempfile.mkdtemp(prefix="headway-pg-"))
    data = root / "data"
    try:
        data.mkdir()
        if os.geteuid() == 0:
            import pwd

            runuser = shutil.which("runuser")
            try:
                account = pwd.getpwnam("postgres")
            except KeyError:
                account = None
            if account is None or runuser is None:
                yield None, "running as root with no postgres user (initdb refuses root)"
                return
            as_user = [runuser, "-u", "postgres", "--"]
            # mkdtemp's folder is ours only (0700): the postgres user must get through it.
            root.chmod(0o755)
            os.chown(data, account.pw_uid, account.pw_gid)
        try:
            subprocess.run(
                [*as_user, initdb, "-D", str(data), *INITDB_OPTIONS],
                check=True,
                capture_output=True,
                timeout=INITDB_TIMEOUT_SECONDS,
            )
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError) as error:
            said = getattr(error, "stderr", b"") or b""
            yield None, f"initdb failed: {said.decode(errors='replace').strip() or error}"
            return
        port = free_port()
        cluster = Cluster(
            url=f"postgres://postgres@127.0.0.1:{port}/postgres",
            data=data,
            pg_ctl=str(bindir / "pg_ctl"),
            as_user=as_user,
            port=port,
        )
        try:
            cluster.start()
        except subprocess.CalledProcessError as error:
            yield None, f"the cluster did not start: {error.stderr.decode(errors='replace')}"
            return
        try:
            yield cluster, ""
        finally:
            # Already stopped (a bench's last crash) is fine: the folder goes either way.
            with contextlib.suppress(subprocess.SubprocessError):
                cluster.stop()
    finally:
        shutil.rmtree(root, ignore_errors=True)


# Throw-away databases on a server -------------------------------------------------------------


def throwaway_database_name(prefix: str) -> str:
    """A database name no other run picks: benches may run at once on the same server."""
    return f"{prefix}_{os.getpid()}_{uuid.uuid4().hex[:6]}"


def database_url(server_url: str, database: str) -> str:
    """`server_url` with its database replaced by `database`."""
    return f"{server_url.rpartition('/')[0]}/{database}"


def run_admin_statements(
    admin_url: str, *statements: str, connect_timeout: int | None = None
) -> None:
    """Runs each statement outside a transaction (CREATE and DROP DATABASE refuse to run
    in one), on a connection of its own that is closed afterwards."""
    import psycopg  # only the benches that use PostgreSQL need the driver loaded

    options: dict[str, Any] = {}
    if connect_timeout is not None:
        options["connect_timeout"] = connect_timeout
    with psycopg.connect(admin_url, autocommit=True, **options) as connection:
        for statement in statements:
            connection.execute(statement)


def why_unreachable(url: str, *, connect_timeout: int) -> str | None:
    """None when the server of `url` answers a query, else the driver's error."""
    import psycopg

    try:
        run_admin_statements(url, "SELECT 1", connect_timeout=connect_timeout)
    except psycopg.Error as error:
        return str(error)
    return None
