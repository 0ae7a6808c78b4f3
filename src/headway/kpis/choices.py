"""Choices of the KPI catalogue; each mirrors an engine enum and carries its label once."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class Unit(models.TextChoices):
    COUNT = "count", _("Count")
    NUMBER = "number", _("Number")
    PERCENT = "percent", _("Percent")
    CURRENCY = "currency", _("Currency")
    SCORE = "score", _("Score")


class Direction(models.TextChoices):
    UP = "up", _("Higher is better")
    DOWN = "down", _("Lower is better")


class Grain(models.TextChoices):
    WEEK = "week", _("Week")
    MONTH = "month", _("Month")
    QUARTER = "quarter", _("Quarter")
    YEAR = "year", _("Year")


class Aggregation(models.TextChoices):
    COUNT = "count", _("Count of rows")
    COUNT_DISTINCT = "count_distinct", _("Count of distinct values")
    SUM = "sum", _("Sum")
    AVG = "avg", _("Average")
    MIN = "min", _("Minimum")
    MAX = "max", _("Maximum")


class EntryKind(models.TextChoices):
    FORMULA = "formula", _("Computed by a formula")
    MANUAL = "manual", _("Entered by hand")


class TargetOrigin(models.TextChoices):
    SETUP = "setup", _("Set-up")
    REVIEW = "review", _("Review")
    PROPOSAL = "proposal", _("Proposal")
