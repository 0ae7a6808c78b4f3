"""Goals: long and short term, in a tree, each owned by a person or team."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from headway.accounts.models import Team
from headway.goals.choices import GoalStatus, Horizon


class Goal(models.Model):
    """A company goal, e.g. "raise the new product's market share by 10% this year"."""

    key = models.SlugField(_("key"), max_length=100, unique=True)
    title = models.CharField(_("title"), max_length=300)
    horizon = models.CharField(_("horizon"), max_length=10, choices=Horizon.choices)
    parent = models.ForeignKey(
        "self",
        verbose_name=_("parent goal"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="children",
    )
    start = models.DateField(_("start"), null=True, blank=True)
    due = models.DateField(_("due"), null=True, blank=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("owner"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="owned_goals",
    )
    team = models.ForeignKey(
        Team,
        verbose_name=_("team"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="goals",
    )
    status = models.CharField(
        _("status"), max_length=10, choices=GoalStatus.choices, default=GoalStatus.ACTIVE
    )
    statement = models.CharField(_("measurable statement"), max_length=500, blank=True)
    description = models.TextField(_("description"), blank=True)
    position = models.PositiveIntegerField(default=0)
    version = models.PositiveIntegerField(default=1)

    class Meta:
        ordering = ["position", "key"]
        verbose_name = _("goal")

    def __str__(self) -> str:
        return self.title
