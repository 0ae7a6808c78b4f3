"""Review cycles and their meetings: the agenda built from the data, the owners' comments,
the decisions and the actions they lead to.

A decision never edits what it decides about: applying it calls the KPI services, which
append a target version (or change the KPI, audited), and the decision keeps a reference
to what it wrote. Decisions and comments are never deleted; only their status moves on.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from headway.accounts.models import Team
from headway.kpis.models import Kpi
from headway.reviews.choices import (
    ActionStatus,
    AgendaReason,
    DecisionKind,
    DecisionStatus,
    MeetingStatus,
)


class ReviewCycle(models.Model):
    """The review of one period (a quarter by default), e.g. "2026-Q2"."""

    period = models.CharField(_("period under review"), max_length=10, unique=True)
    grain = models.CharField(_("cadence"), max_length=10)
    period_start = models.DateField(_("from"))
    period_end = models.DateField(_("to"))
    title = models.CharField(_("title"), max_length=200)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("created by"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        ordering = ["-period_start"]
        verbose_name = _("review cycle")

    def __str__(self) -> str:
        return self.title


class Meeting(models.Model):
    """A review meeting of a cycle: the whole organisation's, or one team's (with the
    teams below it)."""

    cycle = models.ForeignKey(ReviewCycle, on_delete=models.PROTECT, related_name="meetings")
    title = models.CharField(_("title"), max_length=200)
    team = models.ForeignKey(
        Team,
        verbose_name=_("team"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="review_meetings",
        help_text=_("Empty: the whole organisation's KPIs."),
    )
    scheduled_at = models.DateTimeField(_("date and time"))
    location = models.CharField(_("place or link"), max_length=300, blank=True)
    chair = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("chair"),
        on_delete=models.PROTECT,
        related_name="chaired_meetings",
    )
    participants = models.ManyToManyField(
        settings.AUTH_USER_MODEL, through="Participant", related_name="review_meetings"
    )
    status = models.CharField(
        _("status"), max_length=12, choices=MeetingStatus.choices, default=MeetingStatus.PLANNED
    )
    comments_due = models.DateField(_("owners comment by"), null=True, blank=True)
    remind_days_before = models.PositiveSmallIntegerField(
        _("remind owners this many days before"), default=5
    )
    agenda_built_at = models.DateTimeField(_("agenda built at"), null=True, blank=True)
    minutes_sent_at = models.DateTimeField(_("minutes sent at"), null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("created by"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    version = models.PositiveIntegerField(default=1)

    class Meta:
        ordering = ["-scheduled_at", "pk"]
        verbose_name = _("review meeting")

    def __str__(self) -> str:
        return self.title


class Participant(models.Model):
    """Someone invited to a meeting; `attended` is recorded in the meeting (None: not yet)."""

    meeting = models.ForeignKey(Meeting, on_delete=models.CASCADE, related_name="attendance")
    person = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    attended = models.BooleanField(_("attended"), null=True, blank=True)

    class Meta:
        ordering = ["pk"]
        constraints = [
            models.UniqueConstraint(fields=["meeting", "person"], name="one_invitation_per_person")
        ]


class Action(models.Model):
    """Something a meeting asked someone to do by a date, tracked to done."""

    meeting = models.ForeignKey(Meeting, on_delete=models.PROTECT, related_name="actions")
    kpi = models.ForeignKey(
        Kpi, null=True, blank=True, on_delete=models.PROTECT, related_name="review_actions"
    )
    decision = models.OneToOneField(
        "Decision", null=True, blank=True, on_delete=models.PROTECT, related_name="action"
    )
    title = models.CharField(_("action"), max_length=500)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("owner"),
        on_delete=models.PROTECT,
        related_name="review_actions",
    )
    due = models.DateField(_("due"))
    status = models.CharField(
        _("status"), max_length=10, choices=ActionStatus.choices, default=ActionStatus.OPEN
    )
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    closing_note = models.TextField(_("note"), blank=True)
    version = models.PositiveIntegerField(default=1)

    class Meta:
        ordering = ["due", "pk"]
        verbose_name = _("action")

    def __str__(self) -> str:
        return self.title


class AgendaItem(models.Model):
    """One point of a meeting's agenda: a KPI (with why it is there and the numbers when
    the agenda was built), or an open action of an earlier meeting, or a point of its own."""

    meeting = models.ForeignKey(Meeting, on_delete=models.CASCADE, related_name="items")
    kpi = models.ForeignKey(
        Kpi, null=True, blank=True, on_delete=models.PROTECT, related_name="agenda_items"
    )
    action = models.ForeignKey(
        Action, null=True, blank=True, on_delete=models.PROTECT, related_name="agenda_items"
    )
    title = models.CharField(_("title"), max_length=300, blank=True)
    reason = models.CharField(_("why"), max_length=20, choices=AgendaReason.choices)
    reasons = models.JSONField(_("all reasons"), default=list, blank=True)
    facts = models.JSONField(_("numbers when the agenda was built"), default=dict, blank=True)
    position = models.PositiveIntegerField(default=0)
    notes = models.TextField(_("notes"), blank=True)
    added_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    version = models.PositiveIntegerField(default=1)

    class Meta:
        ordering = ["meeting", "position", "pk"]
        verbose_name = _("agenda item")
        constraints = [
            models.UniqueConstraint(
                fields=["meeting", "kpi"],
                condition=models.Q(kpi__isnull=False),
                name="one_agenda_item_per_kpi",
            ),
            models.UniqueConstraint(
                fields=["meeting", "action"],
                condition=models.Q(action__isnull=False),
                name="one_agenda_item_per_action",
            ),
        ]

    def __str__(self) -> str:
        return self.title or (self.kpi.name if self.kpi else "")


class OwnerComment(models.Model):
    """A KPI owner's comment before the meeting. A new comment supersedes the earlier one,
    which stays (the latest is shown)."""

    meeting = models.ForeignKey(Meeting, on_delete=models.CASCADE, related_name="comments")
    kpi = models.ForeignKey(Kpi, on_delete=models.PROTECT, related_name="review_comments")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    text = models.TextField(_("comment"))
    written_at = models.DateTimeField(_("written at"), auto_now_add=True)

    class Meta:
        ordering = ["meeting", "kpi", "written_at", "pk"]
        verbose_name = _("owner's comment")


class Decision(models.Model):
    """What the meeting decided on an item. Recorded by a participant, approved or
    rejected by the chair, then applied; `details` holds what the kind needs (see
    `headway.reviews.decisions`) and `outcome` what applying it wrote."""

    meeting = models.ForeignKey(Meeting, on_delete=models.PROTECT, related_name="decisions")
    item = models.ForeignKey(
        AgendaItem, null=True, blank=True, on_delete=models.PROTECT, related_name="decisions"
    )
    kpi = models.ForeignKey(
        Kpi, null=True, blank=True, on_delete=models.PROTECT, related_name="review_decisions"
    )
    kind = models.CharField(_("decision"), max_length=20, choices=DecisionKind.choices)
    details = models.JSONField(_("details"), default=dict, blank=True)
    reason = models.TextField(_("reason"))
    status = models.CharField(
        _("status"),
        max_length=10,
        choices=DecisionStatus.choices,
        default=DecisionStatus.PROPOSED,
    )
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    recorded_at = models.DateTimeField(_("recorded at"), auto_now_add=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    decided_at = models.DateTimeField(_("approved or rejected at"), null=True, blank=True)
    decision_note = models.TextField(_("chair's note"), blank=True)
    applied_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    applied_at = models.DateTimeField(_("applied at"), null=True, blank=True)
    outcome = models.JSONField(_("what applying it wrote"), default=dict, blank=True)

    class Meta:
        ordering = ["meeting", "pk"]
        verbose_name = _("decision")

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.reason[:60]}"

    @property
    def reference(self) -> str:
        """How a target version or KPI change points back at this decision."""
        return f"review-decision:{self.pk}"


class ReminderSent(models.Model):
    """That an owner was reminded to comment before a meeting (once per meeting)."""

    meeting = models.ForeignKey(Meeting, on_delete=models.CASCADE, related_name="reminders")
    person = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    sent_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["meeting", "person"], name="one_reminder_per_meeting")
        ]
