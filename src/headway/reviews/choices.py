"""Choices of review cycles, meetings, agenda items, decisions and actions."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class MeetingStatus(models.TextChoices):
    PLANNED = "planned", _("Planned")
    PREPARING = "preparing", _("Preparing")
    IN_MEETING = "in_meeting", _("In meeting")
    DECIDED = "decided", _("Decided")
    CLOSED = "closed", _("Closed")


class AgendaReason(models.TextChoices):
    """Why an item is on the agenda, in the order the agenda lists them."""

    RED = "red", _("Off track")
    FORECAST_MISS = "forecast_miss", _("Forecast to miss")
    UNREALISTIC = "unrealistic", _("Target looks unrealistic")
    STALE = "stale", _("Stale data")
    PROPOSAL = "proposal", _("Proposal from employees")
    OPEN_ACTION = "open_action", _("Open action")
    NEVER_REVIEWED = "never_reviewed", _("Never reviewed")
    ADDED = "added", _("Added by the organiser")


class DecisionKind(models.TextChoices):
    KEEP = "keep", _("Keep as it is")
    CHANGE_TARGET = "change_target", _("Change the target")
    CHANGE_KPI = "change_kpi", _("Change the KPI")
    RETIRE_KPI = "retire_kpi", _("Retire the KPI")
    ADD_KPI = "add_kpi", _("Add a KPI")
    ASSIGN_ACTION = "assign_action", _("Assign an action")


class DecisionStatus(models.TextChoices):
    PROPOSED = "proposed", _("Waiting for the chair")
    APPROVED = "approved", _("Approved")
    REJECTED = "rejected", _("Rejected")
    APPLIED = "applied", _("Applied")


class ActionStatus(models.TextChoices):
    OPEN = "open", _("Open")
    DONE = "done", _("Done")
    DROPPED = "dropped", _("Dropped")
