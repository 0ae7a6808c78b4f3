"""Employees' part in the KPI system: proposals and their support, discussions, workshops,
and the plain-words glossary of KPIs.

Nothing here is ever overwritten without a trace: a comment's edits are kept as
revisions, a proposal's status changes are audited, and an accepted proposal is applied
through the KPI services with a reference back to it ("proposal:<id>").
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from headway.goals.models import Goal
from headway.kpis.models import Kpi, TargetVersion


class ProposalKind(models.TextChoices):
    NEW_KPI = "new_kpi", _("A new KPI")
    TARGET_CHANGE = "target_change", _("A target change")
    RETIRE_KPI = "retire_kpi", _("Retiring a KPI")


class ProposalStatus(models.TextChoices):
    OPEN = "open", _("Open")
    UNDER_REVIEW = "under_review", _("Under review")
    ACCEPTED = "accepted", _("Accepted")
    DECLINED = "declined", _("Declined")
    MERGED = "merged", _("Merged into another")


class Proposal(models.Model):
    """Anyone's proposal of a new KPI, a target change or a KPI's retirement."""

    kind = models.CharField(_("proposal"), max_length=20, choices=ProposalKind.choices)
    title = models.CharField(_("title"), max_length=300)
    why = models.TextField(_("why it matters"))
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="proposals"
    )
    created_at = models.DateTimeField(_("proposed at"), auto_now_add=True)
    # A target change or a retirement is about a KPI; a new KPI may serve a goal.
    kpi = models.ForeignKey(
        Kpi, null=True, blank=True, on_delete=models.PROTECT, related_name="proposals"
    )
    goal = models.ForeignKey(
        Goal, null=True, blank=True, on_delete=models.PROTECT, related_name="proposals"
    )
    team = models.ForeignKey(
        "accounts.Team",
        verbose_name=_("team"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="proposals",
    )
    # A new KPI's draft.
    kpi_key = models.CharField(_("key"), max_length=100, blank=True)
    kpi_name = models.CharField(_("KPI name"), max_length=300, blank=True)
    formula = models.CharField(_("draft formula"), max_length=2000, blank=True)
    unit = models.CharField(_("unit"), max_length=10, blank=True)
    grain = models.CharField(_("period"), max_length=10, blank=True)
    direction = models.CharField(_("direction"), max_length=4, blank=True)
    # The suggested target (a new KPI's first one, or a KPI's new one) and from when.
    target_value = models.DecimalField(
        _("suggested target"), max_digits=30, decimal_places=10, null=True, blank=True
    )
    effective_from = models.CharField(_("from period"), max_length=10, blank=True)
    status = models.CharField(
        _("status"), max_length=20, choices=ProposalStatus.choices, default=ProposalStatus.OPEN
    )
    status_reason = models.TextField(_("reason for the status"), blank=True)
    status_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    status_at = models.DateTimeField(_("status set at"), null=True, blank=True)
    merged_into = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="merged"
    )
    # What applying it wrote: the new KPI, or the target version (which points back here).
    applied_kpi = models.ForeignKey(
        Kpi, null=True, blank=True, on_delete=models.PROTECT, related_name="from_proposals"
    )
    applied_target = models.ForeignKey(
        TargetVersion, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    applied_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    applied_at = models.DateTimeField(_("applied at"), null=True, blank=True)
    # Set when the proposal came out of a workshop idea.
    idea = models.OneToOneField(
        "WorkshopIdea", null=True, blank=True, on_delete=models.PROTECT, related_name="proposal"
    )
    version = models.PositiveIntegerField(default=1)

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = _("proposal")

    def __str__(self) -> str:
        return self.title

    @property
    def reference(self) -> str:
        """How a target version or a KPI made from it points back at this proposal."""
        return f"proposal:{self.pk}"


class Vote(models.Model):
    """One person's support of a proposal; withdrawing deletes it (audited)."""

    proposal = models.ForeignKey(Proposal, on_delete=models.CASCADE, related_name="votes")
    person = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["proposal", "person"], name="one_vote_per_person")
        ]


class SubjectKind(models.TextChoices):
    PROPOSAL = "proposal", _("Proposal")
    KPI = "kpi", _("KPI")
    GOAL = "goal", _("Goal")
    RESULT = "result", _("Result")


