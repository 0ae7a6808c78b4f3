"""The agenda a review meeting starts from, found in the data.

A KPI is put on the agenda when its latest period up to the end of the period under
review is red, when it is forecast to miss its target, when the realism check finds its
target too hard or too easy, when its data is stale, when an open action of an earlier
meeting is about it, or when no meeting has reviewed it yet. Open actions without a KPI,
and whatever other parts of Headway register as agenda sources (e.g. employees'
proposals), come in as items of their own.
"""

from __future__ import annotations

import datetime
import logging
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from importlib import import_module
from typing import Any

from django.conf import settings

from headway.accounts.selectors import team_and_below
from headway.engine.problems import HeadwayError
from headway.ingestion.freshness import stale_kpis
from headway.kpis.choices import EntryKind
from headway.kpis.models import Kpi
from headway.lib.periods import PeriodLabelError
from headway.results.alerts import MEETING_CHANCE_BELOW
from headway.results.manual import organization_today
from headway.results.models import Result
from headway.reviews.choices import ActionStatus, AgendaReason, MeetingStatus
from headway.reviews.models import Action, AgendaItem, Meeting

logger = logging.getLogger("headway.reviews")

# The order items are listed in: the most pressing first.
REASON_ORDER = [reason.value for reason in AgendaReason]


@dataclass
class AgendaEntry:
    """An item the data calls for: about a KPI, an open action, or something else."""

    reasons: list[str]
    kpi: Kpi | None = None
    action: Action | None = None
    title: str = ""
    facts: dict[str, Any] = field(default_factory=dict)

    @property
    def reason(self) -> str:
        """The most pressing reason (an entry without one sorts last, as if added)."""
        return min(self.reasons, key=REASON_ORDER.index, default=AgendaReason.ADDED.value)


# Other apps add entries (e.g. employees' proposals) through the dotted paths of
# settings.HEADWAY_AGENDA_SOURCES (and, in tests, register_agenda_source), so that reviews
# does not import them (architecture.md, layer 6). A source returns AgendaEntry objects or
# plain dicts {"kpi_id": id or None, "title": ..., "facts": {...}}, which are proposals:
# their facts go to the item's "proposals" list.
AgendaSource = Callable[[Meeting], list[Any]]
_sources: list[str] = []


def register_agenda_source(path: str) -> None:
    """Adds the function at the dotted `path` (a meeting → its entries) to the sources
    every agenda is built from."""
    if path not in _sources:
        _sources.append(path)


def unregister_agenda_source(path: str) -> None:
    if path in _sources:
        _sources.remove(path)


def _source(path: str) -> AgendaSource:
    module, _, name = path.rpartition(".")
    found: AgendaSource = getattr(import_module(module), name)
    return found


def _source_paths() -> list[str]:
    configured = list(getattr(settings, "HEADWAY_AGENDA_SOURCES", []))
    return configured + [path for path in _sources if path not in configured]


def _entry(found: Any) -> AgendaEntry | None:
    if isinstance(found, AgendaEntry):
        return found
    kpi = None
    if found.get("kpi_id") is not None:
        kpi = Kpi.objects.filter(pk=found["kpi_id"], is_active=True).first()
        if kpi is None:
            return None  # about a KPI retired since: nothing left to discuss here
    return AgendaEntry(
        reasons=[AgendaReason.PROPOSAL.value],
        kpi=kpi,
        title=str(found.get("title", "")),
        facts={"proposals": [dict(found.get("facts") or {})]},
    )


def meeting_kpis(meeting: Meeting) -> list[Kpi]:
    """The active KPIs a meeting reviews: its team's and those below, or all of them."""
    kpis = Kpi.objects.filter(is_active=True).select_related("owner", "team")
    if meeting.team is not None:
        kpis = kpis.filter(team_id__in=team_and_below(meeting.team.pk))
    return list(kpis.order_by("position", "key"))


def reviewed_kpi_ids(before: Meeting) -> dict[int, str]:
    """KPIs on the agenda of an earlier meeting that reached its decisions, with the title
    of the latest such meeting."""
    found: dict[int, str] = {}
    items = (
        AgendaItem.objects.filter(
            kpi__isnull=False,
            meeting__status__in=[MeetingStatus.DECIDED, MeetingStatus.CLOSED],
            meeting__scheduled_at__lt=before.scheduled_at,
        )
        .exclude(meeting=before)
        .order_by("meeting__scheduled_at")
        .values_list("kpi_id", "meeting__title")
    )
    for kpi_id, title in items:
        found[kpi_id] = title
    return found


def _float(value: object) -> float | None:
    return None if value is None else float(str(value))


def _latest_total(kpi: Kpi, last_day: datetime.date) -> Result | None:
    return (
        Result.objects.filter(kpi=kpi, group_dimension="", period_start__lte=last_day)
        .order_by("period_start")
        .last()
    )


def item_facts(meeting: Meeting, kpi: Kpi, today: datetime.date | None = None) -> dict[str, Any]:
    """The numbers of a KPI put on a meeting's agenda by hand."""
    today = today or organization_today()
    return kpi_facts(kpi, min(today, meeting.cycle.period_end), today)


