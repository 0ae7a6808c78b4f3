from __future__ import annotations

from django.apps import AppConfig


class JobsConfig(AppConfig):
    name = "headway.jobs"
    label = "jobs"
    verbose_name = "Jobs"
