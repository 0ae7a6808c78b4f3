"""The documents of a review meeting: the pre-read pack before it, the minutes after it.

`pre_read` gathers what the participants read before the meeting, per agenda item in the
agenda's order: the KPI's numbers as the agenda was built (`AgendaItem.facts`), its chart
(the KPI page's and the monthly report's chart, from the stored results), the forecast,
the realism check, stale data, the insights and the owner's latest comment. `minutes`
gathers what the meeting did: who attended, each item's notes and decisions (in words,
with who approved or rejected them and what applying them wrote) and the actions.

Both are frozen dataclasses of text in the reader's language, rendered to HTML (a page of
the site or a standalone document) and to PDF like the monthly report (`render.py`:
WeasyPrint, "Noto Sans CJK TC", nothing fetched). `minutes_send` mails the minutes to the
participants, each in their own language with the PDF attached, and records it through
`headway.reviews.services.minutes_sent`.
"""

from __future__ import annotations

import datetime
import logging
import re
import zoneinfo
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import EmailMessage
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _

from headway.accounts.models import Organization, User
from headway.audit.errors import NotAllowed
from headway.engine.problems import HeadwayError
from headway.kpis.choices import EntryKind, Grain, Unit
from headway.kpis.models import Kpi
from headway.lib.periods import PeriodLabelError
from headway.reports.builder import CHART_PERIODS, report_language
from headway.reports.charts import BandPoint
from headway.reports.formatting import (
    attainment_text,
    grain_word,
    kpi_value_text,
    number_text,
    period_name,
    status_of,
)
from headway.reports.kpi_charts import forecast_band, kpi_chart_svg
from headway.reports.render import STATIC_DIR, _no_fetching
from headway.results.analysis.kpis import KpiAnalysis, analyse_kpi
from headway.results.choices import Status
from headway.results.manual import organization_today
from headway.results.selectors import series, target_history
from headway.reviews.agenda import kpi_facts
from headway.reviews.choices import (
    ActionStatus,
    AgendaReason,
    DecisionKind,
    DecisionStatus,
    MeetingStatus,
)
from headway.reviews.models import Action, AgendaItem, Decision, Meeting, OwnerComment
from headway.reviews.selectors import (
    agenda,
    attendance,
    decisions,
    latest_comments,
    meeting_actions,
)
from headway.reviews.services import can_organise, minutes_sent

logger = logging.getLogger("headway.reports")

# The meeting statuses in which the minutes exist: the meeting has reached its decisions.
MINUTES_STATUSES = (MeetingStatus.DECIDED, MeetingStatus.CLOSED)


class MinutesNotReady(Exception):
    """The meeting has not decided yet: there are no minutes to show or send."""


# -- the data ------------------------------------------------------------------------------


@dataclass(frozen=True)
class MeetingHeader:
    """What both documents say about the meeting, in the reader's language."""

    pk: int
    title: str
    cycle_title: str
    cycle_period: str
    period_name: str
    scope: str
    when: str
    location: str
    chair: str
    participants: tuple[str, ...]
    status: MeetingStatus
    organization: str
    comments_due: str


@dataclass(frozen=True)
class PreReadItem:
    """One point of the agenda as the pre-read shows it. `kind` is "kpi", "action" (an
    open action of an earlier meeting) or "point" (a point of its own)."""

    number: int
    kind: str
    title: str
    reasons: tuple[str, ...]
    kpi_key: str = ""
    team: str = ""
    owner: str = ""
    period: str = ""
    period_name: str = ""
    status: Status = Status.NONE
    value_text: str = ""
    target_text: str = ""
    attainment_text: str = ""
    chart_svg: str = ""
    forecast: str = ""
    realism: str = ""
    stale: tuple[str, ...] = ()
    insights: tuple[str, ...] = ()
    last_reviewed: str = ""
    open_actions: tuple[str, ...] = ()
    comment: str = ""
    comment_by: str = ""
    no_comment: str = ""
    # For an action or a point of its own: what there is to know about it, as sentences.
    details: tuple[str, ...] = ()


