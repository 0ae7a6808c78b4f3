from __future__ import annotations

from django.apps import AppConfig


class IngestionConfig(AppConfig):
    name = "headway.ingestion"
    label = "ingestion"
    verbose_name = "Ingestion"

    def ready(self) -> None:
        from headway.jobs.worker import register_handler, register_scheduler

        register_handler("ingestion.sync", "headway.ingestion.jobs.run_sync")
        register_scheduler("ingestion.syncs", "headway.ingestion.jobs.schedule_syncs")
        register_scheduler("ingestion.freshness", "headway.ingestion.jobs.report_stale")
