"""KPIs, the data they are computed from, and their targets (append-only versions)."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from headway.accounts.models import Team
from headway.engine.model import KEY_PATTERN
from headway.goals.models import Goal
from headway.kpis.choices import Aggregation, Direction, EntryKind, Grain, TargetOrigin, Unit


class Dataset(models.Model):
    """A table of business data (leads, deals, surveys...) that measures aggregate."""

    key = models.SlugField(_("key"), max_length=100, unique=True)
    file = models.CharField(_("file"), max_length=500)
    key_column = models.CharField(_("key column"), max_length=200)
    time_column = models.CharField(_("time column"), max_length=200, blank=True)
    dimensions = models.JSONField(_("dimensions"), default=list, blank=True)
    # Data older than this marks the KPIs that read the dataset stale and tells their
    # owners; empty: the dataset is never stale.
    freshness_hours = models.PositiveIntegerField(_("fresh for (hours)"), null=True, blank=True)
    version = models.PositiveIntegerField(default=1)

    class Meta:
        ordering = ["key"]
        verbose_name = _("dataset")

    def __str__(self) -> str:
        return self.key


class Measure(models.Model):
    """An aggregation of one dataset's rows, optionally filtered: the atoms of formulas."""

    name = models.CharField(_("name"), max_length=100, unique=True)
    dataset = models.ForeignKey(Dataset, on_delete=models.PROTECT, related_name="measures")
    agg = models.CharField(_("aggregation"), max_length=20, choices=Aggregation.choices)
    column = models.CharField(_("column"), max_length=200, blank=True)
    filter = models.TextField(_("filter"), blank=True)
    time_column = models.CharField(_("time column"), max_length=200, blank=True)
    version = models.PositiveIntegerField(default=1)

    class Meta:
        ordering = ["name"]
        verbose_name = _("measure")

    def __str__(self) -> str:
        return self.name


class Kpi(models.Model):
    """A key performance indicator: a formula over measures, per period, with targets."""

    key = models.CharField(
        _("key"),
        max_length=100,
        unique=True,
        # The workspace file's rule for keys, so that every KPI can be exported and computed.
        validators=[RegexValidator(KEY_PATTERN)],
    )
    name = models.CharField(_("name"), max_length=300)
    description = models.TextField(_("description"), blank=True)
    entry = models.CharField(
        _("how values are obtained"),
        max_length=10,
        choices=EntryKind.choices,
        default=EntryKind.FORMULA,
    )
    formula = models.CharField(_("formula"), max_length=2000, blank=True)
    # For KPIs entered by hand: whether a value counts only once the KPI's owner approved it.
    manual_approval = models.BooleanField(_("values need the owner's approval"), default=False)
    unit = models.CharField(_("unit"), max_length=10, choices=Unit.choices)
    direction = models.CharField(
        _("direction"), max_length=4, choices=Direction.choices, default=Direction.UP
    )
    grain = models.CharField(_("period"), max_length=10, choices=Grain.choices)
    team = models.ForeignKey(
        Team,
        verbose_name=_("team"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="kpis",
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("owner"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="owned_kpis",
    )
    threshold_green = models.DecimalField(
        _("green from"), max_digits=12, decimal_places=6, default=Decimal("1.0")
    )
    threshold_amber = models.DecimalField(
        _("amber from"), max_digits=12, decimal_places=6, default=Decimal("0.9")
    )
    goals = models.ManyToManyField(Goal, through="KpiGoal", related_name="kpis", blank=True)
    is_active = models.BooleanField(_("active"), default=True)
    position = models.PositiveIntegerField(default=0)
    version = models.PositiveIntegerField(default=1)

    class Meta:
        ordering = ["position", "key"]
        verbose_name = _("KPI")
        verbose_name_plural = _("KPIs")

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        if (
            self.threshold_amber is not None
            and self.threshold_green is not None
            and self.threshold_amber > self.threshold_green
        ):
            raise ValidationError({"threshold_amber": _("Amber must not be above green.")})


class KpiGoal(models.Model):
    """A KPI serves a goal, with a weight in that goal's overall progress."""

    kpi = models.ForeignKey(Kpi, on_delete=models.CASCADE, related_name="goal_links")
    goal = models.ForeignKey(Goal, on_delete=models.CASCADE, related_name="kpi_links")
    weight = models.DecimalField(_("weight"), max_digits=6, decimal_places=3, default=Decimal(1))

    class Meta:
        constraints = [models.UniqueConstraint(fields=["kpi", "goal"], name="one_link_per_goal")]


class TargetVersion(models.Model):
    """A target from a period on. Never changed: a new decision is a new version, with
    its reason, who decided and where (set-up, a review, a proposal). The database
    refuses UPDATE on this table (see migration 0002)."""

    kpi = models.ForeignKey(Kpi, on_delete=models.PROTECT, related_name="targets")
    effective_from = models.CharField(_("from period"), max_length=10)
    effective_start = models.DateField(_("from day"))
    value = models.DecimalField(_("target"), max_digits=30, decimal_places=10)
    where_dimension = models.CharField(_("group dimension"), max_length=200, blank=True)
    where_value = models.CharField(_("group"), max_length=200, blank=True)
    reason = models.TextField(_("reason"), blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("decided by"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    decided_at = models.DateTimeField(_("decided at"), auto_now_add=True)
    origin = models.CharField(
        _("origin"), max_length=10, choices=TargetOrigin.choices, default=TargetOrigin.SETUP
    )
    origin_reference = models.CharField(_("origin reference"), max_length=200, blank=True)

    class Meta:
        ordering = ["kpi", "effective_start", "pk"]
        verbose_name = _("target version")

    def __str__(self) -> str:
        group = f" [{self.where_value}]" if self.where_value else ""
        return f"{self.kpi.key} from {self.effective_from}{group}: {self.value}"