class Comment(models.Model):
    """A comment in the discussion of a proposal, a KPI, a goal or one result (a KPI's
    period). `subject_key` is the proposal's id, the KPI's or goal's key, or
    "<kpi key>@<period>". Edits keep the earlier text as revisions; moderation hides a
    comment with a reason, it never deletes it."""

    subject_kind = models.CharField(_("about"), max_length=10, choices=SubjectKind.choices)
    subject_key = models.CharField(_("subject"), max_length=200)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="comments"
    )
    reply_to = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="replies"
    )
    text = models.TextField(_("comment"))
    mentions = models.ManyToManyField(
        settings.AUTH_USER_MODEL, blank=True, related_name="mentioned_in"
    )
    created_at = models.DateTimeField(_("written at"), auto_now_add=True)
    edited_at = models.DateTimeField(_("edited at"), null=True, blank=True)
    hidden_at = models.DateTimeField(_("hidden at"), null=True, blank=True)
    hidden_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    hidden_reason = models.TextField(_("why it is hidden"), blank=True)
    version = models.PositiveIntegerField(default=1)

    class Meta:
        ordering = ["created_at", "pk"]
        indexes = [models.Index(fields=["subject_kind", "subject_key"])]
        verbose_name = _("comment")

    def __str__(self) -> str:
        return self.text[:80]


class CommentRevision(models.Model):
    """A comment's text before an edit."""

    comment = models.ForeignKey(Comment, on_delete=models.CASCADE, related_name="revisions")
    text = models.TextField()
    replaced_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["comment", "replaced_at", "pk"]


class WorkshopStatus(models.TextChoices):
    PLANNED = "planned", _("Planned")
    RUNNING = "running", _("Running")
    CLOSED = "closed", _("Closed")


class Workshop(models.Model):
    """A session where employees work out KPIs and targets together."""

    topic = models.CharField(_("topic"), max_length=300)
    goals = models.ManyToManyField(Goal, blank=True, related_name="workshops")
    team = models.ForeignKey(
        "accounts.Team",
        verbose_name=_("team"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="workshops",
    )
    starts_at = models.DateTimeField(_("date and time"))
    location = models.CharField(_("place or link"), max_length=300, blank=True)
    facilitator = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("facilitator"),
        on_delete=models.PROTECT,
        related_name="facilitated_workshops",
    )
    agenda = models.TextField(_("agenda"), blank=True)
    dots_per_person = models.PositiveSmallIntegerField(_("dot votes per person"), default=3)
    status = models.CharField(
        _("status"), max_length=10, choices=WorkshopStatus.choices, default=WorkshopStatus.PLANNED
    )
    invited = models.ManyToManyField(
        settings.AUTH_USER_MODEL, through="WorkshopInvitation", related_name="workshops"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    version = models.PositiveIntegerField(default=1)

    class Meta:
        ordering = ["-starts_at", "pk"]
        verbose_name = _("workshop")

    def __str__(self) -> str:
        return self.topic


class WorkshopInvitation(models.Model):
    workshop = models.ForeignKey(Workshop, on_delete=models.CASCADE, related_name="invitations")
    person = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    attended = models.BooleanField(_("attended"), null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["workshop", "person"], name="one_workshop_invitation")
        ]


class IdeaKind(models.TextChoices):
    KPI_IDEA = "kpi", _("A KPI idea")
    TARGET_IDEA = "target", _("A target idea")
    DATA_PROBLEM = "data", _("A problem with the data")


class WorkshopIdea(models.Model):
    workshop = models.ForeignKey(Workshop, on_delete=models.CASCADE, related_name="ideas")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(_("kind"), max_length=10, choices=IdeaKind.choices)
    text = models.CharField(_("idea"), max_length=1000)
    group = models.CharField(_("group"), max_length=100, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["group", "created_at", "pk"]
        verbose_name = _("idea")

    def __str__(self) -> str:
        return self.text[:80]


class DotVote(models.Model):
    """One dot a participant put on an idea (several on one idea are allowed, within the
    workshop's dots per person)."""

    idea = models.ForeignKey(WorkshopIdea, on_delete=models.CASCADE, related_name="dots")
    person = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)


class WorkshopFeedback(models.Model):
    workshop = models.ForeignKey(Workshop, on_delete=models.CASCADE, related_name="feedback")
    person = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    rating = models.PositiveSmallIntegerField(_("rating (1-5)"))
    comment = models.TextField(_("comment"), blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["workshop", "person"], name="one_feedback_per_person"),
            models.CheckConstraint(
                condition=models.Q(rating__gte=1) & models.Q(rating__lte=5),
                name="rating_from_one_to_five",
            ),
        ]


class GlossaryEntry(models.Model):
    """A KPI in plain words, in both languages: what it means and why it matters. How it is
    computed is written from the formula itself."""

    kpi = models.OneToOneField(Kpi, on_delete=models.CASCADE, related_name="glossary")
    meaning_en = models.TextField(_("what it means (English)"), blank=True)
    meaning_zh = models.TextField(_("what it means (Traditional Chinese)"), blank=True)
    why_en = models.TextField(_("why it matters (English)"), blank=True)
    why_zh = models.TextField(_("why it matters (Traditional Chinese)"), blank=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    updated_at = models.DateTimeField(auto_now=True)
    version = models.PositiveIntegerField(default=1)

    class Meta:
        verbose_name = _("glossary entry")
        verbose_name_plural = _("glossary")
