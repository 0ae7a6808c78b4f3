from __future__ import annotations

from django.apps import AppConfig


class ResultsConfig(AppConfig):
    name = "headway.results"
    label = "results"
    verbose_name = "Results"

    def ready(self) -> None:
        from headway.jobs.worker import register_handler, register_scheduler

        register_handler("results.refresh", "headway.results.jobs.refresh_dataset")
        register_scheduler("results.red_alerts", "headway.results.jobs.check_red")