@dataclass(frozen=True)
class PreRead:
    """The pre-read pack of a meeting, in one language."""

    title: str
    language: str
    meeting: MeetingHeader
    items: tuple[PreReadItem, ...]
    generated_at: str
    agenda_built: bool


@dataclass(frozen=True)
class DecisionLine:
    """A decision in words: what, why, and what became of it."""

    number: int
    kind: str
    kpi: str
    details: str
    reason: str
    status: DecisionStatus
    status_label: str
    recorded_by: str
    decided: str
    note: str
    applied: str


@dataclass(frozen=True)
class ActionLine:
    title: str
    kpi: str
    owner: str
    due: str
    status: ActionStatus
    status_label: str
    closing_note: str


@dataclass(frozen=True)
class MinutesItem:
    number: int
    title: str
    reasons: tuple[str, ...]
    notes: str
    decisions: tuple[DecisionLine, ...]


@dataclass(frozen=True)
class Minutes:
    """The minutes of a decided meeting, in one language."""

    title: str
    language: str
    meeting: MeetingHeader
    present: tuple[str, ...]
    absent: tuple[str, ...]
    not_recorded: tuple[str, ...]
    items: tuple[MinutesItem, ...]
    # Decisions recorded on the meeting rather than on an item of its agenda.
    other_decisions: tuple[DecisionLine, ...]
    actions: tuple[ActionLine, ...]
    approved: int
    rejected: int
    sent_at: str
    generated_at: str


# -- shared helpers ------------------------------------------------------------------------


