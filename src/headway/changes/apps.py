from __future__ import annotations

from django.apps import AppConfig


class ChangesConfig(AppConfig):
    name = "headway.changes"
    label = "changes"
    verbose_name = "Changes"

    def ready(self) -> None:
        from django.db.backends.signals import connection_created
        from django.db.models.signals import post_migrate, pre_migrate

        from headway.changes.generations import migration_ended, migration_started, track_writes

        # Every connection, in every process (web, worker, CLI): a write made anywhere
        # moves the generation the web processes check.
        connection_created.connect(track_writes, dispatch_uid="headway.changes.track_writes")
        pre_migrate.connect(migration_started, dispatch_uid="headway.changes.migration_started")
        post_migrate.connect(migration_ended, dispatch_uid="headway.changes.migration_ended")
