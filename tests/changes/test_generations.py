"""Generations: which statements move which counter, and how often a write moves it.

A committed write moves `data` (what pages show) or `auth` (sessions and people) once per
transaction, after the commit; a rolled-back write, a write that changed no row and the
counters' own updates move nothing. A request reads the counters at most once.

A counter moves to a new value (not necessarily the next number): what is checked is
whether each one changed, read back with the ORM, and how many times the table of
generations was written, never what `current()` says.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest
from django.contrib.auth.models import update_last_login
from django.contrib.sessions.backends.db import SessionStore
from django.core.cache import cache
from django.core.management import call_command
from django.db import connection, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext

from headway.accounts.models import Team, User
from headway.changes.generations import AUTH, BOTH, DATA, NOTHING, current, one_reading, written
from headway.changes.models import Generation

DATABASE_CACHE = {
    "default": {
        "BACKEND": "django.core.cache.backends.db.DatabaseCache",
        "LOCATION": "headway_cache",
    }
}


def generations() -> dict[str, int]:
    return dict(Generation.objects.values_list("name", "value"))


@dataclass
class Moves:
    """What a block of code moved."""

    before: dict[str, int]
    names: set[str] = field(default_factory=set)  # the counters whose value changed
    times: int = 0  # how many times the table of generations was written

    def so_far(self) -> set[str]:
        now = generations()
        return {name for name in self.before if now[name] != self.before[name]}


@contextmanager
def watching() -> Iterator[Moves]:
    moves = Moves(before=generations())
    with CaptureQueriesContext(connection) as seen:
        yield moves
    moves.names = moves.so_far()
    moves.times = sum(
        1
        for query in seen.captured_queries
        if "changes_generation" in query["sql"]
        and query["sql"].lstrip().upper().startswith("UPDATE")
    )


def as_migrate_left_them() -> None:
    """The two rows the migration creates. Between transactional tests the test runner
    empties every table (`flush`), these too, and nothing creates them again (see
    `test_the_counters_are_there_again_after_a_flush`)."""
    for name in ("data", "auth"):
        Generation.objects.get_or_create(name=name)


@pytest.fixture
def tracked(transactional_db: None, settings: Any) -> None:
    as_migrate_left_them()
    settings.HEADWAY_TRACK_CHANGES = True
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


class ChangedMyMind(Exception):
    pass


@contextmanager
def rolled_back() -> Iterator[None]:
    """A transaction, or a savepoint within one, that ends in an error: rolled back."""
    try:
        with transaction.atomic():
            yield
            raise ChangedMyMind
    except ChangedMyMind:
        pass


# -- which statements move what ------------------------------------------------------------


@pytest.mark.parametrize(
    ("sql", "moves"),
    [
        ('INSERT INTO "kpis_kpi" ("key", "name") VALUES (%s, %s)', DATA),
        ('UPDATE "goals_goal" SET "title" = %s WHERE "goals_goal"."id" = %s', DATA),
        ('DELETE FROM "results_result" WHERE "results_result"."kpi_id" IN (%s)', DATA),
        ('REPLACE INTO "kpis_kpi" ("key", "name") VALUES (%s, %s)', DATA),
        ('TRUNCATE "participation_comment"', DATA),
        ("  update accounts_membership set is_manager = %s where id = %s", DATA),
        ('INSERT INTO "django_session" ("session_key") VALUES (%s)', AUTH),
        ('UPDATE "django_session" SET "session_data" = %s WHERE "session_key" = %s', AUTH),
        ('DELETE FROM "django_session" WHERE "django_session"."expire_date" < %s', AUTH),
        ('UPDATE "accounts_user" SET "last_login" = %s WHERE "accounts_user"."id" = %s', AUTH),
        ('UPDATE "accounts_user" SET "password" = %s WHERE "accounts_user"."id" = %s', BOTH),
        (
            'UPDATE "accounts_user" SET "last_login" = %s, "is_active" = %s '
            'WHERE "accounts_user"."id" = %s',
            BOTH,
        ),
        ('INSERT INTO "accounts_user" ("email") VALUES (%s)', BOTH),
        ('DELETE FROM "accounts_user" WHERE "accounts_user"."id" IN (%s)', BOTH),
        # An API call notes when its token was last used, which no cached page shows.
        ('UPDATE "accounts_apitoken" SET "last_used_at" = %s WHERE "id" = %s', NOTHING),
        ('UPDATE "accounts_apitoken" SET "revoked_at" = %s WHERE "id" = %s', DATA),
        ("UPDATE changes_generation SET value = value + 1 WHERE name IN (%s)", NOTHING),
        ('INSERT INTO "changes_generation" ("name", "value") VALUES (%s, %s)', NOTHING),
        ('SELECT "kpis_kpi"."id" FROM "kpis_kpi" WHERE "kpis_kpi"."key" = %s', NOTHING),
        ('SAVEPOINT "s140_x1"', NOTHING),
        ('RELEASE SAVEPOINT "s140_x1"', NOTHING),
        ('ROLLBACK TO SAVEPOINT "s140_x1"', NOTHING),
        ("SET LOCAL headway.audit_truncate = 'flush'", NOTHING),
        ('CREATE TABLE "extra" ("id" integer NOT NULL PRIMARY KEY)', DATA),
        ('ALTER TABLE "kpis_kpi" ADD COLUMN "extra" integer NULL', DATA),
        ('DROP TABLE "extra"', DATA),
    ],
)
def test_a_statement_moves_the_generations_of_what_it_writes(
    sql: str, moves: frozenset[str]
) -> None:
    assert written(sql) == moves


@pytest.mark.parametrize(
    "sql",
    [
        'INSERT INTO "headway_cache" (cache_key, value, expires) VALUES (%s, %s, %s)',
        'UPDATE "headway_cache" SET "value" = %s, "expires" = %s WHERE "cache_key" = %s',
        'DELETE FROM "headway_cache" WHERE "cache_key" IN (%s)',
    ],
)
def test_writes_to_the_database_cache_move_nothing_when_it_is_the_cache(
    sql: str, settings: Any
) -> None:
    settings.CACHES = DATABASE_CACHE
    assert written(sql) == NOTHING
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.dummy.DummyCache"}}
    # A table of that name that is not the cache's is data like any other.
    assert written(sql) == DATA


# -- committed writes through the ORM --------------------------------------------------------


def test_a_committed_save_moves_data_once(tracked: None) -> None:
    team = Team.objects.create(key="east", name="East")
    with watching() as moves:
        team.name = "Far East"
        team.save()
    assert (moves.names, moves.times) == ({"data"}, 1)


def test_a_transaction_of_a_hundred_saves_moves_data_once(tracked: None) -> None:
    Team.objects.bulk_create(Team(key=f"team-{n}", name=f"Team {n}") for n in range(100))
    with watching() as moves, transaction.atomic():
        for team in Team.objects.all():
            team.name = f"{team.name} renamed"
            team.save()
    assert Team.objects.filter(name__endswith=" renamed").count() == 100
    assert (moves.names, moves.times) == ({"data"}, 1)


def test_a_write_moves_data_only_once_its_transaction_commits(tracked: None) -> None:
    Team.objects.create(key="east", name="East")
    with watching() as moves:
        with transaction.atomic():
            Team.objects.filter(key="east").update(name="Far East")
            assert moves.so_far() == set()
        assert moves.so_far() == {"data"}
    assert moves.times == 1


def test_a_rolled_back_transaction_moves_nothing(tracked: None) -> None:
    Team.objects.create(key="east", name="East")
    with watching() as moves, rolled_back():
        Team.objects.create(key="west", name="West")
        Team.objects.filter(key="east").update(name="Far East")
    assert list(Team.objects.values_list("name", flat=True)) == ["East"]
    assert (moves.names, moves.times) == (set(), 0)


@pytest.mark.parametrize("outer_write", ["before the savepoint", "after the savepoint"])
def test_a_rolled_back_savepoint_leaves_the_outer_commit_moving_data_once(
    tracked: None, outer_write: str
) -> None:
    Team.objects.bulk_create([Team(key="kept", name="Kept"), Team(key="dropped", name="Dropped")])
    with watching() as moves, transaction.atomic():
        if outer_write == "before the savepoint":
            Team.objects.filter(key="kept").update(name="Kept, renamed")
        with rolled_back():
            Team.objects.filter(key="dropped").update(name="Dropped, renamed")
        if outer_write == "after the savepoint":
            Team.objects.filter(key="kept").update(name="Kept, renamed")
    assert sorted(Team.objects.values_list("name", flat=True)) == ["Dropped", "Kept, renamed"]
    assert (moves.names, moves.times) == ({"data"}, 1)


def test_a_transaction_whose_only_write_was_in_a_rolled_back_savepoint_moves_nothing(
    tracked: None,
) -> None:
    with watching() as moves, transaction.atomic():
        Team.objects.count()
        with rolled_back():
            Team.objects.create(key="dropped", name="Dropped")
    assert not Team.objects.exists()
    assert (moves.names, moves.times) == (set(), 0)


def test_a_new_row_with_an_automatic_key_moves_data(tracked: None) -> None:
    with watching() as moves:
        Team.objects.create(key="east", name="East")
    assert (moves.names, moves.times) == ({"data"}, 1)


def test_a_bulk_insert_moves_data_once(tracked: None) -> None:
    with watching() as moves:
        Team.objects.bulk_create(Team(key=f"team-{n}", name=f"Team {n}") for n in range(10))
    assert (moves.names, moves.times) == ({"data"}, 1)


def test_an_update_or_delete_that_changes_no_row_moves_nothing(tracked: None) -> None:
    Team.objects.create(key="east", name="East")
    with watching() as moves:
        assert Team.objects.filter(key="nobody").update(name="Nobody") == 0
        assert Team.objects.filter(key="nobody").delete()[0] == 0
    assert (moves.names, moves.times) == (set(), 0)


def test_nothing_moves_while_tracking_is_off(tracked: None, settings: Any) -> None:
    settings.HEADWAY_TRACK_CHANGES = False
    with watching() as moves:
        Team.objects.create(key="east", name="East")
        with transaction.atomic():
            Team.objects.filter(key="east").update(name="Far East")
    assert (moves.names, moves.times) == (set(), 0)


def test_a_new_session_moves_auth_only(tracked: None) -> None:
    with watching() as moves:
        session = SessionStore()
        session["something"] = "kept"
        session.create()
    assert (moves.names, moves.times) == ({"auth"}, 1)


def test_signing_in_moves_auth_only_and_a_new_password_moves_both(tracked: None) -> None:
    person = User.objects.create_user("pat@example.com", password=None)
    with watching() as sign_in:
        update_last_login(User, person)
    assert (sign_in.names, sign_in.times) == ({"auth"}, 1)
    with watching() as new_password:
        person.set_password("a-brand-new-password-17")
        person.save()
    assert (new_password.names, new_password.times) == ({"data", "auth"}, 1)


def test_the_database_caches_own_writes_move_nothing(tracked: None, settings: Any) -> None:
    settings.CACHES = DATABASE_CACHE
    call_command("createcachetable", verbosity=0)
    with watching() as moves:
        cache.set("greeting", "hello")
        cache.set("greeting", "hello again")
        assert cache.get("greeting") == "hello again"
        cache.delete("greeting")
    assert (moves.names, moves.times) == (set(), 0)


def test_creating_and_dropping_a_table_moves_data(tracked: None) -> None:
    with watching() as moves, connection.cursor() as cursor:
        cursor.execute("CREATE TABLE headway_test_extra (id integer PRIMARY KEY)")
        cursor.execute("DROP TABLE headway_test_extra")
    assert moves.names == {"data"}
    assert moves.times == 2  # each statement in autocommit


def test_the_counters_are_there_again_after_a_flush(tracked: None) -> None:
    call_command("flush", interactive=False, verbosity=0)
    assert sorted(generations()) == ["auth", "data"]
    assert current() is not None


# -- reading ---------------------------------------------------------------------------------


def test_current_reads_the_database_once_within_one_reading(tracked: None) -> None:
    expected = generations()
    with one_reading(), CaptureQueriesContext(connection) as seen:
        readings = [current() for _ in range(5)]
    assert len(seen.captured_queries) == 1
    assert readings == [(expected["data"], expected["auth"])] * 5
    # Outside a request each call reads again.
    with CaptureQueriesContext(connection) as seen:
        current()
        current()
    assert len(seen.captured_queries) == 2


def test_current_is_none_while_tracking_is_off(tracked: None, settings: Any) -> None:
    settings.HEADWAY_TRACK_CHANGES = False
    with CaptureQueriesContext(connection) as seen:
        assert current() is None
    assert seen.captured_queries == []


def test_a_signed_in_request_reads_the_generations_at_most_once(
    tracked: None, settings: Any
) -> None:
    settings.HEADWAY_PAGE_CACHE = True
    person = User.objects.create_user("pat@example.com", password=None)
    client = Client()
    client.force_login(person)
    for _ in range(3):
        with CaptureQueriesContext(connection) as seen:
            assert client.get("/me/notifications/").status_code == 200
        readings = [
            query
            for query in seen.captured_queries
            if query["sql"].startswith("SELECT") and "changes_generation" in query["sql"]
        ]
        assert len(readings) == 1
