"""The review pages (issue 6): the cycles and their meetings, the form that schedules or
changes a meeting, and a meeting's own page (its agenda with the numbers and the owners'
comments, notes, decisions, attendance and actions).

Everything is decided and saved by `headway.reviews.services`, which checks who may do
what and writes the audit row: these views read what people typed, call a service, and
show its answer beside the field at fault. Buttons are shown only to who may use them;
a service refusing anyway (NotAllowed) is a 403. Dates and times are read and shown in
the organisation's time zone.
"""

from __future__ import annotations

import datetime
import functools
import zoneinfo
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any, ClassVar

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils import formats, timezone
from django.utils.translation import get_language, gettext_lazy, ngettext
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from headway.accounts.models import Organization, Team, User
from headway.accounts.permissions import can_create_anything, editable_teams, is_admin
from headway.audit.errors import ConflictError
from headway.kpis.choices import Direction, Grain, Unit
from headway.kpis.models import Kpi
from headway.reports.formatting import kpi_value_text, number_text, period_name
from headway.reviews import selectors, services
from headway.reviews.choices import (
    ActionStatus,
    AgendaReason,
    DecisionKind,
    DecisionStatus,
    MeetingStatus,
)
from headway.reviews.models import (
    Action,
    AgendaItem,
    Decision,
    Meeting,
    OwnerComment,
    ReviewCycle,
)
from headway.web import queries
from headway.web.forms import HeadwayForm, posted_text, service_errors, typed_number
from headway.web.views.common import CONFLICT_MESSAGE, is_htmx, require

View = Callable[..., HttpResponse]

# While these, the agenda can still change, notes be taken and owners comment.
AGENDA_OPEN = (MeetingStatus.PLANNED, MeetingStatus.PREPARING, MeetingStatus.IN_MEETING)
TALKING = (MeetingStatus.PREPARING, MeetingStatus.IN_MEETING)
# The documents of a meeting, built by `web.views.review_documents` (their names, by pk).
DOCUMENTS = ("preread", "preread_pdf", "minutes", "minutes_pdf", "minutes_send")


def _user(request: HttpRequest) -> User:
    user = request.user
    assert isinstance(user, User)
    return user


def _zone(request: HttpRequest) -> datetime.tzinfo:
    organization = queries.organization_of(request)
    try:
        return zoneinfo.ZoneInfo(organization.timezone if organization else "UTC")
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return datetime.UTC


def _currency(request: HttpRequest) -> str:
    organization = queries.organization_of(request)
    return organization.currency if organization else ""


def in_organisation_time(view: View) -> View:
    """Dates typed into the forms and shown on the page are the organisation's local
    time, whatever the server's."""

    @functools.wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        with timezone.override(_zone(request)):
            return view(request, *args, **kwargs)

    return wrapped


def _people() -> Any:
    return User.objects.filter(is_active=True).order_by("display_name", "email")


def people_choices() -> list[tuple[Any, str]]:
    """The active people as a select's choices, read once for all the forms of a page."""
    return [("", "---------"), *((person.pk, str(person)) for person in _people())]


def _meeting_url(meeting: Meeting, anchor: str = "") -> str:
    url = reverse("web:review_meeting", kwargs={"pk": meeting.pk})
    return f"{url}#{anchor}" if anchor else url


def document_urls(meeting: Meeting) -> dict[str, str]:
    """The pre-read pack's and the minutes' addresses, for those that exist (their views
    live in another module, which may not be there yet)."""
    found = {}
    for name in DOCUMENTS:
        try:
            found[name] = reverse(f"web:review_{name}", args=[meeting.pk])
        except NoReverseMatch:
            continue
    return found


def _decimal(form: forms.Form, name: str, *, scale: int = 1) -> Decimal | None:
    """A number typed into `name` (thousands separators allowed), divided by `scale`;
    None when empty, and a field error when it is not a number the database keeps."""
    try:
        return typed_number(str(form.cleaned_data.get(name) or ""), scale=scale, percent_sign=True)
    except ValidationError as error:
        form.add_error(name, error)
        return None


# -- forms -----------------------------------------------------------------------------------


class CycleForm(HeadwayForm):
    period = forms.CharField(
        label=gettext_lazy("Period under review"),
        max_length=10,
        help_text=gettext_lazy("A quarter like 2026-Q3, a month like 2026-09 or a year like 2026."),
    )
    title = forms.CharField(
        label=gettext_lazy("Title (optional)"),
        max_length=200,
        required=False,
        help_text=gettext_lazy("Empty: the period and “review”, e.g. “2026-Q3 review”."),
    )


