"""Period close: an admin locks a period that is over, and from then on the Results and the
values entered by hand of every KPI period inside it stay as they are, until an admin
reopens it, saying why. Both are audited; locks are never deleted, so the history of
closing and reopening stays.

    period_lock ─▶ PeriodLock (active) ─▶ period_reopen ─▶ the same lock, reopened
                        │
                        ▼
        locked_spans(): the days inside active locks, merged
        is_period_locked(): a KPI period lies entirely inside them
        results_recompute, manual values: leave such periods alone

A KPI period is locked when every one of its days is: a quarter is locked once its three
months are (or the quarter, or its year), and a week that runs into a month still open is
not locked.
"""

from __future__ import annotations

import datetime
import zoneinfo
from collections.abc import Iterable, Sequence

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from headway.accounts.models import Organization, User
from headway.accounts.permissions import is_admin
from headway.audit.errors import NotAllowed
from headway.audit.services import audit_record
from headway.lib.periods import Grain, PeriodLabelError, parse_period_label
from headway.results.models import PeriodLock, Result

MAX_REASON = 2000

Span = tuple[datetime.date, datetime.date]


# Reads ----------------------------------------------------------------------------------


def active_locks() -> QuerySet[PeriodLock]:
    """The locks in force (not reopened), with who locked them, earliest days first."""
    return (
        PeriodLock.objects.filter(reopened_at__isnull=True)
        .select_related("locked_by")
        .order_by("start", "end", "pk")
    )


def merge_spans(spans: Iterable[Span]) -> list[Span]:
    """Spans of days (first, last), merged where they overlap or touch, in order."""
    merged: list[Span] = []
    for first, last in sorted(spans):
        if merged and first <= merged[-1][1] + datetime.timedelta(days=1):
            if last > merged[-1][1]:
                merged[-1] = (merged[-1][0], last)
        else:
            merged.append((first, last))
    return merged


def locked_spans(locks: Iterable[PeriodLock] | None = None) -> list[Span]:
    """The days inside active locks (or inside `locks`), as merged spans (first, last)."""
    if locks is None:
        pairs: Iterable[Span] = active_locks().values_list("start", "end")
    else:
        pairs = [(lock.start, lock.end) for lock in locks]
    return merge_spans(pairs)


def is_period_locked(
    start: datetime.date, last_day: datetime.date, spans: Sequence[Span] | None = None
) -> bool:
    """Whether every day from `start` to `last_day` lies inside locked days (the active
    locks' unless `spans` are given, merged as `locked_spans` merges them)."""
    if spans is None:
        spans = locked_spans()
    return any(first <= start and last_day <= last for first, last in spans)


