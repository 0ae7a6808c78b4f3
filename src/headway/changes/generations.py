"""Generations: two numbers in the database that move after every committed write.

`data` moves when anything a page shows changes; `auth` when a session or a person does
(a sign-in, a sign-out, a new password). A cache entry made under generation G is good
until G moves, so a signed-in request checks everything it cached with one query of two
rows (`current`) instead of the queries each cached thing would take.

The generations are moved by a wrapper around every query of every connection of every
process (web, worker, CLI), not by the services: no write made through Django's
database connections can forget to invalidate a cache. The wrapper looks at the
statement (INSERT, UPDATE, DELETE, REPLACE, TRUNCATE or schema changes, and the table)
and at how many rows it changed; the generation moves after the transaction commits (a
rolled-back write moves nothing) and before the writer's request answers. A reader reads
the generation before the data it renders, so a page rendered while a write commits is
cached under the old generation and never served once the generation has moved.

If moving a generation fails (the database went away right after a commit), the failure is
logged and cached pages may lag until the next write moves it; page entries also expire
(see `headway.web.page_cache`).
"""

from __future__ import annotations

import contextvars
import logging
import re
import secrets
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, Generic, NamedTuple, TypeVar

from django.conf import settings
from django.db import DatabaseError, connections, transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from django.http import HttpRequest, HttpResponse

logger = logging.getLogger(__name__)

DATA = frozenset({"data"})
AUTH = frozenset({"auth"})
BOTH = DATA | AUTH
NOTHING: frozenset[str] = frozenset()

TABLE = "changes_generation"
_WRITING = ("INSERT", "UPDATE", "DELETE", "REPLACE", "TRUNCATE", "CREATE", "ALTER", "DROP")
_TARGET = re.compile(
    r'\s*(?:INSERT\s+INTO|REPLACE\s+INTO|UPDATE|DELETE\s+FROM|TRUNCATE(?:\s+TABLE)?)\s+(?:ONLY\s+)?"?([\w.]+)"?',
    re.IGNORECASE,
)
# Signing in sets the person's last sign-in, which no page shows: a sign-in moves only
# `auth` (Django's update_last_login saves that one field).
_LAST_LOGIN = re.compile(
    r'\s*UPDATE\s+"?accounts_user"?\s+SET\s+"?last_login"?\s*=\s*%s\s+WHERE', re.I
)
# Each API request notes when its token was last used, shown only on the person's own
# token page, which is never cached: it moves nothing (else every API call would empty
# every cache).
_TOKEN_USED = re.compile(
    r'\s*UPDATE\s+"?accounts_apitoken"?\s+SET\s+"?last_used_at"?\s*=\s*%s\s+WHERE',
    re.IGNORECASE,
)


class Generations(NamedTuple):
    data: int
    auth: int


_migrating = False


def tracking() -> bool:
    return bool(getattr(settings, "HEADWAY_TRACK_CHANGES", True)) and not _migrating


def migration_started(**kwargs: Any) -> None:
    """`pre_migrate`: the statements of migrations move nothing one by one (the table of
    generations may not exist yet)..."""
    global _migrating
    _migrating = True


def migration_ended(sender: Any, using: str = "default", **kwargs: Any) -> None:
    """`post_migrate` (sent once per app, after `migrate` and after `flush`): ... the
    generations are there (a flush empties their table) and move once."""
    global _migrating
    _migrating = False
    if getattr(sender, "label", None) != "changes":
        return
    _recreate(set(Generations._fields), using)
    if getattr(settings, "HEADWAY_TRACK_CHANGES", True):
        bump(using, BOTH)


def _cache_tables() -> frozenset[str]:
    return frozenset(
        str(cache["LOCATION"]).lower()
        for cache in settings.CACHES.values()
        if str(cache.get("BACKEND", "")).endswith("db.DatabaseCache")
    )


def written(sql: str) -> frozenset[str]:
    """The generations a statement moves if it changes rows."""
    head = sql.lstrip()[:8].upper()
    if not head.startswith(_WRITING):
        return NOTHING
    match = _TARGET.match(sql)
    table = match.group(1).lower() if match else ""
    if table == TABLE or table in _cache_tables():
        return NOTHING
    if table == "django_session":
        return AUTH
    if table == "accounts_user":
        return AUTH if _LAST_LOGIN.match(sql) else BOTH
    if table == "accounts_apitoken" and _TOKEN_USED.match(sql):
        return NOTHING
    # Any other table, and schema changes: what a page shows may have changed.
    return DATA


