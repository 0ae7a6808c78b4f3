"""Statuses: the label, the icon and the colour of each, defined once."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy


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


class ManualStatus(models.TextChoices):
    """Where a value entered by hand stands. Only an approved value counts."""

    PENDING = "pending", _("Waiting for approval")
    APPROVED = "approved", _("Approved")
    REJECTED = "rejected", pgettext_lazy("value status", "Rejected")
    SUPERSEDED = "superseded", _("Superseded")