class MeetingForm(HeadwayForm):
    title = forms.CharField(label=gettext_lazy("Title"), max_length=200)
    team = forms.ModelChoiceField(
        label=gettext_lazy("Team"),
        queryset=Team.objects.none(),
        required=False,
        empty_label=gettext_lazy("The whole organisation"),
        help_text=gettext_lazy(
            "The meeting reviews this team's KPIs and those of the teams below it."
        ),
    )
    scheduled_at = forms.DateTimeField(
        label=gettext_lazy("Date and time"),
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )
    location = forms.CharField(label=gettext_lazy("Place or link"), max_length=300, required=False)
    chair = forms.ModelChoiceField(label=gettext_lazy("Chair"), queryset=User.objects.none())
    participants = forms.ModelMultipleChoiceField(
        label=gettext_lazy("Participants"),
        queryset=User.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=gettext_lazy("The chair takes part in any case."),
    )
    comments_due = forms.DateField(
        label=gettext_lazy("Owners comment by"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )
    remind_days_before = forms.IntegerField(
        label=gettext_lazy("Remind owners this many days before"),
        min_value=0,
        max_value=60,
        initial=5,
    )
    version = forms.IntegerField(widget=forms.HiddenInput, required=False)

    def __init__(
        self, *args: Any, teams: list[Team] | None, team_required: bool, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        if teams is None:
            # A meeting keeps its scope: only the details change, against the version read.
            del self.fields["team"]
            self.fields["version"].required = True
        else:
            del self.fields["version"]
            team_field = self.fields["team"]
            assert isinstance(team_field, forms.ModelChoiceField)
            team_field.queryset = Team.objects.filter(pk__in=[team.pk for team in teams])
            team_field.required = team_required
        for name in ("chair", "participants"):
            people = self.fields[name]
            assert isinstance(people, forms.ModelChoiceField)
            people.queryset = _people()


class AgendaAddForm(HeadwayForm):
    kpi = forms.ModelChoiceField(
        label=gettext_lazy("A KPI"),
        queryset=Kpi.objects.none(),
        required=False,
        empty_label=gettext_lazy("— none: a point of its own —"),
    )
    title = forms.CharField(
        label=gettext_lazy("Or a point of its own"), max_length=300, required=False
    )

    def __init__(self, *args: Any, meeting: Meeting, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        kpi_field = self.fields["kpi"]
        assert isinstance(kpi_field, forms.ModelChoiceField)
        kpi_field.queryset = (
            Kpi.objects.filter(is_active=True)
            .exclude(agenda_items__meeting=meeting)
            .order_by("position", "key")
        )


class NotesForm(HeadwayForm):
    notes = forms.CharField(
        label=gettext_lazy("Notes"), required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
    version = forms.IntegerField(widget=forms.HiddenInput)


class CommentForm(HeadwayForm):
    text = forms.CharField(
        label=gettext_lazy("Your comment as the KPI's owner"),
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=gettext_lazy(
            "What happened, and what you propose. A new comment replaces yours."
        ),
    )


class DecisionForm(HeadwayForm):
    """What the meeting decided about an item; the fields of the chosen kind count."""

    kind = forms.ChoiceField(label=gettext_lazy("Decision"), choices=[])
    value = forms.CharField(label=gettext_lazy("New target"), max_length=40, required=False)
    effective_from = forms.CharField(
        label=gettext_lazy("From period"),
        max_length=10,
        required=False,
        help_text=gettext_lazy("The first period it applies to, e.g. 2026-07 or 2026-Q3."),
    )
    formula = forms.CharField(
        label=gettext_lazy("New formula"),
        max_length=2000,
        required=False,
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
    )
    green_from = forms.CharField(
        label=gettext_lazy("On track from (% of target)"), max_length=20, required=False
    )
    amber_from = forms.CharField(
        label=gettext_lazy("At risk from (% of target)"), max_length=20, required=False
    )
    new_owner = forms.TypedChoiceField(
        label=gettext_lazy("New owner"), choices=[], coerce=int, empty_value=None, required=False
    )
    action_title = forms.CharField(label=gettext_lazy("Action"), max_length=500, required=False)
    action_owner = forms.TypedChoiceField(
        label=gettext_lazy("Who does it"), choices=[], coerce=int, empty_value=None, required=False
    )
    action_due = forms.DateField(
        label=gettext_lazy("Due"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )
    reason = forms.CharField(
        label=gettext_lazy("Reason"),
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=gettext_lazy("Why: it is kept with the decision, and with what it changes."),
    )

    # The fields each kind reads, and the services' names for them.
    KIND_FIELDS: ClassVar[dict[str, dict[str, str]]] = {
        DecisionKind.CHANGE_TARGET: {"value": "value", "effective_from": "effective_from"},
        DecisionKind.CHANGE_KPI: {
            "formula": "formula",
            "threshold_green": "green_from",
            "threshold_amber": "amber_from",
            "owner": "new_owner",
        },
        DecisionKind.ASSIGN_ACTION: {
            "title": "action_title",
            "owner": "action_owner",
            "due": "action_due",
        },
    }

    def __init__(
        self, *args: Any, kpi: Kpi | None, people: list[tuple[Any, str]], **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.kpi = kpi
        kinds = [
            (value, label)
            for value, label in DecisionKind.choices
            if value != DecisionKind.ADD_KPI
            and (kpi is not None or value == DecisionKind.ASSIGN_ACTION)
        ]
        kind_field = self.fields["kind"]
        assert isinstance(kind_field, forms.ChoiceField)
        kind_field.choices = kinds
        for name in ("new_owner", "action_owner"):
            person_field = self.fields[name]
            assert isinstance(person_field, forms.TypedChoiceField)
            person_field.choices = people
        if kpi is not None and kpi.unit == Unit.PERCENT:
            self.fields["value"].label = _("New target (%)")

    @property
    def percent(self) -> bool:
        return self.kpi is not None and self.kpi.unit == Unit.PERCENT

    def details(self) -> dict[str, Any]:
        """The decision's details for the service; adds a field error for a number that
        is not one."""
        data = self.cleaned_data
        kind = data.get("kind")
        if kind == DecisionKind.CHANGE_TARGET:
            value = _decimal(self, "value", scale=100 if self.percent else 1)
            return {
                "value": str(value) if value is not None else "",
                "effective_from": (data.get("effective_from") or "").strip(),
            }
        if kind == DecisionKind.CHANGE_KPI:
            changes: dict[str, Any] = {}
            if (data.get("formula") or "").strip():
                changes["formula"] = data["formula"].strip()
            for name, service_name in (
                ("green_from", "threshold_green"),
                ("amber_from", "threshold_amber"),
            ):
                number = _decimal(self, name, scale=100)
                if number is not None:
                    changes[service_name] = str(number)
            if data.get("new_owner") is not None:
                changes["owner"] = data["new_owner"]
            return {"changes": changes}
        if kind == DecisionKind.ASSIGN_ACTION:
            due = data.get("action_due")
            return {
                "title": data.get("action_title") or "",
                "owner": data.get("action_owner"),
                "due": due.isoformat() if due else "",
            }
        return {}

    def service_names(self) -> dict[str, str]:
        return self.KIND_FIELDS.get(self.cleaned_data.get("kind") or "", {})


class AddKpiForm(HeadwayForm):
    """A decision to add a KPI, not tied to an item of the agenda."""

    key = forms.CharField(
        label=gettext_lazy("Key"),
        max_length=100,
        help_text=gettext_lazy(
            "Letters, digits and _, starting with a letter; it cannot change later."
        ),
    )
    name = forms.CharField(label=gettext_lazy("Name"), max_length=300)
    formula = forms.CharField(
        label=gettext_lazy("Formula"),
        max_length=2000,
        help_text=gettext_lazy(
            "Measures combined with + - * / and prev(measure), e.g. won_deals / leads."
        ),
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
    )
    unit = forms.ChoiceField(label=gettext_lazy("Unit"), choices=Unit.choices)
    grain = forms.ChoiceField(label=gettext_lazy("Period"), choices=Grain.choices, initial="month")
    direction = forms.ChoiceField(
        label=gettext_lazy("Direction"), choices=Direction.choices, initial=Direction.UP
    )
    team = forms.ModelChoiceField(
        label=gettext_lazy("Team"), queryset=Team.objects.none(), required=False
    )
    owner = forms.ModelChoiceField(
        label=gettext_lazy("Owner"), queryset=User.objects.none(), required=False
    )
    target = forms.CharField(
        label=gettext_lazy("Target (optional)"),
        max_length=40,
        required=False,
        help_text=gettext_lazy("For a percentage, type it in percent: 8.5 means 8.5%."),
    )
    target_from = forms.CharField(
        label=gettext_lazy("Target from period"),
        max_length=10,
        required=False,
        help_text=gettext_lazy("The first period it applies to, e.g. 2026-07 or 2026-Q3."),
    )
    reason = forms.CharField(
        label=gettext_lazy("Reason"),
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=gettext_lazy("Why: it is kept with the decision, and with what it changes."),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        team_field = self.fields["team"]
        owner_field = self.fields["owner"]
        assert isinstance(team_field, forms.ModelChoiceField)
        assert isinstance(owner_field, forms.ModelChoiceField)
        team_field.queryset = Team.objects.order_by("name")
        owner_field.queryset = _people()

    def details(self) -> dict[str, Any]:
        data = self.cleaned_data
        percent = data.get("unit") == Unit.PERCENT
        target = _decimal(self, "target", scale=100 if percent else 1)
        return {
            "key": data.get("key") or "",
            "name": data.get("name") or "",
            "formula": data.get("formula") or "",
            "unit": data.get("unit") or "",
            "grain": data.get("grain") or "",
            "direction": data.get("direction") or "",
            "team": data["team"].key if data.get("team") is not None else "",
            "owner": data["owner"].pk if data.get("owner") is not None else None,
            "target": str(target) if target is not None else None,
            "target_from": (data.get("target_from") or "").strip(),
        }


class DecideForm(HeadwayForm):
    note = forms.CharField(label=gettext_lazy("Note"), max_length=5000, required=False)


class CloseForm(HeadwayForm):
    note = forms.CharField(label=gettext_lazy("Note"), max_length=5000, required=False)
    # The action's version when the page was shown: closing an action someone else
    # changed meanwhile is a conflict. (A post without it relies on the open-only check.)
    version = forms.IntegerField(widget=forms.HiddenInput, required=False)


# -- what the pages show ------------------------------------------------------------------


def _amount(value: Any) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


def _date_text(value: datetime.date) -> str:
    return str(formats.date_format(value, "DATE_FORMAT"))


def _person(people: dict[int, User], pk: Any) -> str:
    person = people.get(pk) if isinstance(pk, int) else None
    return str(person) if person is not None else "—"


def decision_words(
    decision: Decision, kpi: Kpi | None, people: dict[int, User], currency: str
) -> str:
    """What a decision says, in a sentence of the active language (its kind aside)."""
    details = decision.details or {}
    kind = decision.kind
    if kind == DecisionKind.CHANGE_TARGET and kpi is not None:
        after = kpi_value_text(_amount(details.get("value")), kpi.unit, currency)
        previous = _amount(details.get("previous"))
        period = details.get("effective_from", "")
        if previous is not None:
            words = _("Target %(before)s → %(after)s from %(period)s") % {
                "before": kpi_value_text(previous, kpi.unit, currency),
                "after": after,
                "period": period,
            }
        else:
            words = _("Target %(after)s from %(period)s") % {"after": after, "period": period}
        if details.get("where_dimension"):
            words += f" ({details['where_dimension']} = {details.get('where_value', '')})"
        return words
    if kind == DecisionKind.CHANGE_KPI:
        changes = details.get("changes") or {}
        parts = []
        if "formula" in changes:
            parts.append(_("formula %(formula)s") % {"formula": changes["formula"]})
        if "threshold_green" in changes:
            parts.append(
                _("on track from %(percent)s of the target")
                % {"percent": f"{number_text(Decimal(changes['threshold_green']) * 100, 0)}%"}
            )
        if "threshold_amber" in changes:
            parts.append(
                _("at risk from %(percent)s of the target")
                % {"percent": f"{number_text(Decimal(changes['threshold_amber']) * 100, 0)}%"}
            )
        if "owner" in changes:
            parts.append(_("owner: %(person)s") % {"person": _person(people, changes["owner"])})
        return "; ".join(parts)
    if kind == DecisionKind.ADD_KPI:
        words = _("%(name)s (%(key)s) = %(formula)s") % {
            "name": details.get("name", ""),
            "key": details.get("key", ""),
            "formula": details.get("formula", ""),
        }
        target = _amount(details.get("target"))
        if target is not None and details.get("unit") in Unit.values:
            words += "; " + _("target %(value)s from %(period)s") % {
                "value": kpi_value_text(target, str(details["unit"]), currency),
                "period": details.get("target_from", ""),
            }
        return words
    if kind == DecisionKind.ASSIGN_ACTION:
        due = details.get("due")
        return _("%(title)s: %(person)s, due %(due)s") % {
            "title": details.get("title", ""),
            "person": _person(people, details.get("owner")),
            "due": _date_text(datetime.date.fromisoformat(due)) if due else "—",
        }
    return ""


def people_named_in(decisions: list[Decision]) -> dict[int, User]:
    """The people decisions name (new owners, actions' owners), in one query."""
    wanted: set[int] = set()
    for decision in decisions:
        details = decision.details or {}
        for value in (details.get("owner"), (details.get("changes") or {}).get("owner")):
            if isinstance(value, int):
                wanted.add(value)
    return User.objects.in_bulk(wanted) if wanted else {}


@dataclass
class DecisionLine:
    decision: Decision
    words: str
    may_decide: bool = False
    may_apply: bool = False
    may_withdraw: bool = False
    form: DecideForm | None = None


@dataclass
class ItemLine:
    """An item of the agenda as the meeting page shows it."""

    item: AgendaItem
    reasons: list[str]
    facts: dict[str, Any]
    chance: str
    realism: str
    stale: list[str]
    insights: list[str]
    comment: OwnerComment | None = None
    owns: bool = False  # the KPI's owner: the comment form is theirs, open
    comment_form: CommentForm | None = None
    notes_form: NotesForm | None = None
    decision_form: DecisionForm | None = None
    decisions: list[DecisionLine] = field(default_factory=list)
    first: bool = False
    last: bool = False


@dataclass
class ActionLine:
    action: Action
    may_close: bool
    overdue: bool
    form: CloseForm | None = None


@dataclass
class Bound:
    """The forms a failed POST puts back on the meeting page, with their errors."""

    anchor: str = ""
    agenda_add: AgendaAddForm | None = None
    notes: dict[int, NotesForm] = field(default_factory=dict)
    comments: dict[int, CommentForm] = field(default_factory=dict)
    decisions: dict[int, DecisionForm] = field(default_factory=dict)
    add_kpi: AddKpiForm | None = None
    decide: dict[int, DecideForm] = field(default_factory=dict)
    close: dict[int, CloseForm] = field(default_factory=dict)
    attendance: list[str] = field(default_factory=list)


def _chance(facts: dict[str, Any]) -> str:
    forecast = facts.get("forecast") or {}
    probability = forecast.get("probability")
    if probability is None:
        return ""
    return _("%(chance)s chance of meeting the target of %(span)s") % {
        "chance": f"{number_text(Decimal(str(probability)) * 100, 0)}%",
        "span": period_name(str(forecast.get("span", ""))),
    }


def _realism(facts: dict[str, Any], kpi: Kpi | None, currency: str) -> str:
    realism = facts.get("realism") or {}
    verdict = realism.get("verdict")
    if not verdict or kpi is None:
        return ""
    numbers = {
        "met": realism.get("met", 0),
        "periods": realism.get("periods", 0),
        "half": kpi_value_text(_amount(realism.get("half_time_target")), kpi.unit, currency),
    }
    if verdict == "too_hard":
        words = _(
            "The target looks too hard: it would have been met in %(met)s of the last "
            "%(periods)s periods; %(half)s would have been met half the time."
        )
    elif verdict == "too_easy":
        words = _(
            "The target looks too easy: it would have been met in %(met)s of the last "
            "%(periods)s periods; %(half)s would have been met half the time."
        )
    else:
        words = _(
            "The target looks realistic: it would have been met in %(met)s of the last "
            "%(periods)s periods."
        )
    return words % numbers


def _stale(facts: dict[str, Any]) -> list[str]:
    lines = []
    for entry in facts.get("stale") or []:
        days = entry.get("age_days")
        if days is None:
            lines.append(_("%(dataset)s: no data yet") % {"dataset": entry.get("dataset")})
        else:
            lines.append(
                ngettext(
                    "%(dataset)s: data %(days)s day old",
                    "%(dataset)s: data %(days)s days old",
                    days,
                )
                % {"dataset": entry.get("dataset"), "days": days}
            )
    return lines


def _insights(facts: dict[str, Any]) -> list[str]:
    chinese = (get_language() or "").lower().startswith("zh")
    return list(facts.get("insights_zh" if chinese else "insights_en") or [])


def _reason_labels(item: AgendaItem) -> list[str]:
    values = item.reasons or [item.reason]
    return [str(AgendaReason(value).label) for value in values if value in AgendaReason.values]


def _steps(meeting: Meeting, user: User, organiser: bool, approved: int) -> list[tuple[str, str]]:
    """The buttons that move the meeting on, for who may press them."""
    status = meeting.status
    steps: list[tuple[str, str]] = []
    if organiser and status == MeetingStatus.PLANNED:
        steps.append(("prepare", _("Build the agenda")))
    if organiser and status == MeetingStatus.PREPARING:
        steps.append(("start", _("Start the meeting")))
        steps.append(("prepare", _("Refresh the agenda")))
    if organiser and status == MeetingStatus.IN_MEETING:
        steps.append(("conclude", _("Conclude the meeting")))
    if status == MeetingStatus.DECIDED:
        if approved and (user.pk == meeting.chair_id or is_admin(user)):
            steps.append(("apply_all", _("Apply all approved decisions")))
        if organiser:
            steps.append(("close", _("Close the review")))
    return steps


def _earlier_open_actions(meeting: Meeting) -> list[Action]:
    return list(
        Action.objects.filter(
            status=ActionStatus.OPEN, meeting__scheduled_at__lt=meeting.scheduled_at
        )
        .exclude(meeting=meeting)
        .select_related("owner", "kpi", "meeting")
        .order_by("due", "pk")
    )


def _meeting_page(
    request: HttpRequest, meeting: Meeting, bound: Bound | None = None, status: int = 200
) -> HttpResponse:
    user = _user(request)
    bound = bound or Bound()
    currency = _currency(request)
    today = queries.organization_today(queries.organization_of(request) or Organization.current())
    organiser = services.can_organise(user, meeting)
    recorder = services.can_record(user, meeting)
    chair = user.pk == meeting.chair_id
    applier = chair or is_admin(user)
    state = meeting.status
    talking = state in TALKING
    items = selectors.agenda(meeting)
    comments = selectors.latest_comments(meeting)
    decisions = selectors.decisions(meeting)
    people = people_named_in(decisions)
    choices = people_choices() if recorder and state == MeetingStatus.IN_MEETING else []

    decision_lines = []
    for decision in decisions:
        proposed = decision.status == DecisionStatus.PROPOSED
        may_decide = chair and state == MeetingStatus.IN_MEETING and proposed
        decision_lines.append(
            DecisionLine(
                decision=decision,
                words=decision_words(decision, decision.kpi, people, currency),
                may_decide=may_decide,
                may_apply=applier
                and state == MeetingStatus.DECIDED
                and decision.status == DecisionStatus.APPROVED,
                may_withdraw=chair
                and state == MeetingStatus.DECIDED
                and decision.status == DecisionStatus.APPROVED,
                form=bound.decide.get(decision.pk, DecideForm(auto_id=f"decide-{decision.pk}-%s"))
                if may_decide
                else None,
            )
        )
    by_item: dict[int, list[DecisionLine]] = {}
    for line in decision_lines:
        if line.decision.item_id is not None:
            by_item.setdefault(line.decision.item_id, []).append(line)

    lines = []
    for index, item in enumerate(items):
        kpi = item.kpi
        facts = item.facts or {}
        may_comment = kpi is not None and talking and services.can_comment(user, kpi)
        lines.append(
            ItemLine(
                item=item,
                reasons=_reason_labels(item),
                facts=facts,
                chance=_chance(facts),
                realism=_realism(facts, kpi, currency),
                stale=_stale(facts),
                insights=_insights(facts),
                comment=comments.get(kpi.pk) if kpi is not None else None,
                owns=kpi is not None and kpi.owner_id == user.pk,
                comment_form=bound.comments.get(
                    item.pk, CommentForm(auto_id=f"comment-{item.pk}-%s")
                )
                if may_comment
                else None,
                notes_form=bound.notes.get(
                    item.pk,
                    NotesForm(
                        initial={"notes": item.notes, "version": item.version},
                        auto_id=f"notes-{item.pk}-%s",
                    ),
                )
                if recorder and talking
                else None,
                decision_form=bound.decisions.get(
                    item.pk,
                    DecisionForm(kpi=kpi, people=choices, auto_id=f"decision-{item.pk}-%s"),
                )
                if recorder and state == MeetingStatus.IN_MEETING
                else None,
                decisions=by_item.get(item.pk, []),
                first=index == 0,
                last=index == len(items) - 1,
            )
        )

    actions = []
    for action in [*selectors.meeting_actions(meeting), *_earlier_open_actions(meeting)]:
        may_close = action.status == ActionStatus.OPEN and (
            is_admin(user) or action.owner_id == user.pk or action.meeting.chair_id == user.pk
        )
        actions.append(
            ActionLine(
                action=action,
                may_close=may_close,
                overdue=action.status == ActionStatus.OPEN and action.due < today,
                form=bound.close.get(action.pk, CloseForm(auto_id=f"close-{action.pk}-%s"))
                if may_close
                else None,
            )
        )

    approved = sum(1 for d in decisions if d.status == DecisionStatus.APPROVED)
    has_errors = bool(
        bound.attendance
        or (bound.agenda_add is not None and bound.agenda_add.errors)
        or (bound.add_kpi is not None and bound.add_kpi.errors)
        or any(
            form.errors
            for group in (bound.notes, bound.comments, bound.decisions, bound.decide, bound.close)
            for form in group.values()
        )
    )
    context: dict[str, Any] = {
        "meeting": meeting,
        "cycle": meeting.cycle,
        "participants": selectors.attendance(meeting),
        "lines": lines,
        "decisions": decision_lines,
        "other_decisions": [line for line in decision_lines if line.decision.item_id is None],
        "actions": actions,
        "missing": selectors.missing_comments(meeting) if talking else [],
        "steps": _steps(meeting, user, organiser, approved),
        "organiser": organiser,
        "talking": talking,
        "recorder": recorder,
        "may_edit": organiser and state in AGENDA_OPEN,
        "may_reorder": organiser and state in AGENDA_OPEN,
        "may_remove": organiser and state in (MeetingStatus.PLANNED, MeetingStatus.PREPARING),
        "agenda_form": (bound.agenda_add or AgendaAddForm(meeting=meeting, auto_id="add-%s"))
        if organiser and state in AGENDA_OPEN
        else None,
        "add_kpi_form": (bound.add_kpi or AddKpiForm(auto_id="new-kpi-%s"))
        if recorder and state == MeetingStatus.IN_MEETING
        else None,
        "attendance_open": recorder and state in (MeetingStatus.IN_MEETING, MeetingStatus.DECIDED),
        "attendance_errors": bound.attendance,
        "documents": document_urls(meeting),
        "has_errors": has_errors,
        "problem_anchor": bound.anchor,
        "today": today,
    }
    return render(request, "web/reviews/meeting.html", context, status=status)


def _meeting(pk: int) -> Meeting:
    return get_object_or_404(Meeting.objects.select_related("cycle", "team", "chair"), pk=pk)


def _item(pk: int) -> AgendaItem:
    return get_object_or_404(
        AgendaItem.objects.select_related("meeting", "meeting__cycle", "meeting__team", "kpi"),
        pk=pk,
    )


def _errors_of(error: ValidationError) -> list[str]:
    return list(error.messages)


@dataclass
class Attempt:
    failed: bool = False


@contextmanager
def _told(request: HttpRequest) -> Iterator[Attempt]:
    """Runs a step whose refusal is told as messages on the page the view goes back to
    (a conflict, or each of the service's reasons); `failed` says whether it was."""
    attempt = Attempt()
    try:
        yield attempt
    except ConflictError:
        attempt.failed = True
        messages.error(request, CONFLICT_MESSAGE)
    except ValidationError as error:
        attempt.failed = True
        for message in _errors_of(error):
            messages.error(request, message)


# -- the list of cycles, and scheduling ---------------------------------------------------


@login_required
@in_organisation_time
def review_list(request: HttpRequest) -> HttpResponse:
    """Every review cycle, newest first, with its meetings; admins open a cycle here."""
    user = _user(request)
    admin = is_admin(user)
    form = CycleForm(request.POST or None, auto_id="cycle-%s")
    if request.method == "POST":
        require(admin)
        if form.is_valid():
            try:
                cycle = services.cycle_create(
                    by=user, period=form.cleaned_data["period"], title=form.cleaned_data["title"]
                )
            except ValidationError as error:
                service_errors(form, error, {})
            else:
                messages.success(
                    request, _("The review cycle “%(title)s” was opened.") % {"title": cycle}
                )
                return redirect(reverse("web:reviews") + f"#cycle-{cycle.pk}")
    context = {
        "cycles": list(selectors.cycles()),
        "form": form if admin else None,
        "may_schedule": can_create_anything(user),
    }
    return render(request, "web/reviews/list.html", context)


def _meeting_fields(data: dict[str, Any]) -> dict[str, Any]:
    return {
        "title": data["title"],
        "scheduled_at": data["scheduled_at"],
        "location": data["location"],
        "chair": data["chair"],
        "comments_due": data["comments_due"],
        "remind_days_before": data["remind_days_before"],
    }


@login_required
@in_organisation_time
def meeting_new(request: HttpRequest, cycle_pk: int) -> HttpResponse:
    """Schedules a meeting of a cycle: admins for anyone, managers for their teams."""
    user = _user(request)
    cycle = get_object_or_404(ReviewCycle, pk=cycle_pk)
    require(can_create_anything(user))
    admin = is_admin(user)
    form = MeetingForm(
        request.POST or None,
        teams=editable_teams(user),
        team_required=not admin,
        initial={"chair": user.pk, "remind_days_before": 5, "title": str(cycle)},
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            meeting = services.meeting_create(
                by=user,
                cycle=cycle,
                team=data["team"],
                participants=list(data["participants"]),
                **_meeting_fields(data),
            )
        except ValidationError as error:
            service_errors(form, error, {})
        else:
            messages.success(
                request, _("The meeting “%(title)s” was scheduled.") % {"title": meeting}
            )
            return redirect(_meeting_url(meeting))
    return render(
        request, "web/reviews/meeting_form.html", {"form": form, "cycle": cycle, "meeting": None}
    )


@login_required
@in_organisation_time
def meeting_edit(request: HttpRequest, pk: int) -> HttpResponse:
    """Changes a meeting's details and participants (its organisers, until it is decided)."""
    user = _user(request)
    meeting = _meeting(pk)
    require(services.can_organise(user, meeting))
    initial = {
        "title": meeting.title,
        "scheduled_at": meeting.scheduled_at,
        "location": meeting.location,
        "chair": meeting.chair_id,
        "participants": [row.person_id for row in selectors.attendance(meeting)],
        "comments_due": meeting.comments_due,
        "remind_days_before": meeting.remind_days_before,
        "version": meeting.version,
    }
    form = MeetingForm(request.POST or None, initial=initial, teams=None, team_required=False)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            meeting = services.meeting_update(
                meeting=meeting,
                by=user,
                expected_version=data["version"],
                participants=list(data["participants"]),
                **_meeting_fields(data),
            )
        except ConflictError:
            form.add_error(None, CONFLICT_MESSAGE)
        except ValidationError as error:
            service_errors(form, error, {})
        else:
            messages.success(request, _("Your changes to the meeting were saved."))
            return redirect(_meeting_url(meeting))
    context = {"form": form, "cycle": meeting.cycle, "meeting": meeting}
    return render(request, "web/reviews/meeting_form.html", context)


# -- the meeting page and what is done on it ----------------------------------------------


@login_required
@in_organisation_time
def meeting_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """A meeting: its agenda with the numbers, comments, notes, decisions and actions."""
    return _meeting_page(request, _meeting(pk))


@require_POST
@login_required
@in_organisation_time
def meeting_step(request: HttpRequest, pk: int) -> HttpResponse:
    """Moves the meeting on: build the agenda, start, conclude, apply, close."""
    user = _user(request)
    meeting = _meeting(pk)
    step = request.POST.get("step", "")
    with _told(request):
        if step == "prepare":
            built = meeting.agenda_built_at is not None
            services.meeting_prepare(meeting=meeting, by=user)
            messages.success(
                request,
                _("The agenda was brought up to date with the data.")
                if built
                else _("The agenda was built from the data; the KPIs' owners can comment now."),
            )
        elif step == "start":
            services.meeting_start(meeting=meeting, by=user)
            messages.success(request, _("The meeting has started."))
        elif step == "conclude":
            services.meeting_conclude(meeting=meeting, by=user)
            messages.success(
                request, _("The meeting is concluded: its approved decisions can be applied.")
            )
        elif step == "apply_all":
            done = services.decisions_apply_all(meeting=meeting, by=user)
            messages.success(
                request,
                ngettext(
                    "%(count)s decision was applied.",
                    "%(count)s decisions were applied.",
                    done.applied,
                )
                % {"count": done.applied},
            )
            for line in done.refused:
                messages.error(request, _("Not applied: %(reason)s") % {"reason": line})
            _recompute_warnings(request, done.problems)
        elif step == "close":
            services.meeting_close(meeting=meeting, by=user)
            messages.success(request, _("The review is closed."))
        else:
            messages.error(request, _("Unknown step."))
    return redirect(_meeting_url(meeting))


def _recompute_warnings(request: HttpRequest, problems: list[str]) -> None:
    if problems:
        messages.warning(
            request,
            _("Applied, but the values could not be recomputed: %(problem)s")
            % {"problem": "; ".join(problems)},
        )


@require_POST
@login_required
@in_organisation_time
def agenda_add(request: HttpRequest, pk: int) -> HttpResponse:
    """Puts a KPI, or a point of its own, at the end of the agenda."""
    user = _user(request)
    meeting = _meeting(pk)
    require(services.can_organise(user, meeting))
    form = AgendaAddForm(request.POST, meeting=meeting, auto_id="add-%s")
    if form.is_valid():
        try:
            item = services.agenda_item_add(
                meeting=meeting,
                by=user,
                kpi=form.cleaned_data["kpi"],
                title=form.cleaned_data["title"],
            )
        except ValidationError as error:
            service_errors(form, error, {})
        else:
            messages.success(request, _("“%(item)s” was added to the agenda.") % {"item": item})
            return redirect(_meeting_url(meeting, f"item-{item.pk}"))
    return _meeting_page(request, meeting, Bound(anchor="agenda-add", agenda_add=form))


@require_POST
@login_required
@in_organisation_time
def item_move(request: HttpRequest, pk: int) -> HttpResponse:
    """Moves an item one place up or down the agenda."""
    item = _item(pk)
    offset = -1 if request.POST.get("direction") == "up" else 1
    with _told(request):
        services.agenda_item_move(item=item, by=_user(request), offset=offset)
    return redirect(_meeting_url(item.meeting, f"item-{item.pk}"))


@require_POST
@login_required
@in_organisation_time
def item_remove(request: HttpRequest, pk: int) -> HttpResponse:
    """Takes an item off the agenda before the meeting."""
    item = _item(pk)
    name = str(item)
    with _told(request) as attempt:
        services.agenda_item_remove(item=item, by=_user(request))
    if not attempt.failed:
        messages.success(request, _("“%(item)s” was taken off the agenda.") % {"item": name})
    return redirect(_meeting_url(item.meeting, "agenda"))


@require_POST
@login_required
@in_organisation_time
def item_notes(request: HttpRequest, pk: int) -> HttpResponse:
    """Saves an item's notes; with htmx, answers with the notes' block alone."""
    item = _item(pk)
    user = _user(request)
    require(services.can_record(user, item.meeting))
    form = NotesForm(request.POST, auto_id=f"notes-{item.pk}-%s")
    saved = False
    if form.is_valid():
        try:
            item = services.item_notes_save(
                item=item,
                by=user,
                notes=form.cleaned_data["notes"],
                expected_version=form.cleaned_data["version"],
            )
        except ConflictError:
            form.add_error(None, CONFLICT_MESSAGE)
        except ValidationError as error:
            service_errors(form, error, {})
        else:
            saved = True
    if is_htmx(request):
        if saved:
            form = NotesForm(
                initial={"notes": item.notes, "version": item.version},
                auto_id=f"notes-{item.pk}-%s",
            )
        context = {"item": item, "form": form, "saved": saved}
        return render(request, "web/reviews/_item_notes.html", context)
    if saved:
        messages.success(request, _("The notes were saved."))
        return redirect(_meeting_url(item.meeting, f"item-{item.pk}"))
    return _meeting_page(
        request, item.meeting, Bound(anchor=f"item-{item.pk}", notes={item.pk: form})
    )


@require_POST
@login_required
@in_organisation_time
def item_comment(request: HttpRequest, pk: int) -> HttpResponse:
    """The KPI owner's comment on their KPI's item."""
    item = _item(pk)
    user = _user(request)
    kpi = item.kpi
    require(kpi is not None and services.can_comment(user, kpi))
    assert kpi is not None
    form = CommentForm(request.POST, auto_id=f"comment-{item.pk}-%s")
    if form.is_valid():
        try:
            services.comment_add(
                meeting=item.meeting, kpi=kpi, by=user, text=form.cleaned_data["text"]
            )
        except ValidationError as error:
            service_errors(form, error, {})
        else:
            messages.success(request, _("Your comment on %(kpi)s was saved.") % {"kpi": kpi.name})
            return redirect(_meeting_url(item.meeting, f"item-{item.pk}"))
    return _meeting_page(
        request, item.meeting, Bound(anchor=f"item-{item.pk}", comments={item.pk: form})
    )


@require_POST
@login_required
@in_organisation_time
def item_decision(request: HttpRequest, pk: int) -> HttpResponse:
    """Records what the meeting decided about an item; it waits for the chair."""
    item = _item(pk)
    user = _user(request)
    require(services.can_record(user, item.meeting))
    form = DecisionForm(
        request.POST, kpi=item.kpi, people=people_choices(), auto_id=f"decision-{item.pk}-%s"
    )
    details = form.details() if form.is_valid() else {}
    if not form.errors:  # a number that is not one was added to the errors
        try:
            decision = services.decision_record(
                meeting=item.meeting,
                by=user,
                kind=form.cleaned_data["kind"],
                reason=form.cleaned_data["reason"],
                item=item,
                details=details,
            )
        except ValidationError as error:
            service_errors(form, error, form.service_names())
        else:
            messages.success(
                request, _("The decision was recorded; it waits for the chair's approval.")
            )
            return redirect(_meeting_url(item.meeting, f"decision-{decision.pk}"))
    return _meeting_page(
        request, item.meeting, Bound(anchor=f"item-{item.pk}", decisions={item.pk: form})
    )


@require_POST
@login_required
@in_organisation_time
def add_kpi_decision(request: HttpRequest, pk: int) -> HttpResponse:
    """Records a decision to add a KPI (not about an item of the agenda)."""
    meeting = _meeting(pk)
    user = _user(request)
    require(services.can_record(user, meeting))
    form = AddKpiForm(request.POST, auto_id="new-kpi-%s")
    details = form.details() if form.is_valid() else {}
    if not form.errors:
        try:
            decision = services.decision_record(
                meeting=meeting,
                by=user,
                kind=DecisionKind.ADD_KPI,
                reason=form.cleaned_data["reason"],
                details=details,
            )
        except ValidationError as error:
            service_errors(form, error, {})
        else:
            messages.success(
                request, _("The decision was recorded; it waits for the chair's approval.")
            )
            return redirect(_meeting_url(meeting, f"decision-{decision.pk}"))
    return _meeting_page(request, meeting, Bound(anchor="add-kpi", add_kpi=form))


def _decision(pk: int) -> Decision:
    return get_object_or_404(
        Decision.objects.select_related("meeting", "meeting__cycle", "meeting__team", "kpi"),
        pk=pk,
    )


@require_POST
@login_required
@in_organisation_time
def decision_decide(request: HttpRequest, pk: int) -> HttpResponse:
    """The chair approves or rejects a decision (a rejection says why)."""
    decision = _decision(pk)
    approve = request.POST.get("decision") == "approve"
    form = DecideForm(request.POST, auto_id=f"decide-{decision.pk}-%s")
    # A note the form refuses is shown again: never a decision with its note dropped.
    if form.is_valid():
        try:
            services.decision_decide(
                decision=decision,
                by=_user(request),
                approve=approve,
                note=form.cleaned_data["note"],
            )
        except ValidationError as error:
            service_errors(form, error, {})
        else:
            messages.success(
                request,
                _("The decision was approved.") if approve else _("The decision was rejected."),
            )
            return redirect(_meeting_url(decision.meeting, f"decision-{decision.pk}"))
    return _meeting_page(
        request,
        decision.meeting,
        Bound(anchor=f"decision-{decision.pk}", decide={decision.pk: form}),
    )


@require_POST
@login_required
@in_organisation_time
def decision_apply(request: HttpRequest, pk: int) -> HttpResponse:
    """Applies one approved decision of a decided meeting."""
    decision = _decision(pk)
    problems: list[str] = []
    with _told(request) as attempt:
        _applied, problems = services.decision_apply(decision=decision, by=_user(request))
    if not attempt.failed:
        messages.success(request, _("The decision was applied."))
        _recompute_warnings(request, problems)
    return redirect(_meeting_url(decision.meeting, f"decision-{decision.pk}"))


@require_POST
@login_required
@in_organisation_time
def decision_withdraw(request: HttpRequest, pk: int) -> HttpResponse:
    """The chair takes back an approval that cannot be applied, saying why."""
    decision = _decision(pk)
    with _told(request) as attempt:
        services.decision_withdraw(
            decision=decision, by=_user(request), note=posted_text(request.POST, "note")
        )
    if not attempt.failed:
        messages.success(request, _("The approval was withdrawn."))
    return redirect(_meeting_url(decision.meeting, f"decision-{decision.pk}"))


@require_POST
@login_required
@in_organisation_time
def attendance(request: HttpRequest, pk: int) -> HttpResponse:
    """Who attended the meeting: the boxes ticked."""
    meeting = _meeting(pk)
    present = [int(value) for value in request.POST.getlist("present") if value.isdigit()]
    try:
        services.attendance_record(meeting=meeting, by=_user(request), present=present)
    except ValidationError as error:
        return _meeting_page(
            request, meeting, Bound(anchor="attendance", attendance=_errors_of(error))
        )
    messages.success(request, _("The attendance was saved."))
    return redirect(_meeting_url(meeting, "attendance"))


@require_POST
@login_required
@in_organisation_time
def action_close(request: HttpRequest, pk: int) -> HttpResponse:
    """Marks an action done, or dropped with a note."""
    action = get_object_or_404(Action.objects.select_related("meeting"), pk=pk)
    # The page the form was on: the action's meeting, or a later one listing it.
    shown = request.POST.get("meeting", "")
    shown_on = _meeting(int(shown) if shown.isdigit() else action.meeting_id)
    status = ActionStatus.DROPPED if request.POST.get("status") == "dropped" else ActionStatus.DONE
    form = CloseForm(request.POST, auto_id=f"close-{action.pk}-%s")
    try:
        if not form.is_valid():
            raise ValidationError(form.errors.as_data())
        services.action_close(
            action=action,
            by=_user(request),
            status=status,
            note=form.cleaned_data.get("note", ""),
            expected_version=form.cleaned_data.get("version"),
        )
    except ConflictError:
        # Someone closed it since the page was shown: the page now shows how.
        messages.error(request, CONFLICT_MESSAGE)
        return redirect(_meeting_url(shown_on, f"action-{action.pk}"))
    except ValidationError as error:
        if form.is_valid():
            service_errors(form, error, {})
        return _meeting_page(
            request, shown_on, Bound(anchor=f"action-{action.pk}", close={action.pk: form})
        )
    messages.success(
        request,
        _("“%(action)s” is done.") % {"action": action}
        if status == ActionStatus.DONE
        else _("“%(action)s” was dropped.") % {"action": action},
    )
    return redirect(_meeting_url(shown_on, f"action-{action.pk}"))


# -- for other pages -------------------------------------------------------------------------


@dataclass
class KpiReview:
    """A meeting that had a KPI on its agenda, with what it decided about it."""

    meeting: Meeting
    decisions: list[DecisionLine]


def kpi_review_lines(kpi: Kpi, currency: str) -> list[KpiReview]:
    """The KPI page's "Reviews": its meetings, newest first, with their decisions."""
    rows = selectors.kpi_reviews(kpi)
    people = people_named_in([decision for row in rows for decision in row["decisions"]])
    return [
        KpiReview(
            meeting=row["meeting"],
            decisions=[
                DecisionLine(decision, decision_words(decision, kpi, people, currency))
                for decision in row["decisions"]
            ],
        )
        for row in rows
    ]


def may_have_review_todo(user: User) -> bool:
    """One cheap question before the four of `todo_for`: is any meeting being prepared or
    held, or any action of this person's open?"""
    return Meeting.objects.filter(
        Q(status__in=TALKING) | Q(actions__owner=user, actions__status=ActionStatus.OPEN)
    ).exists()