def kpi_facts(kpi: Kpi, last_day: datetime.date, today: datetime.date) -> dict[str, Any]:
    """The numbers a meeting looks at for a KPI: its latest period up to `last_day`, the
    forecast and the realism check (from the analysis)."""
    result = _latest_total(kpi, last_day)
    if result is None:
        return {}
    facts: dict[str, Any] = {
        "period": result.period,
        "value": _float(result.value),
        "target": _float(result.target),
        "attainment": _float(result.attainment),
        "status": result.status,
    }
    from headway.results.analysis import analyse_kpi

    try:
        analysis = analyse_kpi(
            kpi, result.period, forecast=kpi.entry == EntryKind.FORMULA, today=today
        )
    except (HeadwayError, PeriodLabelError, ValueError, ArithmeticError) as error:
        # The agenda still lists the KPI with its numbers; the analysis is a bonus.
        logger.warning("no analysis of %s for the agenda: %s", kpi.key, error)
        return facts
    if analysis.forecast is not None and analysis.forecast.target is not None:
        facts["forecast"] = {
            "span": analysis.forecast.span,
            "expected": analysis.forecast.expected,
            "target": analysis.forecast.target,
            "probability": analysis.forecast.probability,
        }
    if analysis.realism is not None:
        facts["realism"] = {
            "verdict": analysis.realism.verdict.value,
            "met": analysis.realism.met,
            "periods": analysis.realism.periods,
            "target": analysis.realism.target,
            "half_time_target": analysis.realism.half_time_target,
        }
    facts["insights_en"] = analysis.insights_en
    facts["insights_zh"] = analysis.insights_zh
    return facts


def _reasons(facts: dict[str, Any]) -> list[str]:
    reasons = []
    if facts.get("status") == "red":
        reasons.append(AgendaReason.RED.value)
    probability = (facts.get("forecast") or {}).get("probability")
    if probability is not None and probability < MEETING_CHANCE_BELOW:
        reasons.append(AgendaReason.FORECAST_MISS.value)
    if (facts.get("realism") or {}).get("verdict") in ("too_hard", "too_easy"):
        reasons.append(AgendaReason.UNREALISTIC.value)
    return reasons


def agenda_entries(
    meeting: Meeting, today: datetime.date | None = None, *, also: Collection[int] = ()
) -> list[AgendaEntry]:
    """What the data puts on a meeting's agenda, most pressing first. The KPIs of `also`
    (ids; e.g. those put on the agenda by hand) get an entry with their numbers even when
    the data gives no reason (their `reasons` are then empty)."""
    today = today or organization_today()
    last_day = min(today, meeting.cycle.period_end)
    kpis = meeting_kpis(meeting)
    in_scope = {kpi.pk for kpi in kpis}
    wanted = set(also) - in_scope
    if wanted:
        kpis += list(Kpi.objects.filter(pk__in=wanted).select_related("owner", "team"))
    stale = stale_kpis()
    reviewed = reviewed_kpi_ids(meeting)
    open_actions = list(
        Action.objects.filter(status=ActionStatus.OPEN)
        .exclude(meeting=meeting)
        .select_related("owner", "kpi", "meeting")
        .order_by("due", "pk")
    )
    actions_by_kpi: dict[int, list[Action]] = {}
    for action in open_actions:
        if action.kpi_id is not None:
            actions_by_kpi.setdefault(action.kpi_id, []).append(action)
    entries: list[AgendaEntry] = []
    for kpi in kpis:
        facts = kpi_facts(kpi, last_day, today)
        reasons = _reasons(facts)
        if kpi.key in stale:
            reasons.append(AgendaReason.STALE.value)
            facts["stale"] = [
                {"dataset": item.dataset, "age_days": item.age_days} for item in stale[kpi.key]
            ]
        if kpi.pk in actions_by_kpi:
            reasons.append(AgendaReason.OPEN_ACTION.value)
            facts["open_actions"] = [action.pk for action in actions_by_kpi[kpi.pk]]
        if kpi.pk in reviewed:
            facts["last_reviewed"] = reviewed[kpi.pk]
        else:
            reasons.append(AgendaReason.NEVER_REVIEWED.value)
        if reasons or kpi.pk in also:
            entries.append(AgendaEntry(reasons=reasons, kpi=kpi, facts=facts))
    teams = team_and_below(meeting.team.pk) if meeting.team is not None else None
    for action in open_actions:
        if action.kpi_id is not None and action.kpi_id in in_scope:
            continue  # discussed with its KPI's item
        # Other open actions: all of them in an organisation-wide meeting, in a team's
        # meeting those that a meeting of the team (or a team below) assigned.
        if teams is None or action.meeting.team_id in teams:
            entries.append(
                AgendaEntry(
                    reasons=[AgendaReason.OPEN_ACTION.value],
                    action=action,
                    title=action.title,
                    facts={"due": action.due.isoformat(), "owner": str(action.owner)},
                )
            )
    by_kpi = {entry.kpi.pk: entry for entry in entries if entry.kpi is not None}
    for path in _source_paths():
        for found in _source(path)(meeting):
            entry = _entry(found)
            if entry is None:
                continue
            # A KPI is on the agenda once: what a source says of a KPI already there adds
            # to that item's reasons and facts.
            known = by_kpi.get(entry.kpi.pk) if entry.kpi is not None else None
            if known is None:
                entries.append(entry)
                if entry.kpi is not None:
                    by_kpi[entry.kpi.pk] = entry
                continue
            known.reasons += [reason for reason in entry.reasons if reason not in known.reasons]
            proposals = known.facts.get("proposals", []) + entry.facts.get("proposals", [])
            known.facts = {**entry.facts, **known.facts}
            if proposals:
                known.facts["proposals"] = proposals
    positions = {kpi.pk: index for index, kpi in enumerate(kpis)}
    entries.sort(
        key=lambda entry: (
            REASON_ORDER.index(entry.reason),
            positions.get(entry.kpi.pk, 0) if entry.kpi else 0,
        )
    )
    return entries
