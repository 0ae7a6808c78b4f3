"""Values of KPIs entered by hand: many periods at once, an optional approval by the KPI's
owner, and every entry kept.

    manual_values_submit ─▶ entries: approved at once, or pending ─▶ manual_value_decide
                                      │ approved
                                      ▼
        the period's Result: target, attainment and status worked out by the engine's
        own functions (target_for, attainment_of, status_of), as for KPIs with a formula

Who may do what (deny by default):
- enter values: the KPI's owner (unless they only view), the managers of its team, admins;
- an entry counts at once when the KPI needs no approval, or when its owner or an admin
  enters it (they are the ones who would approve it); otherwise it waits for the owner
  (or an admin) to approve or reject it;
- nobody approves their own entry unless they own the KPI.

Entries are never overwritten. A new entry for a period supersedes the pending one (and,
once it counts, the approved one), which stay with their status set to superseded; a
rejected entry stays too. Results are only made for the organisation's total: a KPI
entered by hand has no data, so no dimensions to break it down by.

A closed period (see `headway.results.locks`) takes no new value and no decision, and its
Results stay as they are, until an admin reopens it.
"""

from __future__ import annotations

import datetime
import zoneinfo
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from headway.accounts.choices import Role
from headway.accounts.models import Organization, User
from headway.accounts.permissions import can_edit_team_things, is_admin, is_signed_in
from headway.audit.errors import ConflictError, NotAllowed
from headway.audit.services import audit_record
from headway.engine.compute import attainment_of, status_of, target_for
from headway.engine.formula import Number
from headway.engine.model import Direction, TargetEntry, Thresholds
from headway.engine.model import Kpi as EngineKpi
from headway.engine.model import Unit as EngineUnit
from headway.engine.workspace import ResolvedKpi, ResolvedTarget
from headway.kpis.choices import EntryKind
from headway.kpis.models import Kpi
from headway.lib.periods import (
    Grain,
    Period,
    PeriodLabelError,
    parse_period_label,
    period_containing,
)
from headway.results.choices import ManualStatus
from headway.results.locks import (
    active_locks,
    exclude_locked,
    is_period_locked,
    locked_problem,
    locked_spans,
)
from headway.results.models import ManualValue, Result

# The value column holds 30 digits, 10 of them after the point.
MAX_DECIMAL_PLACES = 10
MAX_WHOLE_DIGITS = 20
MAX_COMMENT = 2000
GRID_PERIODS = 12


# Who may do what ------------------------------------------------------------------------


def can_enter_values(user: Any, kpi: Kpi) -> bool:
    """The KPI's owner (unless they only view), the managers of its team, and admins."""
    if is_admin(user):
        return True
    if not is_signed_in(user) or user.role == Role.VIEWER:
        return False
    return kpi.owner_id == user.pk or can_edit_team_things(user, kpi.team_id)


def can_decide_values(user: Any, kpi: Kpi) -> bool:
    """The KPI's owner (unless they only view) and admins approve or reject entries."""
    if is_admin(user):
        return True
    return is_signed_in(user) and user.role != Role.VIEWER and kpi.owner_id == user.pk


def counts_at_once(user: Any, kpi: Kpi) -> bool:
    """Whether an entry by this person counts without waiting for an approval."""
    return not kpi.manual_approval or is_admin(user) or kpi.owner_id == user.pk


# Periods --------------------------------------------------------------------------------


