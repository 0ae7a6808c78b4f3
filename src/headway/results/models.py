"""Computed values of KPIs, with the inputs and freshness that explain them."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from headway.kpis.models import Kpi
from headway.results.choices import Status


class Result(models.Model):
    """A KPI's value for one period and group (the total when group is empty)."""

    kpi = models.ForeignKey(Kpi, on_delete=models.CASCADE, related_name="results")
    period = models.CharField(_("period"), max_length=10)
    period_start = models.DateField(_("period start"))
    group_dimension = models.CharField(_("dimension"), max_length=200, blank=True)
    group_value = models.CharField(_("group"), max_length=200, blank=True)
    value = models.DecimalField(_("value"), max_digits=30, decimal_places=10, null=True)
    target = models.DecimalField(_("target"), max_digits=30, decimal_places=10, null=True)
    attainment = models.DecimalField(_("attainment"), max_digits=30, decimal_places=10, null=True)
    status = models.CharField(_("status"), max_length=5, choices=Status.choices)
    measures = models.JSONField(_("measure values"), default=dict)
    computed_at = models.DateTimeField(_("computed at"))
    data_as_of = models.DateTimeField(_("data as of"), null=True)

    class Meta:
        ordering = ["kpi", "period_start", "group_dimension", "group_value"]
        constraints = [
            models.UniqueConstraint(
                fields=["kpi", "period_start", "group_dimension", "group_value"],
                name="one_result_per_period_and_group",
            )
        ]
        indexes = [models.Index(fields=["kpi", "group_dimension", "period_start"])]

    def __str__(self) -> str:
        return f"{self.kpi.key} {self.period} {self.group_value or 'total'}"
