from __future__ import annotations

from django.apps import AppConfig


class ReportsConfig(AppConfig):
    name = "headway.reports"
    label = "reports"
    verbose_name = "Reports"

    def ready(self) -> None:
        from headway.jobs.worker import register_handler, register_scheduler

        register_handler("reports.monthly", "headway.reports.delivery.run_monthly_reports")
        register_scheduler("reports.monthly", "headway.reports.delivery.schedule_monthly_reports")