def bump(alias: str, names: frozenset[str]) -> None:
    """Moves the named generations, in a statement of its own (the connection is in
    autocommit: it runs after a commit or after an autocommitted write).

    A generation moves to a random number, not to the next one: after a database is
    restored from a backup, counting on from the backup's values would meet again values
    that running processes cached other data under."""
    placeholders = ", ".join(["%s"] * len(names))
    try:
        with connections[alias].cursor() as cursor:
            cursor.execute(
                f"UPDATE {TABLE} SET value = %s WHERE name IN ({placeholders})",  # noqa: S608
                [secrets.randbits(62), *sorted(names)],
            )
    except DatabaseError as error:
        # The table is missing while `migrate` creates the database (nothing is cached
        # yet then); otherwise cached pages lag until the next write or their expiry.
        logger.warning("could not move the %s generation: %s", "/".join(sorted(names)), error)


class _Bump:
    """An on-commit callback; one per transaction and set of names."""

    def __init__(self, alias: str, names: frozenset[str]) -> None:
        self.alias = alias
        self.names = names

    def __call__(self) -> None:
        bump(self.alias, self.names)


def _after_write(connection: BaseDatabaseWrapper, names: frozenset[str]) -> None:
    if not connection.in_atomic_block:
        bump(connection.alias, names)
        return
    # Once per transaction: a bulk import is thousands of statements. Django drops the
    # callbacks of a rolled-back transaction or savepoint, so looking at its list (not a
    # flag of our own) stays right after a rollback.
    for pending in connection.run_on_commit:
        callback = pending[1]
        if isinstance(callback, _Bump) and names <= callback.names:
            return
    transaction.on_commit(_Bump(connection.alias, names), using=connection.alias, robust=True)


def _wrapper(
    execute: Callable[..., Any], sql: str, params: Any, many: bool, context: dict[str, Any]
) -> Any:
    result = execute(sql, params, many, context)
    names = written(sql) if tracking() else NOTHING
    if names and not _changed_nothing(sql, context):
        _after_write(context["connection"], names)
    return result


def _changed_nothing(sql: str, context: dict[str, Any]) -> bool:
    """An UPDATE or DELETE that matched no row (a worker polling for jobs). Only those:
    SQLite counts no row for an INSERT ... RETURNING until its rows are read."""
    if not sql.lstrip()[:6].upper().startswith(("UPDATE", "DELETE")):
        return False
    return getattr(context.get("cursor"), "rowcount", -1) == 0


def track_writes(sender: Any, connection: BaseDatabaseWrapper, **kwargs: Any) -> None:
    """Signal handler for every new connection: wraps its queries (once)."""
    if _wrapper not in connection.execute_wrappers:
        connection.execute_wrappers.append(_wrapper)


Stamp = TypeVar("Stamp")
Item = TypeVar("Item")

# Past this many items a box starts again from empty rather than tracking use.
MAX_ENTRIES = 20_000


class GenerationBox(Generic[Stamp, Item]):
    """Items valid under one stamp; a new stamp empties the box."""

    def __init__(self) -> None:
        self.stamp: Stamp | None = None
        self.items: dict[Any, Item] = {}

    def get(self, stamp: Stamp, key: Any) -> Item | None:
        if stamp != self.stamp:
            return None
        return self.items.get(key)

    def put(self, stamp: Stamp, key: Any, item: Item) -> None:
        if stamp != self.stamp or len(self.items) >= MAX_ENTRIES:
            self.stamp = stamp
            self.items = {}
        self.items[key] = item

    def clear(self) -> None:
        self.stamp = None
        self.items = {}


# --- reading ------------------------------------------------------------------------

_REQUEST: contextvars.ContextVar[list[Generations | None] | None] = contextvars.ContextVar(
    "headway_generations", default=None
)


def _read() -> Generations | None:
    try:
        with connections["default"].cursor() as cursor:
            cursor.execute(f"SELECT name, value FROM {TABLE}")  # noqa: S608
            values = dict(cursor.fetchall())
    except DatabaseError as error:
        logger.warning("could not read the generations: %s", error)
        return None
    if "data" not in values or "auth" not in values:
        # Emptied (`manage flush`): made again, else nothing would be cached from now on.
        # Nothing cached before can match the new random values.
        _recreate(set(Generations._fields) - set(values))
        return None
    return Generations(data=int(values["data"]), auth=int(values["auth"]))


def _recreate(names: set[str], using: str = "default") -> None:
    from headway.changes.models import Generation

    try:
        for name in sorted(names):
            Generation.objects.using(using).get_or_create(
                name=name, defaults={"value": secrets.randbits(62)}
            )
    except DatabaseError as error:
        logger.warning("could not make the generations again: %s", error)


def current() -> Generations | None:
    """The generations, read once per request (at its first use), or None when they
    cannot be read or writes are not tracked: then nothing cached under them is used."""
    if not tracking():
        return None
    box = _REQUEST.get()
    if box is None:  # outside a request
        return _read()
    if not box:
        box.append(_read())
    return box[0]


@contextmanager
def one_reading() -> Iterator[None]:
    """Within the block, `current` reads the database once."""
    token = _REQUEST.set([])
    try:
        yield
    finally:
        _REQUEST.reset(token)


class GenerationMiddleware:
    """Each request reads the generations at most once, when something first asks."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        with one_reading():
            return self.get_response(request)
