"""Statuses: the label, the icon and the colour of each, defined once."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class Status(models.TextChoices):
    GREEN = "green", _("On track")
    AMBER = "amber", _("At risk")
    RED = "red", _("Off track")
    NONE = "none", _("No target")

    @property
    def icon(self) -> str:
        return {"green": "●", "amber": "▲", "red": "■", "none": "○"}[self.value]

    @property
    def css(self) -> str:
        return f"status-{self.value}"