def _zone() -> datetime.tzinfo:
    try:
        return zoneinfo.ZoneInfo(Organization.current().timezone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return datetime.UTC


def _moment(value: datetime.datetime | None) -> str:
    """A moment as people read it where the organisation is: 2026-04-15 10:00."""
    if value is None:
        return ""
    return value.astimezone(_zone()).strftime("%Y-%m-%d %H:%M")


def _name(person: User | None) -> str:
    return str(person) if person is not None else ""


@contextmanager
def _language(language: str) -> Iterator[str]:
    code = report_language(language)
    with translation.override(code):
        yield code


def _header(meeting: Meeting) -> MeetingHeader:
    cycle = meeting.cycle
    invited = attendance(meeting)
    return MeetingHeader(
        pk=meeting.pk,
        title=meeting.title,
        cycle_title=cycle.title,
        cycle_period=cycle.period,
        period_name=period_name(cycle.period, cycle.period_start),
        scope=meeting.team.name if meeting.team is not None else _("The whole organisation"),
        when=_moment(meeting.scheduled_at),
        location=meeting.location,
        chair=_name(meeting.chair),
        participants=tuple(_name(row.person) for row in invited),
        status=MeetingStatus(meeting.status),
        organization=Organization.current().name,
        comments_due=meeting.comments_due.isoformat() if meeting.comments_due else "",
    )


def _reasons(item: AgendaItem) -> tuple[str, ...]:
    found = [reason for reason in item.reasons if reason in AgendaReason.values]
    if not found and item.reason in AgendaReason.values:
        found = [item.reason]
    return tuple(str(AgendaReason(reason).label) for reason in found)


def _fresh_meeting(meeting: Meeting) -> Meeting:
    """The meeting as stored now, with what the documents read of it."""
    return Meeting.objects.select_related("cycle", "team", "chair").get(pk=meeting.pk)


# -- the pre-read pack ---------------------------------------------------------------------


def _analysis(kpi: Kpi, period: str, today: datetime.date) -> KpiAnalysis | None:
    """The live analysis of the KPI's period, for the chart's band and unusual values (and
    the insights of an item added by hand); None where it cannot be made."""
    try:
        return analyse_kpi(kpi, period, forecast=kpi.entry == EntryKind.FORMULA, today=today)
    except (HeadwayError, PeriodLabelError, ValueError, ArithmeticError) as error:
        logger.warning("no analysis of %s for the pre-read: %s", kpi.key, error)
        return None


def _percent(share: float) -> str:
    return f"{number_text(Decimal(repr(share)) * 100, 0)}%"


def forecast_sentence(facts: dict[str, Any], unit: str, currency: str) -> str:
    """The forecast in words: the chance of meeting the target, the value expected and
    the target span ("2026 Q2"). Empty without a forecast with a target."""
    forecast = facts.get("forecast") or {}
    if forecast.get("probability") is None or forecast.get("target") is None:
        return ""
    return _(
        "Forecast for %(span)s: %(expected)s expected against a target of %(target)s; "
        "the chance of meeting the target is %(chance)s."
    ) % {
        "span": period_name(str(forecast.get("span", ""))),
        "expected": kpi_value_text(forecast.get("expected"), unit, currency),
        "target": kpi_value_text(forecast["target"], unit, currency),
        "chance": _percent(float(forecast["probability"])),
    }


def realism_sentence(facts: dict[str, Any], unit: str, currency: str, grain: str) -> str:
    """The realism check in words: how often the last periods met the target, and the
    target that would have been met half the time."""
    realism = facts.get("realism") or {}
    if not realism.get("periods"):
        return ""
    verdicts = {
        "too_hard": _("the target looks too hard"),
        "realistic": _("the target looks realistic"),
        "too_easy": _("the target looks too easy"),
    }
    return _(
        "Realism check: the target of %(target)s was met in %(met)s of the last %(periods)s "
        "periods (%(grain)s); a target of %(half)s would have been met half the time: "
        "%(verdict)s."
    ) % {
        "target": kpi_value_text(realism.get("target"), unit, currency),
        "met": realism.get("met", 0),
        "periods": realism["periods"],
        "grain": grain_word(grain),
        "half": kpi_value_text(realism.get("half_time_target"), unit, currency),
        "verdict": verdicts.get(str(realism.get("verdict")), ""),
    }


def _stale_lines(facts: dict[str, Any]) -> tuple[str, ...]:
    lines = []
    for entry in facts.get("stale") or []:
        days = entry.get("age_days")
        if days is None:
            lines.append(_("%(dataset)s: never refreshed") % {"dataset": entry.get("dataset", "")})
        else:
            lines.append(
                _("%(dataset)s: %(days)s days old")
                % {"dataset": entry.get("dataset", ""), "days": days}
            )
    return tuple(lines)


def _action_sentence(action: Action) -> str:
    return _("%(title)s (%(owner)s, due %(due)s; from %(meeting)s)") % {
        "title": action.title,
        "owner": _name(action.owner),
        "due": action.due.isoformat(),
        "meeting": action.meeting.title,
    }


def _kpi_item(
    number: int,
    item: AgendaItem,
    kpi: Kpi,
    *,
    last_day: datetime.date,
    today: datetime.date,
    currency: str,
    chinese: bool,
    comments: dict[int, OwnerComment],
    with_analysis: bool,
) -> PreReadItem:
    # The numbers as the agenda was built (why the item is there); an item added by hand
    # has none, so its numbers are read now, the same way.
    facts = dict(item.facts or {})
    if not facts.get("period"):
        facts = kpi_facts(kpi, last_day, today) if with_analysis else _plain_facts(kpi, last_day)
    period = str(facts.get("period") or "")
    results = [row for row in series(kpi) if row.period_start <= last_day][-CHART_PERIODS:]
    targets = [version for version in target_history(kpi) if not version.where_dimension]
    analysed = _analysis(kpi, period, today) if with_analysis and period else None
    band: list[BandPoint] = forecast_band(analysed)
    insights = facts.get("insights_zh" if chinese else "insights_en")
    if insights is None and analysed is not None:
        insights = analysed.insights_zh if chinese else analysed.insights_en
    comment = comments.get(kpi.pk)
    no_comment = ""
    if comment is None:
        if kpi.owner is not None:
            no_comment = _("No comment yet from %(owner)s.") % {"owner": _name(kpi.owner)}
        else:
            no_comment = _("No comment yet (the KPI has no owner).")
    open_actions: list[Action] = []
    if facts.get("open_actions"):
        open_actions = list(
            Action.objects.filter(pk__in=facts["open_actions"])
            .select_related("owner", "meeting")
            .order_by("due", "pk")
        )
    last_reviewed = ""
    if facts.get("last_reviewed"):
        last_reviewed = _("Last reviewed in %(meeting)s.") % {"meeting": facts["last_reviewed"]}
    return PreReadItem(
        number=number,
        kind="kpi",
        title=kpi.name,
        reasons=_reasons(item),
        kpi_key=kpi.key,
        team=kpi.team.name if kpi.team is not None else "",
        owner=_name(kpi.owner),
        period=period,
        period_name=period_name(period) if period else "",
        status=status_of(facts.get("status")),
        value_text=kpi_value_text(facts.get("value"), kpi.unit, currency),
        target_text=kpi_value_text(facts.get("target"), kpi.unit, currency),
        attainment_text=attainment_text(facts.get("attainment")),
        chart_svg=kpi_chart_svg(
            kpi,
            results,
            targets,
            currency,
            height=260,
            band=band,
            anomalies=analysed.anomalies if analysed is not None else (),
        ),
        forecast=forecast_sentence(facts, kpi.unit, currency),
        realism=realism_sentence(facts, kpi.unit, currency, kpi.grain),
        stale=_stale_lines(facts),
        insights=tuple(insights or ()),
        last_reviewed=last_reviewed,
        open_actions=tuple(_action_sentence(action) for action in open_actions),
        comment=comment.text if comment is not None else "",
        comment_by=(
            _("%(author)s, %(when)s")
            % {"author": _name(comment.author), "when": _moment(comment.written_at)}
            if comment is not None
            else ""
        ),
        no_comment=no_comment,
    )


def _plain_facts(kpi: Kpi, last_day: datetime.date) -> dict[str, Any]:
    """The KPI's latest stored total up to `last_day`, without the analysis."""
    rows = [row for row in series(kpi) if row.period_start <= last_day]
    if not rows:
        return {}
    row = rows[-1]
    return {
        "period": row.period,
        "value": row.value,
        "target": row.target,
        "attainment": row.attainment,
        "status": row.status,
    }


def _other_item(number: int, item: AgendaItem) -> PreReadItem:
    if item.action is not None:
        action = item.action
        details = [
            _("Owner: %(owner)s") % {"owner": _name(action.owner)},
            _("Due: %(due)s") % {"due": action.due.isoformat()},
            _("Assigned by %(meeting)s") % {"meeting": action.meeting.title},
            _("Status: %(status)s") % {"status": ActionStatus(action.status).label},
        ]
        return PreReadItem(
            number=number,
            kind="action",
            title=action.title,
            reasons=_reasons(item),
            details=tuple(details),
        )
    details = []
    if item.added_by is not None:
        details.append(_("Added by %(person)s") % {"person": _name(item.added_by)})
    # Points other parts of Headway put on the agenda (proposals...) carry their facts.
    for key in ("owner", "due"):
        if item.facts.get(key):
            label = _("Owner: %(owner)s") if key == "owner" else _("Due: %(due)s")
            details.append(label % {key: item.facts[key]})
    return PreReadItem(
        number=number,
        kind="point",
        title=item.title or str(item),
        reasons=_reasons(item),
        details=tuple(details),
    )


def pre_read(
    meeting: Meeting,
    language: str,
    *,
    today: datetime.date | None = None,
    analysis: bool = True,
) -> PreRead:
    """The pre-read pack of `meeting` in `language` ("en" or "zh-hant"; anything else is a
    HeadwayError). `today` is where the organisation is by default; without `analysis`,
    the charts have no forecast band and items added by hand no forecast (faster)."""
    meeting = _fresh_meeting(meeting)
    organization = Organization.current()
    currency = organization.currency
    today = today or organization_today()
    last_day = min(today, meeting.cycle.period_end)
    items = agenda(meeting)
    comments = latest_comments(meeting)
    with _language(language) as code:
        chinese = code == "zh-hant"
        header = _header(meeting)
        lines = []
        for number, item in enumerate(items, start=1):
            if item.kpi is not None:
                lines.append(
                    _kpi_item(
                        number,
                        item,
                        item.kpi,
                        last_day=last_day,
                        today=today,
                        currency=currency,
                        chinese=chinese,
                        comments=comments,
                        with_analysis=analysis,
                    )
                )
            else:
                lines.append(_other_item(number, item))
        return PreRead(
            title=_("Pre-read: %(meeting)s") % {"meeting": meeting.title},
            language=code,
            meeting=header,
            items=tuple(lines),
            generated_at=_moment(timezone.now()),
            agenda_built=meeting.agenda_built_at is not None or bool(items),
        )


# -- the minutes ---------------------------------------------------------------------------


def _unit_value(value: Any, unit: str, currency: str) -> str:
    if value is None or value == "":
        return kpi_value_text(None, unit, currency)
    return kpi_value_text(Decimal(str(value)), unit, currency)


def _person_name(pk: Any) -> str:
    if pk in (None, ""):
        return _("nobody")
    person = User.objects.filter(pk=pk).first()
    return _name(person) if person is not None else f"#{pk}"


def decision_details_text(decision: Decision, currency: str) -> str:
    """What a decision says, in words of the active language: "Target 50.0% → 40.0% from
    2026-02", "Owner: Nora North", "New KPI ..."."""
    details = decision.details or {}
    kpi = decision.kpi
    kind = DecisionKind(decision.kind)
    if kind is DecisionKind.KEEP:
        return _("The KPI stays as it is.")
    if kind is DecisionKind.RETIRE_KPI:
        return _("%(kpi)s is retired.") % {"kpi": kpi.name if kpi is not None else ""}
    if kind is DecisionKind.CHANGE_TARGET:
        unit = kpi.unit if kpi is not None else Unit.NUMBER.value
        values = {
            "before": _unit_value(details.get("previous"), unit, currency),
            "after": _unit_value(details.get("value"), unit, currency),
            "period": details.get("effective_from", ""),
            "group": details.get("where_value", ""),
        }
        if details.get("where_value"):
            if details.get("previous") is None:
                return _("Target for %(group)s %(after)s from %(period)s") % values
            return _("Target for %(group)s %(before)s → %(after)s from %(period)s") % values
        if details.get("previous") is None:
            return _("Target %(after)s from %(period)s") % values
        return _("Target %(before)s → %(after)s from %(period)s") % values
    if kind is DecisionKind.CHANGE_KPI:
        parts = []
        changes = details.get("changes") or {}
        if "formula" in changes:
            parts.append(_("Formula: %(formula)s") % {"formula": changes["formula"]})
        if "threshold_green" in changes:
            parts.append(
                _("On track from %(share)s of the target")
                % {"share": attainment_text(Decimal(str(changes["threshold_green"])))}
            )
        if "threshold_amber" in changes:
            parts.append(
                _("At risk from %(share)s of the target")
                % {"share": attainment_text(Decimal(str(changes["threshold_amber"])))}
            )
        if "owner" in changes:
            parts.append(_("Owner: %(owner)s") % {"owner": _person_name(changes["owner"])})
        return "; ".join(parts)
    if kind is DecisionKind.ADD_KPI:
        unit = str(details.get("unit") or Unit.NUMBER.value)
        text = _("New KPI %(name)s (%(key)s) = %(formula)s, %(unit)s %(grain)s") % {
            "name": details.get("name", ""),
            "key": details.get("key", ""),
            "formula": details.get("formula", ""),
            "unit": Unit(unit).label if unit in Unit.values else unit,
            "grain": grain_word(str(details.get("grain") or Grain.MONTH.value)),
        }
        if details.get("target") is not None:
            text += "; " + _("target %(target)s from %(period)s") % {
                "target": _unit_value(details["target"], unit, currency),
                "period": details.get("target_from", ""),
            }
        return text
    # assign_action
    return _("%(title)s: %(owner)s, due %(due)s") % {
        "title": details.get("title", ""),
        "owner": _person_name(details.get("owner")),
        "due": details.get("due", ""),
    }


def _applied_text(decision: Decision) -> str:
    if decision.applied_at is None:
        return ""
    outcome = decision.outcome or {}
    values = {"when": _moment(decision.applied_at), "person": _name(decision.applied_by)}
    kind = DecisionKind(decision.kind)
    if kind is DecisionKind.CHANGE_TARGET:
        return _("Applied %(when)s by %(person)s: a new target version was written.") % values
    if kind is DecisionKind.CHANGE_KPI:
        return _("Applied %(when)s by %(person)s: the KPI is now at version %(version)s.") % {
            **values,
            "version": outcome.get("kpi_version", ""),
        }
    if kind is DecisionKind.RETIRE_KPI:
        return _("Applied %(when)s by %(person)s: the KPI is retired.") % values
    if kind is DecisionKind.ADD_KPI:
        return _("Applied %(when)s by %(person)s: the KPI %(key)s was created.") % {
            **values,
            "key": outcome.get("kpi", ""),
        }
    if kind is DecisionKind.ASSIGN_ACTION:
        return _("Applied %(when)s by %(person)s: the action was assigned.") % values
    return _("Applied %(when)s by %(person)s.") % values


def _decision_line(number: int, decision: Decision, currency: str) -> DecisionLine:
    status = DecisionStatus(decision.status)
    decided = ""
    if status is DecisionStatus.REJECTED:
        decided = _("Rejected by %(person)s") % {"person": _name(decision.decided_by)}
    elif decision.decided_by is not None:
        decided = _("Approved by %(person)s") % {"person": _name(decision.decided_by)}
    kpi_name = decision.kpi.name if decision.kpi is not None else ""
    if not kpi_name and decision.kind == DecisionKind.ADD_KPI:
        kpi_name = str((decision.details or {}).get("name", ""))
    return DecisionLine(
        number=number,
        kind=str(DecisionKind(decision.kind).label),
        kpi=kpi_name,
        details=decision_details_text(decision, currency),
        reason=decision.reason,
        status=status,
        status_label=str(status.label),
        recorded_by=_name(decision.recorded_by),
        decided=decided,
        note=decision.decision_note,
        applied=_applied_text(decision),
    )


def minutes(meeting: Meeting, language: str) -> Minutes:
    """The minutes of `meeting` in `language`; MinutesNotReady until it has decided."""
    meeting = _fresh_meeting(meeting)
    if meeting.status not in MINUTES_STATUSES:
        raise MinutesNotReady(
            f"{meeting.title} is {meeting.status}: the minutes exist once it has decided"
        )
    currency = Organization.current().currency
    items = agenda(meeting)
    recorded = decisions(meeting)
    actions = sorted(meeting_actions(meeting), key=lambda action: (action.due, action.pk))
    with _language(language) as code:
        header = _header(meeting)
        invited = attendance(meeting)
        numbered = {decision.pk: index for index, decision in enumerate(recorded, start=1)}
        lines = {
            decision.pk: _decision_line(numbered[decision.pk], decision, currency)
            for decision in recorded
        }
        minute_items = []
        for number, item in enumerate(items, start=1):
            title = item.kpi.name if item.kpi is not None else (item.title or str(item))
            minute_items.append(
                MinutesItem(
                    number=number,
                    title=title,
                    reasons=_reasons(item),
                    notes=item.notes,
                    decisions=tuple(
                        lines[decision.pk] for decision in recorded if decision.item_id == item.pk
                    ),
                )
            )
        action_lines = tuple(
            ActionLine(
                title=action.title,
                kpi=action.kpi.name if action.kpi is not None else "",
                owner=_name(action.owner),
                due=action.due.isoformat(),
                status=ActionStatus(action.status),
                status_label=str(ActionStatus(action.status).label),
                closing_note=action.closing_note,
            )
            for action in actions
        )
        return Minutes(
            title=_("Minutes: %(meeting)s") % {"meeting": meeting.title},
            language=code,
            meeting=header,
            present=tuple(_name(row.person) for row in invited if row.attended is True),
            absent=tuple(_name(row.person) for row in invited if row.attended is False),
            not_recorded=tuple(_name(row.person) for row in invited if row.attended is None),
            items=tuple(minute_items),
            other_decisions=tuple(
                lines[decision.pk] for decision in recorded if decision.item_id is None
            ),
            actions=action_lines,
            approved=sum(
                1
                for decision in recorded
                if decision.status in (DecisionStatus.APPROVED, DecisionStatus.APPLIED)
            ),
            rejected=sum(1 for decision in recorded if decision.status == DecisionStatus.REJECTED),
            sent_at=_moment(meeting.minutes_sent_at),
            generated_at=_moment(timezone.now()),
        )


# -- HTML and PDF --------------------------------------------------------------------------


def review_style() -> SafeString:
    """The documents' CSS (the monthly report's and a few rules of their own), for a page
    of the site that shows one."""
    style = render_to_string("reports/_report_style.html") + render_to_string(
        "reports/_review_style.html"
    )
    return mark_safe(style)  # noqa: S308


def _render(template: str, body: str, context: dict[str, Any], standalone: bool) -> str:
    html = render_to_string(template if standalone else body, context)
    # The templates escape every text; the charts escape theirs (headway.reports.charts).
    return html if standalone else mark_safe(html)  # noqa: S308


def render_pre_read_html(pack: PreRead, standalone: bool) -> str:
    """The pre-read as a standalone HTML document (inline CSS and SVG, printable), or as
    the content of a page of the site (a SafeString)."""
    with translation.override(pack.language):
        return _render(
            "reports/pre_read.html", "reports/_pre_read_body.html", {"pack": pack}, standalone
        )


def render_minutes_html(record: Minutes, standalone: bool) -> str:
    """The minutes as a standalone HTML document, or as the content of a page of the site."""
    with translation.override(record.language):
        return _render(
            "reports/minutes.html",
            "reports/_minutes_body.html",
            {"minutes": record},
            standalone,
        )


def _pdf(html: str) -> bytes:
    from weasyprint import HTML  # imported here: it takes a while and needs Pango

    pdf = HTML(string=html, base_url=STATIC_DIR.as_uri() + "/", url_fetcher=_no_fetching)
    written = pdf.write_pdf()
    assert written is not None
    return bytes(written)


def pre_read_pdf(meeting: Meeting, language: str) -> bytes:
    return _pdf(render_pre_read_html(pre_read(meeting, language), standalone=True))


def minutes_pdf(meeting: Meeting, language: str) -> bytes:
    return _pdf(render_minutes_html(minutes(meeting, language), standalone=True))


def document_filename(meeting: Meeting, kind: str, language: str, extension: str) -> str:
    """headway-pre-read-2026-Q1-12-zh-hant.pdf, headway-minutes-2026-Q1-12-en.pdf"""
    name = f"headway-{kind}-{meeting.cycle.period}-{meeting.pk}-{language}"
    return re.sub(r"[^A-Za-z0-9._-]", "-", name) + f".{extension}"


# -- the minutes by e-mail -----------------------------------------------------------------


def _person_language(person: User) -> str:
    for wanted in (person.language, Organization.current().language, settings.LANGUAGE_CODE):
        try:
            return report_language(wanted or "")
        except HeadwayError:
            continue
    return "en"


def minutes_recipients(meeting: Meeting) -> list[User]:
    """Who the minutes go to: the meeting's participants who are active and have an
    e-mail address, one per address."""
    found: dict[str, User] = {}
    for row in attendance(meeting):
        person = row.person
        if person.is_active and person.email and person.email.lower() not in found:
            found[person.email.lower()] = person
    return list(found.values())


def minutes_summary(record: Minutes) -> str:
    """The e-mail's text: the meeting, who came, the decisions and the actions, in the
    minutes' language (call inside `translation.override(record.language)`)."""
    meeting = record.meeting
    lines = [record.title, ""]
    lines.append(_("When: %(when)s") % {"when": meeting.when})
    if meeting.location:
        lines.append(_("Where: %(where)s") % {"where": meeting.location})
    lines.append(_("Chair: %(chair)s") % {"chair": meeting.chair})
    lines.append(_("Present: %(people)s") % {"people": ", ".join(record.present) or "—"})
    if record.absent:
        lines.append(_("Absent: %(people)s") % {"people": ", ".join(record.absent)})
    lines += ["", _("Decisions")]
    every = [line for item in record.items for line in item.decisions] + list(
        record.other_decisions
    )
    for decision in sorted(every, key=lambda line: line.number):
        about = f"{decision.kpi} · " if decision.kpi else ""
        lines.append(
            f"- {about}"
            + _("%(kind)s: %(details)s (%(status)s)")
            % {
                "kind": decision.kind,
                "details": decision.details,
                "status": decision.status_label,
            }
        )
    if not every:
        lines.append(_("No decisions were recorded."))
    lines += ["", _("Action items")]
    for action in record.actions:
        lines.append(
            "- "
            + _("%(title)s: %(owner)s, due %(due)s")
            % {"title": action.title, "owner": action.owner, "due": action.due}
        )
    if not record.actions:
        lines.append(_("No actions were assigned."))
    lines += ["", _("The minutes are attached as a PDF.")]
    site = getattr(settings, "HEADWAY_SITE_URL", "")
    if site:
        lines.append(f"{site.rstrip('/')}/reviews/meetings/{meeting.pk}/minutes/")
    return "\n".join(lines)


def _check_may_send(meeting: Meeting, by: User) -> None:
    """What `minutes_sent` checks, asked before any mail goes out: nobody gets the
    minutes from someone who may not send them, or of a meeting that has not decided."""
    if not can_organise(by, meeting):
        raise NotAllowed("only the chair or an admin sends the minutes")
    if meeting.status not in MINUTES_STATUSES:
        raise ValidationError(
            {
                "status": f"{meeting.title} is {MeetingStatus(meeting.status).label.lower()}: "
                "the minutes are sent once the meeting has decided"
            }
        )


def minutes_send(meeting: Meeting, by: User) -> list[str]:
    """Mails the minutes to every participant with an address, each in their language (a
    short summary in the text, the PDF attached), then records whom they reached
    (`minutes_sent`). Returns the addresses reached; an address that fails is logged and
    left out, and does not stop the others. Raises NotAllowed or ValidationError before
    sending anything when `by` may not send them or the meeting has not decided."""
    meeting = _fresh_meeting(meeting)
    _check_may_send(meeting, by)
    people = minutes_recipients(meeting)
    made: dict[str, tuple[str, str, bytes]] = {}
    reached: list[str] = []
    for person in people:
        language = _person_language(person)
        if language not in made:
            record = minutes(meeting, language)
            pdf = _pdf(render_minutes_html(record, standalone=True))
            with translation.override(language):
                subject = _("Headway: the minutes of %(meeting)s") % {"meeting": meeting.title}
                made[language] = (subject, minutes_summary(record), pdf)
        subject, text, pdf = made[language]
        message = EmailMessage(subject, text, None, [person.email])
        message.attach(
            document_filename(meeting, "minutes", language, "pdf"), pdf, "application/pdf"
        )
        try:
            message.send()
        except OSError as error:
            logger.warning(
                "the minutes of %s did not reach %s: %s", meeting.pk, person.email, error
            )
            continue
        reached.append(person.email)
    if reached:
        minutes_sent(meeting=meeting, by=by, recipients=reached)
    return reached


__all__ = [
    "ActionLine",
    "DecisionLine",
    "MeetingHeader",
    "Minutes",
    "MinutesItem",
    "MinutesNotReady",
    "PreRead",
    "PreReadItem",
    "decision_details_text",
    "document_filename",
    "minutes",
    "minutes_pdf",
    "minutes_recipients",
    "minutes_send",
    "minutes_summary",
    "pre_read",
    "pre_read_pdf",
    "render_minutes_html",
    "render_pre_read_html",
    "review_style",
]
