from __future__ import annotations

from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "headway.notifications"
    label = "notifications"
    verbose_name = "Notifications"

    def ready(self) -> None:
        from headway.jobs.worker import register_scheduler

        register_scheduler("notifications.digests", "headway.notifications.digests.run_digests")
