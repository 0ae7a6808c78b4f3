"""Values of a KPI entered by hand: a grid of periods, one form for many of them, and the
owner's approvals. Everything is decided and saved by `headway.results.manual`; these
views read what people typed, call it, and show the answer beside the cell at fault.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST

from headway.accounts.models import User
from headway.audit.errors import ConflictError
from headway.kpis.choices import EntryKind, Unit
from headway.kpis.models import Kpi
from headway.reports.formatting import period_name
from headway.results.manual import (
    GridRow,
    can_decide_values,
    can_enter_values,
    grid_window,
    manual_grid,
    manual_history,
    manual_pending,
    manual_value_decide,
    manual_values_submit,
)
from headway.results.models import ManualValue
from headway.web.forms import posted_text, typed_number
from headway.web.views.common import CONFLICT_MESSAGE, require


def _user(request: HttpRequest) -> User:
    user = request.user
    assert isinstance(user, User)
    return user


def _manual_kpi(key: str) -> Kpi:
    kpi = get_object_or_404(Kpi.objects.select_related("team", "owner"), key=key)
    if kpi.entry != EntryKind.MANUAL:
        raise Http404("this KPI is computed by its formula")
    return kpi


def _shown(value: Decimal | None, percent: bool) -> str:
    """A stored value as it is typed into the grid: plain digits, percent as 8.3."""
    if value is None:
        return ""
    amount = (value * 100 if percent else value).normalize()
    text = format(amount, "f")
    return "0" if text == "-0" else text


def _typed(text: str, percent: bool) -> Decimal | None:
    """What someone typed into a cell as a value; ValidationError with a sentence if it is
    not a number the database keeps. An empty cell is no value."""
    return typed_number(text, scale=100 if percent else 1, percent_sign=percent)


@dataclass
class Line:
    """A row of the grid as the template shows it."""

    row: GridRow
    name: str
    text: str
    seen: int | None
    errors: list[str]


def _window_url(kpi: Kpi, first: str | None) -> str:
    url = reverse("web:kpi_values", kwargs={"key": kpi.key})
    return f"{url}?{urlencode({'from': first})}" if first else url


@login_required
def kpi_values(request: HttpRequest, key: str) -> HttpResponse:
    """The grid: per period the value that counts, its target and status, the value
    waiting for approval, and a cell to type a new one; many periods in one submit."""
    kpi = _manual_kpi(key)
    user = _user(request)
    percent = kpi.unit == Unit.PERCENT
    may_enter = kpi.is_active and can_enter_values(user, kpi)
    first = request.GET.get("from") or None
    window = grid_window(kpi, first)
    rows = manual_grid(kpi, window.periods)
    typed: dict[str, str] = {}
    errors: dict[str, list[str]] = {}
    general: list[str] = []
    comment = ""
    if request.method == "POST":
        require(may_enter)
        comment = request.POST.get("comment", "")
        try:
            posted_text(request.POST, "comment")
        except ValidationError as error:
            errors["comment"] = error.messages
        values: dict[str, Decimal | None] = {}
        seen: dict[str, int | None] = {}
        for label in request.POST.getlist("period"):
            text = request.POST.get(f"value-{label}", "")
            typed[label] = text
            try:
                values[label] = _typed(text, percent)
            except ValidationError as error:
                errors.setdefault(label, []).extend(error.messages)
            mark = request.POST.get(f"seen-{label}", "")
            seen[label] = int(mark) if mark.isdigit() else None
        if not errors:
            try:
                created = manual_values_submit(
                    kpi=kpi, values=values, by=user, comment=comment, seen=seen
                )
            except ConflictError:
                general.append(str(CONFLICT_MESSAGE))
            except ValidationError as error:
                for field, found in error.message_dict.items():
                    if field in typed:
                        errors.setdefault(field, []).extend(found)
                    elif field == "comment":
                        errors.setdefault("comment", []).extend(found)
                    else:
                        general.extend(found)
            else:
                _saved_message(request, created)
                return redirect(_window_url(kpi, first))
    lines = [
        Line(
            row=row,
            name=period_name(row.period.label, row.period.start),
            text=typed.get(
                row.period.label, _shown(row.latest.value if row.latest else None, percent)
            ),
            seen=row.latest.pk if row.latest else None,
            errors=errors.get(row.period.label, []),
        )
        for row in rows
    ]
    shown = {row.period.label for row in rows}
    general.extend(
        message
        for label, found in errors.items()
        if label not in shown and label != "comment"
        for message in found
    )
    context: dict[str, Any] = {
        "kpi": kpi,
        "lines": lines,
        "percent": percent,
        "may_enter": may_enter,
        "may_decide": can_decide_values(user, kpi),
        "pending": manual_pending(kpi),
        "history": manual_history(kpi, first=window.periods[-1].start, last=window.periods[0].start)
        if window.periods
        else [],
        "earlier_url": _window_url(kpi, window.earlier),
        "later_url": _window_url(kpi, window.later) if window.later is not None else None,
        "action": _window_url(kpi, first),
        "comment": comment,
        "comment_errors": errors.get("comment", []),
        "general_errors": general,
        "has_errors": bool(errors or general),
    }
    return render(request, "web/kpi_values.html", context)


def _saved_message(request: HttpRequest, created: list[ManualValue]) -> None:
    if not created:
        messages.info(request, _("Nothing changed: every value was as it already was."))
        return
    waiting = sum(1 for entry in created if entry.status == "pending")
    if waiting:
        messages.success(
            request,
            ngettext(
                "%(count)s value was saved; it counts once the KPI's owner approves it.",
                "%(count)s values were saved; they count once the KPI's owner approves them.",
                waiting,
            )
            % {"count": waiting},
        )
    else:
        messages.success(
            request,
            ngettext("%(count)s value was saved.", "%(count)s values were saved.", len(created))
            % {"count": len(created)},
        )


@require_POST
@login_required
def kpi_value_decision(request: HttpRequest, key: str, pk: int) -> HttpResponse:
    """Approves or rejects one value waiting for the owner's approval."""
    kpi = _manual_kpi(key)
    user = _user(request)
    require(can_decide_values(user, kpi))
    get_object_or_404(ManualValue, kpi=kpi, pk=pk)
    approve = request.POST.get("decision") == "approve"
    try:
        entries = manual_value_decide(
            kpi=kpi,
            entry_ids=[pk],
            approve=approve,
            by=user,
            note=posted_text(request.POST, "note"),
        )
    except ConflictError:
        messages.error(request, CONFLICT_MESSAGE)
    except ValidationError as error:
        for message in error.messages:
            messages.error(request, message)
    else:
        entry = entries[0]
        words = (
            _("The value for %(period)s was approved.")
            if approve
            else _("The value for %(period)s was rejected.")
        )
        messages.success(request, words % {"period": period_name(entry.period, entry.period_start)})
    return redirect(reverse("web:kpi_values", kwargs={"key": kpi.key}) + "#pending")
