from __future__ import annotations

from django.apps import AppConfig


class GoalsConfig(AppConfig):
    name = "headway.goals"
    label = "goals"
    verbose_name = "Goals"
