from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class Horizon(models.TextChoices):
    LONG = "long", _("Long term")
    SHORT = "short", _("Short term")


class GoalStatus(models.TextChoices):
    ACTIVE = "active", _("Active")
    ACHIEVED = "achieved", _("Achieved")
    MISSED = "missed", _("Missed")
    CANCELLED = "cancelled", _("Cancelled")
