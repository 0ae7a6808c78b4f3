from __future__ import annotations

from django.apps import AppConfig


class ReviewsConfig(AppConfig):
    name = "headway.reviews"
    label = "reviews"
    verbose_name = "Reviews"

    def ready(self) -> None:
        from headway.jobs.worker import register_scheduler

        register_scheduler("reviews.schedule", "headway.reviews.reminders.run_review_schedule")
