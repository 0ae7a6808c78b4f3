"""Django's `flush`, able to empty the append-only tables (the audit log, target
versions) that their triggers otherwise keep from being emptied.

Flushing empties every table: by TRUNCATE on PostgreSQL, which the audit table's
statement trigger refuses (audit migration 0003) unless `headway.audit_truncate` is
`flush`; by DELETE on SQLite, which the row triggers refuse. This command sets the
setting for its own transaction only (SET LOCAL) on PostgreSQL, and on SQLite drops the
triggers and creates them again in the flush's transaction: nothing run on the connection
afterwards may empty the tables. The test runner flushes through it between transactional
tests.
"""

from __future__ import annotations

from typing import Any

from django.core.management.commands import flush
from django.db import connections, transaction


class Command(flush.Command):
    def handle(self, **options: Any) -> None:
        connection = connections[options["database"]]
        with transaction.atomic(using=connection.alias), connection.cursor() as cursor:
            triggers: list[tuple[str, str]] = []
            if connection.vendor == "postgresql":
                cursor.execute("SET LOCAL headway.audit_truncate = 'flush'")
            elif connection.vendor == "sqlite":
                cursor.execute("SELECT name, sql FROM sqlite_master WHERE type = 'trigger'")
                triggers = [(str(name), str(sql)) for name, sql in cursor.fetchall()]
                for name, _ in triggers:
                    cursor.execute(f'DROP TRIGGER "{name}"')
            super().handle(**options)
            for _, sql in triggers:
                cursor.execute(sql)
