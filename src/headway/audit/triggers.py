"""Database triggers that make tables append-only, on SQLite and PostgreSQL.

The application never updates or deletes these rows; the triggers make sure nothing
else does either (a bug, a shell, a migration gone wrong).
"""

from __future__ import annotations

from typing import Any


def _sqlite(table: str, refuse: tuple[str, ...]) -> list[str]:
    return [
        f"CREATE TRIGGER IF NOT EXISTS {table}_no_{event.lower()} BEFORE {event} ON {table} "
        f"BEGIN SELECT RAISE(ABORT, '{table} is append-only: {event} refused'); END;"
        for event in refuse
    ]


def _postgresql(table: str, refuse: tuple[str, ...]) -> list[str]:
    function = f"{table}_append_only"
    statements = [
        f"CREATE OR REPLACE FUNCTION {function}() RETURNS trigger AS $$ BEGIN "
        f"RAISE EXCEPTION '% on {table} refused: the table is append-only', TG_OP; "
        "END; $$ LANGUAGE plpgsql;"
    ]
    for event in refuse:
        statements.append(f"DROP TRIGGER IF EXISTS {table}_no_{event.lower()} ON {table};")
        statements.append(
            f"CREATE TRIGGER {table}_no_{event.lower()} BEFORE {event} ON {table} "
            f"FOR EACH ROW EXECUTE FUNCTION {function}();"
        )
    return statements


def make_append_only(table: str, refuse: tuple[str, ...] = ("UPDATE", "DELETE")) -> Any:
    """A RunPython operation function installing the triggers for the current database."""

    def forwards(apps: Any, schema_editor: Any) -> None:
        vendor = schema_editor.connection.vendor
        if vendor == "sqlite":
            statements = _sqlite(table, refuse)
        elif vendor == "postgresql":
            statements = _postgresql(table, refuse)
        else:
            raise RuntimeError(f"append-only triggers are not written for {vendor}")
        for statement in statements:
            schema_editor.execute(statement, params=None)

    return forwards


def drop_append_only(table: str, refuse: tuple[str, ...] = ("UPDATE", "DELETE")) -> Any:
    def backwards(apps: Any, schema_editor: Any) -> None:
        for event in refuse:
            if schema_editor.connection.vendor == "postgresql":
                schema_editor.execute(
                    f"DROP TRIGGER IF EXISTS {table}_no_{event.lower()} ON {table};"
                )
            else:
                schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_no_{event.lower()};")

    return backwards