def organization_today() -> datetime.date:
    """Today where the organisation is: a new period starts at its midnight."""
    try:
        zone: datetime.tzinfo = zoneinfo.ZoneInfo(Organization.current().timezone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        zone = datetime.UTC
    return timezone.localdate(timezone=zone)


def current_period(kpi: Kpi, fiscal_year_start: int | None = None) -> Period:
    """The KPI's period that today falls in: the latest one values may be entered for."""
    if fiscal_year_start is None:
        fiscal_year_start = Organization.current().fiscal_year_start
    return period_containing(Grain(kpi.grain), organization_today(), fiscal_year_start)


def _grain_words(grain: str) -> str:
    words = {
        "week": _("per week"),
        "month": _("per month"),
        "quarter": _("per quarter"),
        "year": _("per year"),
    }
    return words.get(grain, grain)


def _entry_period(kpi: Kpi, label: str, fiscal_year_start: int, current: Period) -> Period:
    """The period a label names; ValueError with a sentence naming it when it cannot take
    a value of this KPI (not a label, another grain, not started yet)."""
    shown = label.strip() or label
    try:
        period = parse_period_label(label, fiscal_year_start)
    except (PeriodLabelError, TypeError):
        raise ValueError(
            _("“%(label)s” is not a period: write it like %(example)s.")
            % {"label": shown[:40], "example": current.label}
        ) from None
    if period.grain is not current.grain:
        raise ValueError(
            _(
                "%(label)s is not a period of this KPI: its values are entered %(grain)s, "
                "like %(example)s."
            )
            % {"label": shown, "grain": _grain_words(kpi.grain), "example": current.label}
        )
    if period > current:
        raise ValueError(
            _("%(label)s has not started yet: values can be entered up to %(current)s.")
            % {"label": period.label, "current": current.label}
        )
    return period


def _value_problem(label: str, value: Decimal | None) -> str | None:
    if value is None:
        return None
    if not isinstance(value, Decimal):
        return _("%(label)s: %(value)s is not a number.") % {"label": label, "value": value}
    if not value.is_finite():
        return _("%(label)s: %(value)s is not a finite number.") % {"label": label, "value": value}
    exponent = value.normalize().as_tuple().exponent
    assert isinstance(exponent, int)
    if -exponent > MAX_DECIMAL_PLACES:
        return _("%(label)s: %(value)s has more than %(places)s decimal places.") % {
            "label": label,
            "value": value,
            "places": MAX_DECIMAL_PLACES,
        }
    if abs(value) >= Decimal(10) ** MAX_WHOLE_DIGITS:
        return _("%(label)s: %(value)s is too large.") % {"label": label, "value": value}
    return None


# Results --------------------------------------------------------------------------------


def _number(value: Decimal) -> int | float:
    # As workspace_io gives the engine a target: whole numbers as int, others as float.
    as_int = int(value)
    return as_int if value == as_int else float(value)


def _decimal(value: float | int | None) -> Decimal | None:
    # As results_recompute stores the engine's floats: the shortest text that round-trips.
    if value is None:
        return None
    return Decimal(repr(value)) if isinstance(value, float) else Decimal(value)


def _engine_kpi(kpi: Kpi, fiscal_year_start: int) -> ResolvedKpi:
    """The engine's view of a KPI entered by hand: its direction, thresholds and targets,
    made from the target versions exactly as `workspace_data` hands them to the engine for
    a KPI with a formula (in order of start and then of decision). It has no formula to
    evaluate: its values come from people."""
    versions = sorted(kpi.targets.all(), key=lambda target: (target.effective_start, target.pk))
    targets = []
    for position, version in enumerate(versions):
        entry = TargetEntry.model_validate(
            {
                "from": version.effective_from,
                "value": _number(version.value),
                "where": {version.where_dimension: version.where_value}
                if version.where_dimension
                else None,
            }
        )
        starts = parse_period_label(version.effective_from, fiscal_year_start)
        targets.append(ResolvedTarget(entry=entry, starts=starts, position=position))
    spec = EngineKpi.model_construct(
        key=kpi.key,
        name=kpi.name,
        formula="",
        unit=EngineUnit(kpi.unit),
        direction=Direction(kpi.direction),
        grain=Grain(kpi.grain),
        thresholds=Thresholds(green=float(kpi.threshold_green), amber=float(kpi.threshold_amber)),
        targets=[target.entry for target in targets],
    )
    return ResolvedKpi(
        spec=spec, formula=Number(0), measures=(), lookback=0, targets=tuple(targets)
    )


def _period_of(entry: ManualValue, grain: Grain, fiscal_year_start: int) -> Period:
    try:
        return Period(grain, entry.period_start, fiscal_year_start)
    except ValueError:
        # The organisation's fiscal year moved since the value was entered: the period
        # still starts on the day it did, which is all that picks its target.
        return Period(Grain.WEEK if grain is Grain.WEEK else Grain.MONTH, entry.period_start)


def _result_of(kpi: Kpi, entry: ManualValue, engine_kpi: ResolvedKpi, period: Period) -> Result:
    assert entry.value is not None
    chosen = target_for(engine_kpi, period, None, None)
    target = chosen.entry.value if chosen is not None else None
    attainment = attainment_of(float(entry.value), target, engine_kpi.spec.direction)
    if attainment is not None and abs(attainment) >= 1e20:
        # A value over a minute target (1e19 over 1e-10): more digits than a Result holds,
        # and no more meaningful than the infinite attainment attainment_of leaves out.
        attainment = None
    thresholds = engine_kpi.spec.thresholds
    return Result(
        kpi=kpi,
        period=entry.period,
        period_start=entry.period_start,
        group_dimension="",
        group_value="",
        value=entry.value,
        target=_decimal(target),
        attainment=_decimal(attainment),
        status=status_of(attainment, thresholds.green, thresholds.amber).value,
        measures={},
        computed_at=timezone.now(),
        data_as_of=entry.entered_at,
    )


def _write_results(kpi: Kpi, starts: Iterable[datetime.date] | None = None) -> int:
    """Makes the KPI's Results follow its approved values: for the periods starting on
    `starts`, or all of them (then any other Result of the KPI goes). The Results of
    closed periods stay as they are. Returns how many Results were written. Runs inside
    the caller's transaction."""
    fiscal_year_start = Organization.current().fiscal_year_start
    spans = locked_spans()
    approved = ManualValue.objects.filter(kpi=kpi, status=ManualStatus.APPROVED)
    stale = exclude_locked(Result.objects.filter(kpi=kpi), spans)
    if starts is not None:
        wanted = sorted(set(starts))
        approved = approved.filter(period_start__in=wanted)
        stale = stale.filter(group_dimension="", period_start__in=wanted)
    engine_kpi = _engine_kpi(kpi, fiscal_year_start)
    grain = Grain(kpi.grain)
    rows = []
    for entry in approved:
        period = _period_of(entry, grain, fiscal_year_start)
        if entry.value is not None and not is_period_locked(period.start, period.last_day, spans):
            rows.append(_result_of(kpi, entry, engine_kpi, period))
    stale.delete()
    Result.objects.bulk_create(rows)
    return len(rows)


def manual_results_refresh(*, kpi: Kpi, by: User | None) -> int:
    """Rebuilds a KPI's Results from its approved values, after its targets, thresholds or
    direction changed (or it became a KPI entered by hand). Returns how many there are."""
    with transaction.atomic():
        removed = Result.objects.filter(kpi=kpi).count()
        count = _write_results(kpi)
        audit_record(
            actor=by,
            action="results.recompute",
            object_type="results.result",
            object_label=f"{kpi.key} (entered by hand)",
            before={"results": removed},
            after={"results": count, "kpis": [kpi.key]},
        )
    return count


# Writes ---------------------------------------------------------------------------------


def _same(first: Decimal | None, second: Decimal | None) -> bool:
    if first is None or second is None:
        return first is None and second is None
    return first == second


def _lock(kpi: Kpi) -> Kpi:
    """The KPI as it is now, locked: writers of one KPI's values take turns (on SQLite,
    which has one writer at a time anyway, a plain read), and who owns it, whether it
    needs approval and whether it is still active are read afresh."""
    return Kpi.objects.select_for_update().get(pk=kpi.pk)


def _live(kpi: Kpi, starts: Iterable[datetime.date]) -> dict[datetime.date, dict[str, ManualValue]]:
    """Per period start, its approved and its pending entry (each may be missing)."""
    found: dict[datetime.date, dict[str, ManualValue]] = {}
    for entry in ManualValue.objects.filter(
        kpi=kpi,
        period_start__in=list(starts),
        status__in=[ManualStatus.APPROVED, ManualStatus.PENDING],
    ).select_related("entered_by"):
        found.setdefault(entry.period_start, {})[entry.status] = entry
    return found


class ValueConflict(ConflictError):
    """Someone else entered or decided a value since it was read. `expected` and `current`
    are the ids of the entry read and of the one there now (0: none)."""

    def __init__(self, message: str, *, expected: int, current: int) -> None:
        self.expected = expected
        self.current = current
        Exception.__init__(self, message)


def _brief(entry: ManualValue) -> dict[str, Any]:
    return {"id": entry.pk, "period": entry.period, "value": entry.value, "status": entry.status}


def _wanted(
    kpi: Kpi, values: Mapping[str, Decimal | None], comment: str
) -> dict[datetime.date, tuple[Period, Decimal | None, str]]:
    """Per period start: the period, its value and its label as given. ValidationError
    keyed by each label at fault (and `comment`), naming the period in every message."""
    if kpi.entry != EntryKind.MANUAL:
        raise ValidationError(
            _("%(name)s is computed by its formula: its values cannot be entered by hand.")
            % {"name": kpi.name}
        )
    if not kpi.is_active:
        raise ValidationError(
            _("%(name)s is retired: no values can be entered for it any more.") % {"name": kpi.name}
        )
    problems: dict[str, list[str]] = {}
    if len(comment) > MAX_COMMENT:
        problems["comment"] = [
            _("The comment is too long: at most %(limit)s characters.") % {"limit": MAX_COMMENT}
        ]
    fiscal_year_start = Organization.current().fiscal_year_start
    current = current_period(kpi, fiscal_year_start)
    wanted: dict[datetime.date, tuple[Period, Decimal | None, str]] = {}
    for label, value in values.items():
        try:
            period = _entry_period(kpi, label, fiscal_year_start, current)
        except ValueError as error:
            problems.setdefault(label, []).append(str(error))
            continue
        problem = _value_problem(period.label, value)
        if problem is None and period.start in wanted:
            problem = _("%(label)s is given twice.") % {"label": period.label}
        if problem is not None:
            problems.setdefault(label, []).append(problem)
            continue
        wanted[period.start] = (period, value, label)
    if problems:
        raise ValidationError(problems)
    return wanted


def manual_values_submit(
    *,
    kpi: Kpi,
    values: Mapping[str, Decimal | None],
    by: User,
    comment: str = "",
    seen: Mapping[str, int | None] | None = None,
) -> list[ManualValue]:
    """Enters the KPI's values of many periods at once: all of them, or none.

    `values` maps period labels (of the KPI's grain, up to the current period) to a value,
    or to None for "no value" (withdrawing one). A value equal to the period's current
    entry (the pending one, or else the approved one) changes nothing. `seen` may give,
    per label, the id of the entry the person saw (None: none): if another entry came
    since, a value left as it was read is skipped and a changed one is a ConflictError.

    Returns the new entries; none, and no audit row, when nothing changed. Invalid input
    raises ValidationError keyed by each label at fault, as does a changed value of a
    closed period (one left as it was changes nothing, so it is no fault).
    """
    comment = comment.strip()
    with transaction.atomic():
        kpi = _lock(kpi)
        if not can_enter_values(by, kpi):
            raise NotAllowed(
                "only the KPI's owner, a manager of its team or an admin may enter its values"
            )
        wanted = _wanted(kpi, values, comment)
        at_once = counts_at_once(by, kpi)
        live = _live(kpi, wanted)
        read_values = dict(
            ManualValue.objects.filter(
                kpi=kpi, pk__in=[pk for pk in (seen or {}).values() if pk is not None]
            ).values_list("pk", "value")
        )
        before: list[dict[str, Any]] = []
        created: list[ManualValue] = []
        locks = list(active_locks())
        closed: dict[str, list[str]] = {}
        now = timezone.now()
        for start in sorted(wanted):
            period, value, label = wanted[start]
            approved = live.get(start, {}).get(ManualStatus.APPROVED)
            pending = live.get(start, {}).get(ManualStatus.PENDING)
            latest = pending or approved
            read_id = seen.get(label) if seen is not None else None
            if seen is not None and label in seen and read_id != (latest.pk if latest else None):
                # Someone entered or decided a value of this period since it was read. A
                # value left as it was read yields to theirs; a changed one is a conflict.
                read = read_values.get(read_id) if read_id is not None else None
                if _same(value, read):
                    continue
                raise ValueConflict(
                    f"the value of {kpi.key} for {period.label} was entered again by "
                    "someone else since you read it; reload to see it, then enter yours",
                    expected=read_id or 0,
                    current=latest.pk if latest else 0,
                )
            if _same(value, latest.value if latest else None):
                continue
            problem = locked_problem(period.label, period.start, period.last_day, locks=locks)
            if problem is not None:
                # A closed period keeps its values: nothing is saved (the transaction
                # is rolled back below), and every closed period is named.
                closed[label] = [problem]
                continue
            for old in (pending, approved if at_once else None):
                if old is not None:
                    before.append(_brief(old))
                    old.status = ManualStatus.SUPERSEDED
                    old.save(update_fields=["status"])
            created.append(
                ManualValue.objects.create(
                    kpi=kpi,
                    period=period.label,
                    period_start=period.start,
                    value=value,
                    comment=comment,
                    status=ManualStatus.APPROVED if at_once else ManualStatus.PENDING,
                    entered_by=by,
                    entered_at=now,
                    decided_by=by if at_once else None,
                    decided_at=now if at_once else None,
                )
            )
        if closed:
            raise ValidationError(closed)
        if not created:
            return []
        if at_once:
            _write_results(kpi, [entry.period_start for entry in created])
        audit_record(
            actor=by,
            action="manual_values.submit",
            target=kpi,
            before={"superseded": before},
            after={
                "entries": [_brief(entry) for entry in created],
                "comment": comment,
                "needs_approval": not at_once,
            },
            reason=comment,
        )
    return created


def manual_value_decide(
    *,
    kpi: Kpi,
    entry_ids: Sequence[int],
    approve: bool,
    by: User,
    note: str = "",
) -> list[ManualValue]:
    """Approves or rejects pending entries of the KPI: all of them, or none.

    An approved entry supersedes the period's approved one and becomes its Result; a
    rejected one counts for nothing and stays in the history with the note. Entries of a
    closed period wait until an admin reopens it (ValidationError keyed by the period).
    """
    note = note.strip()
    if len(note) > MAX_COMMENT:
        raise ValidationError(
            {
                "note": _("The note is too long: at most %(limit)s characters.")
                % {"limit": MAX_COMMENT}
            }
        )
    ids = list(dict.fromkeys(entry_ids))
    with transaction.atomic():
        kpi = _lock(kpi)
        if not can_decide_values(by, kpi):
            raise NotAllowed("only the KPI's owner or an admin may approve or reject its values")
        entries = list(
            ManualValue.objects.filter(kpi=kpi, pk__in=ids).order_by("period_start", "pk")
        )
        missing = sorted(set(ids) - {entry.pk for entry in entries})
        if missing:
            raise ValidationError(
                {"id": [f"KPI {kpi.key} has no value entered with id {pk}" for pk in missing]}
            )
        for entry in entries:
            if entry.status != ManualStatus.PENDING:
                raise ValueConflict(
                    f"the value {entry.pk} of {kpi.key} for {entry.period} is no longer "
                    f"waiting for approval (it is {entry.status}); reload to see where it "
                    "stands",
                    expected=entry.pk,
                    current=entry.pk,
                )
            if entry.entered_by_id == by.pk and kpi.owner_id != by.pk:
                raise NotAllowed("only the KPI's owner may approve or reject their own entry")
        locks = list(active_locks())
        fiscal_year_start = Organization.current().fiscal_year_start
        closed: dict[str, list[str]] = {}
        for entry in entries:
            period = _period_of(entry, Grain(kpi.grain), fiscal_year_start)
            problem = locked_problem(entry.period, period.start, period.last_day, locks=locks)
            if problem is not None:
                closed.setdefault(entry.period, []).append(problem)
        if closed:
            raise ValidationError(closed)
        live = _live(kpi, [entry.period_start for entry in entries])
        superseded = []
        now = timezone.now()
        for entry in entries:
            approved = live.get(entry.period_start, {}).get(ManualStatus.APPROVED)
            if approve and approved is not None:
                superseded.append(approved.pk)
                approved.status = ManualStatus.SUPERSEDED
                approved.save(update_fields=["status"])
            entry.status = ManualStatus.APPROVED if approve else ManualStatus.REJECTED
            entry.decided_by = by
            entry.decided_at = now
            entry.decision_note = note
            entry.save(update_fields=["status", "decided_by", "decided_at", "decision_note"])
        if approve:
            _write_results(kpi, [entry.period_start for entry in entries])
        audit_record(
            actor=by,
            action="manual_values.approve" if approve else "manual_values.reject",
            target=kpi,
            before={"entries": [{**_brief(entry), "status": "pending"} for entry in entries]},
            after={"entries": [_brief(entry) for entry in entries], "superseded": superseded},
            reason=note,
        )
    return entries


# Reads ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class GridRow:
    """One period of the grid: the value that counts, the one waiting, and the Result."""

    period: Period
    approved: ManualValue | None
    pending: ManualValue | None
    result: Result | None
    target: Decimal | None

    @property
    def latest(self) -> ManualValue | None:
        """The entry a new value is compared with: the pending one, or the approved one."""
        return self.pending or self.approved


@dataclass(frozen=True)
class GridWindow:
    """Which periods a grid shows, newest first, and where the neighbouring pages start:
    `earlier` and `later` are the first periods of the pages before and after ("" for
    the latest page; `later` is None on the latest page)."""

    periods: list[Period]
    current: Period
    earlier: str
    later: str | None


def grid_window(kpi: Kpi, first: str | None = None, count: int = GRID_PERIODS) -> GridWindow:
    """`count` periods of the KPI from the period labelled `first` (by default those that
    end with the current one), never beyond the current period."""
    fiscal_year_start = Organization.current().fiscal_year_start
    current = current_period(kpi, fiscal_year_start)
    default = current.shift(-(count - 1))
    start = default
    if first:
        try:
            start = _entry_period(kpi, first, fiscal_year_start, current)
        except ValueError:
            start = default
    periods: list[Period] = []
    period = start
    while period <= current and len(periods) < count:
        periods.append(period)
        period = period.shift(1)
    later: str | None = None
    if start < default:
        following = start.shift(count)
        later = following.label if following < default else ""
    return GridWindow(
        periods=list(reversed(periods)),
        current=current,
        earlier=start.shift(-count).label,
        later=later,
    )


def manual_grid(kpi: Kpi, periods: Sequence[Period]) -> list[GridRow]:
    """The grid's rows for the periods, in their order, with the target in force in each
    (a handful of queries, however many periods)."""
    starts = [period.start for period in periods]
    live = _live(kpi, starts)
    results = {
        result.period_start: result
        for result in Result.objects.filter(kpi=kpi, group_dimension="", period_start__in=starts)
    }
    engine_kpi = _engine_kpi(kpi, Organization.current().fiscal_year_start)
    rows = []
    for period in periods:
        chosen = target_for(engine_kpi, period, None, None)
        rows.append(
            GridRow(
                period=period,
                approved=live.get(period.start, {}).get(ManualStatus.APPROVED),
                pending=live.get(period.start, {}).get(ManualStatus.PENDING),
                result=results.get(period.start),
                target=_decimal(chosen.entry.value) if chosen is not None else None,
            )
        )
    return rows


def manual_pending(kpi: Kpi) -> list[ManualValue]:
    """The KPI's entries waiting for approval, oldest period first."""
    return list(
        ManualValue.objects.filter(kpi=kpi, status=ManualStatus.PENDING)
        .select_related("entered_by")
        .order_by("period_start", "pk")
    )


def manual_history(
    kpi: Kpi,
    first: datetime.date | None = None,
    last: datetime.date | None = None,
) -> list[ManualValue]:
    """Every entry of the KPI (of the periods starting from `first` to `last`), newest
    entry first: who entered what and when, and what became of it."""
    query = ManualValue.objects.filter(kpi=kpi).select_related("entered_by", "decided_by")
    if first is not None:
        query = query.filter(period_start__gte=first)
    if last is not None:
        query = query.filter(period_start__lte=last)
    return list(query.order_by("-entered_at", "-pk"))
