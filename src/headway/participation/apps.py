from __future__ import annotations

from django.apps import AppConfig


class ParticipationConfig(AppConfig):
    name = "headway.participation"
    label = "participation"
    verbose_name = "Participation"