def _zone() -> datetime.tzinfo:
    try:
        return zoneinfo.ZoneInfo(Organization.current().timezone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return datetime.UTC


def locked_problem(
    label: str,
    start: datetime.date,
    last_day: datetime.date,
    *,
    locks: Sequence[PeriodLock] | None = None,
) -> str | None:
    """A sentence for people when the period is locked (None when it is not): which lock
    closed it, by whom and when, and that an admin must reopen it first. `locks` may give
    the active locks, read once for many periods."""
    if locks is None:
        locks = list(active_locks())
    if not is_period_locked(start, last_day, locked_spans(locks)):
        return None
    overlapping = [lock for lock in locks if lock.start <= last_day and start <= lock.end]
    latest = max(overlapping, key=lambda lock: (lock.locked_at, lock.pk))
    return _(
        "%(label)s is closed (locked by %(person)s on %(date)s); an admin must reopen it first."
    ) % {
        "label": label,
        "person": latest.locked_by,
        "date": timezone.localtime(latest.locked_at, _zone()).date().isoformat(),
    }


def _latest_start(grain: Grain, last: datetime.date) -> datetime.date | None:
    """The latest first day of a period of `grain` that ends on or before `last`."""
    if grain is Grain.WEEK:
        return last - datetime.timedelta(days=6)
    months = {Grain.MONTH: 1, Grain.QUARTER: 3, Grain.YEAR: 12}[grain]
    try:
        after = last + datetime.timedelta(days=1)
    except OverflowError:
        return None
    index = after.year * 12 + after.month - 1 - months
    if index < 12:
        return None
    return datetime.date(index // 12, index % 12 + 1, 1)


# A stored Result knows its period's label and first day, not its grain: the label tells
# it (2026-W05, 2026-Q1, 2026, and months like 2026-03).
_LABELS_OF: dict[Grain, Q] = {
    Grain.WEEK: Q(period__contains="W"),
    Grain.QUARTER: Q(period__contains="Q"),
    Grain.YEAR: ~Q(period__contains="-"),
    Grain.MONTH: Q(period__contains="-") & ~Q(period__contains="W") & ~Q(period__contains="Q"),
}


def exclude_locked(
    results: QuerySet[Result], spans: Sequence[Span] | None = None
) -> QuerySet[Result]:
    """The results whose period is not locked: a period is locked when it starts inside a
    locked span no later than the last start of its grain that still ends inside it (a
    few conditions per span, however many periods)."""
    if spans is None:
        spans = locked_spans()
    locked = Q()
    for first, last in spans:
        for grain, labels in _LABELS_OF.items():
            latest = _latest_start(grain, last)
            if latest is not None and latest >= first:
                locked |= labels & Q(period_start__gte=first, period_start__lte=latest)
    return results.exclude(locked) if locked else results


# Writes ---------------------------------------------------------------------------------


def _reason(text: str, field: str) -> str:
    text = text.strip()
    if len(text) > MAX_REASON:
        raise ValidationError(
            {
                field: _("The reason is too long: at most %(limit)s characters.")
                % {"limit": MAX_REASON}
            }
        )
    return text


def period_lock(*, period: str, by: User, reason: str = "") -> PeriodLock:
    """Closes a period that is over: from now on the Results and the values entered by hand
    of every KPI period inside it stay as they are, until an admin reopens it."""
    # The values entered by hand read the locks, so the module is imported here.
    from headway.results import manual

    if not is_admin(by):
        raise NotAllowed("only an admin may close a period")
    reason = _reason(reason, "reason")
    shown = (period.strip() or period)[:40]
    try:
        found = parse_period_label(period, Organization.current().fiscal_year_start)
        last_day = found.last_day
    except (PeriodLabelError, TypeError, OverflowError):
        raise ValidationError(
            {
                "period": _(
                    "“%(label)s” is not a period: write a month like 2026-03, a quarter like "
                    "2026-Q1, a year like 2026 or a week like 2026-W05."
                )
                % {"label": shown}
            }
        ) from None
    today = manual.organization_today()
    if last_day >= today:
        raise ValidationError(
            {
                "period": _(
                    "%(label)s is not over yet: it ends on %(last)s, and only a period that is "
                    "over can be closed."
                )
                % {"label": found.label, "last": last_day.isoformat()}
            }
        )
    with transaction.atomic():
        already = active_locks().filter(start=found.start, end=last_day).first()
        if already is not None:
            raise ValidationError(
                {
                    "period": _("%(label)s is already closed (locked by %(person)s on %(date)s).")
                    % {
                        "label": found.label,
                        "person": already.locked_by,
                        "date": timezone.localtime(already.locked_at, _zone()).date().isoformat(),
                    }
                }
            )
        lock = PeriodLock.objects.create(
            period=found.label,
            grain=found.grain.value,
            start=found.start,
            end=last_day,
            reason=reason,
            locked_by=by,
            locked_at=timezone.now(),
        )
        audit_record(
            actor=by,
            action="period.lock",
            target=lock,
            object_label=lock.period,
            after={
                "period": lock.period,
                "grain": lock.grain,
                "start": lock.start,
                "end": lock.end,
                "reason": reason,
            },
            reason=reason,
        )
    return lock


def period_reopen(*, lock: PeriodLock, by: User, reason: str) -> PeriodLock:
    """Reopens a closed period, saying why: its Results and values may change again. The
    lock stays, marked reopened; closing the period again makes a new lock."""
    if not is_admin(by):
        raise NotAllowed("only an admin may reopen a closed period")
    reason = _reason(reason, "reason")
    if not reason:
        raise ValidationError(
            {
                "reason": _("Say why %(label)s is reopened: it stays in the history.")
                % {"label": lock.period}
            }
        )
    with transaction.atomic():
        # Two admins reopening at once: the second one waits here, then finds it reopened.
        lock = PeriodLock.objects.select_for_update().get(pk=lock.pk)
        if lock.reopened_at is not None:
            raise ValidationError(
                {
                    "period": _("%(label)s was already reopened by %(person)s on %(date)s.")
                    % {
                        "label": lock.period,
                        "person": lock.reopened_by or "—",
                        "date": timezone.localtime(lock.reopened_at, _zone()).date().isoformat(),
                    }
                }
            )
        lock.reopened_by = by
        lock.reopened_at = timezone.now()
        lock.reopen_reason = reason
        lock.save(update_fields=["reopened_by", "reopened_at", "reopen_reason"])
        audit_record(
            actor=by,
            action="period.reopen",
            target=lock,
            object_label=lock.period,
            before={"reopened_at": None},
            after={
                "period": lock.period,
                "reopened_by": by,
                "reopened_at": lock.reopened_at,
                "reopen_reason": reason,
            },
            reason=reason,
        )
    return lock
