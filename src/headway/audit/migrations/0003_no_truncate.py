"""TRUNCATE empties a table without firing its row triggers, so the append-only triggers
of 0002 do not stop it: on PostgreSQL a statement trigger refuses it too.

SQLite has no TRUNCATE (its `DELETE FROM t` without WHERE fires the row trigger, which
refuses it). The one way past the trigger is Django's `flush` (which empties every table
by TRUNCATE on PostgreSQL, as the test runner does between transactional tests): Headway's
own `flush` command (headway.audit.management.commands.flush) sets
`headway.audit_truncate` to `flush` for its transaction only. Whoever can set that can
also drop the trigger: it guards against mistakes, not against the database's owner.
"""

from __future__ import annotations

from typing import Any

from django.db import migrations

TABLE = "audit_auditentry"
TRIGGER = f"{TABLE}_no_truncate"
BYPASS = "headway.audit_truncate"


def forwards(apps: Any, schema_editor: Any) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(
        f"CREATE OR REPLACE FUNCTION {TRIGGER}() RETURNS trigger AS $$ BEGIN "
        f"IF current_setting('{BYPASS}', true) = 'flush' THEN RETURN NULL; END IF; "
        f"RAISE EXCEPTION 'TRUNCATE on {TABLE} refused: the table is append-only'; "
        "END; $$ LANGUAGE plpgsql;",
        params=None,
    )
    schema_editor.execute(f"DROP TRIGGER IF EXISTS {TRIGGER} ON {TABLE};", params=None)
    schema_editor.execute(
        f"CREATE TRIGGER {TRIGGER} BEFORE TRUNCATE ON {TABLE} "
        f"FOR EACH STATEMENT EXECUTE FUNCTION {TRIGGER}();",
        params=None,
    )


def backwards(apps: Any, schema_editor: Any) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(f"DROP TRIGGER IF EXISTS {TRIGGER} ON {TABLE};", params=None)
    schema_editor.execute(f"DROP FUNCTION IF EXISTS {TRIGGER}();", params=None)


class Migration(migrations.Migration):
    dependencies = [("audit", "0002_append_only")]

    operations = [migrations.RunPython(forwards, backwards)]
