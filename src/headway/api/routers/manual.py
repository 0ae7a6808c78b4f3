"""Values of KPIs entered by hand: read, entered for many periods at once, and approved or
rejected by the KPI's owner. The same services as the web UI's grid decide who may do what,
keep every entry, and write the audit log (`headway.results.manual`)."""

from __future__ import annotations

import datetime
from collections import Counter
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest
from ninja import Query, Router, Schema, Status
from pydantic import Field

from headway.accounts.models import Organization
from headway.api.auth import writer
from headway.api.errors import READ_ERRORS, WRITE_ERRORS
from headway.api.lookups import kpi_by_key, page
from headway.api.schemas import DecimalOut, Page, PageParams, TargetValueIn
from headway.lib.periods import Period, PeriodLabelError, parse_period_label
from headway.results.choices import ManualStatus
from headway.results.manual import (
    MAX_COMMENT,
    manual_value_decide,
    manual_values_submit,
)
from headway.results.models import ManualValue

router = Router(tags=["Values entered by hand"])


class ManualValueOut(Schema):
    id: int = Field(description="The entry's number; entries are never changed, only decided")
    kpi: str = Field(description="The KPI's key")
    period: str = Field(description="The period's label, e.g. 2026-03")
    period_start: datetime.date
    value: DecimalOut | None = Field(description="null: the period has no value (withdrawn)")
    comment: str
    status: ManualStatus = Field(
        description="`approved` counts; `pending` waits for the owner; `rejected` and "
        "`superseded` (by a later entry) stay in the history only"
    )
    entered_by: str | None = Field(description="Who entered it (e-mail address)")
    entered_at: datetime.datetime
    decided_by: str | None = Field(description="Who approved or rejected it (e-mail address)")
    decided_at: datetime.datetime | None
    decision_note: str

    @classmethod
    def of(cls, entry: ManualValue, kpi_key: str) -> ManualValueOut:
        return cls(
            id=entry.pk,
            kpi=kpi_key,
            period=entry.period,
            period_start=entry.period_start,
            value=entry.value,
            comment=entry.comment,
            status=ManualStatus(entry.status),
            entered_by=entry.entered_by.email if entry.entered_by else None,
            entered_at=entry.entered_at,
            decided_by=entry.decided_by.email if entry.decided_by else None,
            decided_at=entry.decided_at,
            decision_note=entry.decision_note,
        )


class ManualValuePage(Page):
    items: list[ManualValueOut]


class ManualValueList(Schema):
    items: list[ManualValueOut] = Field(
        description="Per period sent, the entry that stands for it now (the new one, or the "
        "one that was already there when the value was unchanged)"
    )


class ManualValueFilters(PageParams):
    history: bool = Field(
        default=False,
        description="Also list rejected entries and those superseded by a later one",
    )
    period_from: str | None = Field(
        default=None, alias="from", max_length=10, description="First period, e.g. 2026-01"
    )
    period_to: str | None = Field(
        default=None, alias="to", max_length=10, description="Last period (inclusive)"
    )


class ValueIn(Schema):
    period: str = Field(max_length=40, description="A period label of the KPI's grain: 2026-03")
    value: TargetValueIn | None = Field(
        description="The value (a percent as a fraction: 0.083 for 8.3%); null withdraws "
        "the period's value"
    )
    seen: int | None = Field(
        default=None,
        description="The id of the period's entry you read (0: there was none). When "
        "another entry came since, the request is refused with 409. Leave it out to skip "
        "the check.",
    )


class ValuesIn(Schema):
    values: list[ValueIn] = Field(min_length=1, max_length=500)
    comment: str = Field(default="", max_length=MAX_COMMENT)


class DecisionIn(Schema):
    approve: bool = Field(description="true approves the entry, false rejects it")
    note: str = Field(default="", max_length=MAX_COMMENT)


def _period(label: str, field: str) -> Period:
    try:
        return parse_period_label(label.strip(), Organization.current().fiscal_year_start)
    except PeriodLabelError as error:
        raise ValidationError({field: str(error)}) from None


@router.get(
    "/kpis/{key}/values",
    response={200: ManualValuePage, **READ_ERRORS},
    summary="List a KPI's values entered by hand",
    description="The entries that stand (approved and pending), oldest period first; with "
    "`history=true`, every entry ever made, rejected and superseded ones too.",
)
def manual_values_list(
    request: HttpRequest, key: str, filters: Query[ManualValueFilters]
) -> ManualValuePage:
    kpi = kpi_by_key(key)
    query = ManualValue.objects.filter(kpi=kpi).select_related("entered_by", "decided_by")
    if not filters.history:
        query = query.filter(status__in=[ManualStatus.APPROVED, ManualStatus.PENDING])
    if filters.period_from:
        query = query.filter(period_start__gte=_period(filters.period_from, "from").start)
    if filters.period_to:
        query = query.filter(period_start__lte=_period(filters.period_to, "to").last_day)
    query = query.order_by("period_start", "pk")
    items, count = page(query, filters, lambda entry: ManualValueOut.of(entry, kpi.key))
    return ManualValuePage(items=items, count=count, limit=filters.limit, offset=filters.offset)


def _field_errors(error: ValidationError, payload: ValuesIn) -> dict[str, list[str]]:
    """The service names periods as they were sent; the API names the row of the list."""
    rows: dict[str, list[int]] = {}
    for index, item in enumerate(payload.values):
        rows.setdefault(item.period, []).append(index)
    errors: dict[str, list[str]] = {}
    for name, messages in error.message_dict.items():
        fields = [f"values.{index}" for index in rows[name]] if name in rows else [name]
        for field in fields:
            errors.setdefault(field, []).extend(messages)
    return errors


def _standing(kpi_id: int, labels: list[str]) -> list[ManualValue]:
    """Per period, the entry that stands: the pending one, or else the approved one."""
    fiscal_year_start = Organization.current().fiscal_year_start
    starts = [parse_period_label(label, fiscal_year_start).start for label in labels]
    found: dict[datetime.date, ManualValue] = {}
    for entry in (
        ManualValue.objects.filter(
            kpi_id=kpi_id,
            period_start__in=starts,
            status__in=[ManualStatus.APPROVED, ManualStatus.PENDING],
        )
        .select_related("entered_by", "decided_by")
        .order_by("period_start", "pk")
    ):
        if entry.period_start not in found or entry.status == ManualStatus.PENDING:
            found[entry.period_start] = entry
    return [found[start] for start in sorted(found)]


@router.post(
    "/kpis/{key}/values",
    response={200: ManualValueList, 201: ManualValueList, **WRITE_ERRORS},
    summary="Enter values of many periods at once",
    description="All of them, or none: a single bad period or value refuses the whole "
    "request with 422, each problem naming its row (`values.2`) and the period. 201 when "
    "something was stored; 200 when every value was as it already was (nothing is "
    "stored). Values wait for the owner's approval when the KPI asks for it, unless the "
    "owner or an admin enters them.",
)
def manual_values_create(
    request: HttpRequest, key: str, payload: ValuesIn
) -> Status[ManualValueList]:
    by = writer(request)
    kpi = kpi_by_key(key)
    times = Counter(item.period.strip() for item in payload.values)
    repeated = {
        f"values.{index}": [f"{item.period.strip()} is given twice"]
        for index, item in enumerate(payload.values)
        if times[item.period.strip()] > 1
    }
    if repeated:
        raise ValidationError(repeated)
    values: dict[str, Decimal | None] = {item.period: item.value for item in payload.values}
    seen = {
        item.period: item.seen or None for item in payload.values if "seen" in item.model_fields_set
    }
    try:
        created = manual_values_submit(
            kpi=kpi, values=values, by=by, comment=payload.comment, seen=seen
        )
    except ValidationError as error:
        if not hasattr(error, "error_dict"):
            raise
        raise ValidationError(_field_errors(error, payload)) from None
    items = [
        ManualValueOut.of(entry, kpi.key)
        for entry in _standing(kpi.pk, [item.period for item in payload.values])
    ]
    return Status(201 if created else 200, ManualValueList(items=items))


@router.post(
    "/kpis/{key}/values/{entry_id}/decision",
    response={200: ManualValueOut, **WRITE_ERRORS},
    summary="Approve or reject a value waiting for approval",
    description="Only the KPI's owner or an admin decides, and nobody but the owner "
    "decides on their own entry. An approved value supersedes the period's approved one "
    "and becomes its result; a rejected one stays in the history. A value no longer "
    "waiting (decided or superseded meanwhile) is refused with 409.",
)
def manual_values_decide(
    request: HttpRequest, key: str, entry_id: int, payload: DecisionIn
) -> ManualValueOut:
    by = writer(request)
    kpi = kpi_by_key(key)
    if not ManualValue.objects.filter(kpi=kpi, pk=entry_id).exists():
        raise Http404(f"KPI {key!r} has no value entered with id {entry_id}")
    manual_value_decide(
        kpi=kpi, entry_ids=[entry_id], approve=payload.approve, by=by, note=payload.note
    )
    entry = ManualValue.objects.select_related("entered_by", "decided_by").get(pk=entry_id)
    return ManualValueOut.of(entry, kpi.key)
