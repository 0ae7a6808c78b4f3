"""Proposals: the list, the form to propose (a new KPI with its draft formula checked live
against the data, a target change, a retirement), a proposal's page with its effect on the
data, its support, the decision on it, applying it, and its discussion.

Everything is decided and saved by `headway.participation.proposals`; these views read what
people typed, call it, and show its answer beside the field at fault. Who may do what is
`headway.participation.permissions`': the buttons are shown only to those who may press
them, these views answer anyone else with 403, and the services refuse once more.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import Count
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from headway.accounts.models import Organization, Team, User
from headway.audit.errors import ConflictError
from headway.goals.models import Goal
from headway.kpis.choices import Direction, EntryKind, Grain, Unit
from headway.kpis.models import Kpi, TargetVersion
from headway.kpis.services import formula_problems
from headway.lib.periods import Grain as PeriodGrain
from headway.lib.periods import period_containing
from headway.participation import proposals as service
from headway.participation.effects import Effect, proposal_effect
from headway.participation.models import (
    Comment,
    Proposal,
    ProposalKind,
    ProposalStatus,
    SubjectKind,
)
from headway.participation.permissions import can_apply, can_decide, can_propose, can_vote
from headway.participation.selectors import proposal_detail, proposals
from headway.reports.formatting import kpi_value_text
from headway.web import queries
from headway.web.forms import UNKEEPABLE, HeadwayForm, service_errors, text_problems
from headway.web.views.common import CONFLICT_MESSAGE, require
from headway.web.views.discussion import discussion_for

PER_PAGE = 50
REFERENCE_PREFIX = "proposal:"

# The fields of each kind of proposal, in the form's order.
KIND_FIELDS: dict[str, tuple[str, ...]] = {
    ProposalKind.NEW_KPI: (
        "kpi_name",
        "formula",
        "unit",
        "grain",
        "direction",
        "target_value",
        "effective_from",
        "goal",
        "team",
        "title",
        "why",
    ),
    ProposalKind.TARGET_CHANGE: ("kpi", "target_value", "effective_from", "title", "why"),
    ProposalKind.RETIRE_KPI: ("kpi", "title", "why"),
}

# What a decider's choice of status reads as.
STATUS_ACTIONS: dict[str, Any] = {
    ProposalStatus.UNDER_REVIEW: gettext_lazy("Put it under review"),
    ProposalStatus.ACCEPTED: gettext_lazy("Accept it"),
    ProposalStatus.DECLINED: gettext_lazy("Decline it (say why)"),
    ProposalStatus.MERGED: gettext_lazy("Merge it into another proposal"),
    ProposalStatus.OPEN: gettext_lazy("Reopen it"),
}


def _user(request: HttpRequest) -> User:
    user = request.user
    assert isinstance(user, User)
    return user


def _currency(request: HttpRequest) -> str:
    organization = queries.organization_of(request)
    return organization.currency if organization else ""


def _next_period(grain: str) -> str:
    """The period after the current one: the first a new target can still apply to."""
    organization = Organization.current()
    current = period_containing(
        PeriodGrain(grain), queries.organization_today(organization), organization.fiscal_year_start
    )
    return current.shift(1).label


def proposals_behind(history: list[TargetVersion]) -> dict[int, Proposal]:
    """The proposals target versions came from ("proposal:<id>"), by version id: one query,
    none when no version came from a proposal."""
    numbers: dict[int, int] = {}
    for version in history:
        number = version.origin_reference.removeprefix(REFERENCE_PREFIX)
        if version.origin_reference.startswith(REFERENCE_PREFIX) and number.isdigit():
            numbers[version.pk] = int(number)
    if not numbers:
        return {}
    found = Proposal.objects.in_bulk(set(numbers.values()))
    return {pk: found[number] for pk, number in numbers.items() if number in found}


# -- the form -------------------------------------------------------------------------------


class ProposalForm(HeadwayForm):
    """A proposal of one kind. The fields are lenient where the service checks (it names
    the field at fault, in the reader's language); a target of a percent KPI is typed in
    percent, as on the target form."""

    kpi = forms.ModelChoiceField(
        label=gettext_lazy("KPI"),
        queryset=Kpi.objects.none(),
        to_field_name="key",
        required=False,
    )
    kpi_name = forms.CharField(
        label=gettext_lazy("Name of the KPI"), max_length=300, required=False
    )
    formula = forms.CharField(
        label=gettext_lazy("Draft formula"),
        max_length=service.MAX_FORMULA,
        required=False,
        help_text=gettext_lazy(
            "Measures combined with + - * / and prev(measure), e.g. won_deals / leads. It is "
            "checked against the data as you type."
        ),
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
    )
    unit = forms.ChoiceField(label=gettext_lazy("Unit"), choices=Unit.choices, initial=Unit.NUMBER)
    grain = forms.ChoiceField(
        label=gettext_lazy("Period"), choices=Grain.choices, initial=Grain.MONTH
    )
    direction = forms.ChoiceField(
        label=gettext_lazy("Direction"), choices=Direction.choices, initial=Direction.UP
    )
    target_value = forms.DecimalField(
        label=gettext_lazy("New target"),
        max_digits=30,
        decimal_places=10,
        required=False,
        widget=forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off"}),
    )
    effective_from = forms.CharField(
        label=gettext_lazy("From period"),
        max_length=10,
        required=False,
        help_text=gettext_lazy(
            "The first period it applies to: 2026-07, 2026-Q3, 2026-W27 or 2026."
        ),
    )
    goal = forms.ModelChoiceField(
        label=gettext_lazy("Goal it serves"),
        queryset=Goal.objects.none(),
        to_field_name="key",
        required=False,
        empty_label=gettext_lazy("No goal yet"),
    )
    team = forms.ModelChoiceField(
        label=gettext_lazy("Team"),
        queryset=Team.objects.none(),
        to_field_name="key",
        required=False,
        empty_label=gettext_lazy("The whole organisation"),
        help_text=gettext_lazy("Its managers decide on the proposal."),
    )
    title = forms.CharField(
        label=gettext_lazy("Title"), max_length=service.MAX_TITLE, required=False
    )
    why = forms.CharField(
        label=gettext_lazy("Why it matters"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 4, "maxlength": service.MAX_WHY}),
        help_text=gettext_lazy(
            "What it would change for the work and the goals; others read it before they "
            "support it."
        ),
    )
    version = forms.IntegerField(widget=forms.HiddenInput, required=False)

    def __init__(
        self, *args: Any, kind: str, kpi: Kpi | None = None, editing: bool = False, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.kind = kind
        self.fixed_kpi = kpi if editing else None
        wanted = [name for name in KIND_FIELDS[kind] if not (editing and name == "kpi")]
        if editing:
            # A change is made against the version read: never silently over another's.
            wanted.append("version")
            self.fields["version"].required = True
        for name in list(self.fields):
            if name not in wanted:
                del self.fields[name]
        self.order_fields(wanted)
        for name, queryset in (
            ("kpi", Kpi.objects.filter(is_active=True).order_by("name")),
            ("goal", Goal.objects.order_by("position", "key")),
            ("team", Team.objects.order_by("name")),
        ):
            if name in self.fields:
                field = self.fields[name]
                assert isinstance(field, forms.ModelChoiceField)
                field.queryset = queryset
        if "kpi" in self.fields:
            choice = self.fields["kpi"]
            assert isinstance(choice, forms.ModelChoiceField)
            choice.empty_label = gettext_lazy("Choose the KPI")
        if "formula" in self.fields:
            self.fields["formula"].widget.attrs.update(
                {
                    "hx-post": reverse("web:proposal_formula_check"),
                    "hx-trigger": "input changed delay:400ms, load",
                    "hx-target": "#formula-check",
                    "hx-sync": "this:replace",
                    "aria-describedby": "id_formula_helptext formula-check",
                }
            )
        if "target_value" in self.fields:
            value = self.fields["target_value"]
            if kind == ProposalKind.NEW_KPI:
                value.label = gettext_lazy("Suggested target")
                value.help_text = gettext_lazy(
                    "Optional. For a percent KPI type 55 for 55%; name the period it starts from."
                )
            elif kpi is not None and kpi.unit == Unit.PERCENT:
                value.label = gettext_lazy("New target (%)")
                value.help_text = gettext_lazy("In percent: type 55 for 55%.")
            else:
                value.help_text = gettext_lazy("For a percent KPI, type 55 for 55%.")
        if "title" in self.fields and kind != ProposalKind.NEW_KPI and not editing:
            self.fields["title"].help_text = gettext_lazy(
                "Leave it empty for a title made from the KPI and the target."
            )

    def chosen_kpi(self) -> Kpi | None:
        if self.fixed_kpi is not None:
            return self.fixed_kpi
        found = self.cleaned_data.get("kpi")
        return found if isinstance(found, Kpi) else None

    def _percent(self) -> bool:
        if self.kind == ProposalKind.NEW_KPI:
            return self.cleaned_data.get("unit") == Unit.PERCENT
        kpi = self.chosen_kpi()
        return kpi is not None and kpi.unit == Unit.PERCENT

    def target(self) -> Decimal | None:
        value: Decimal | None = self.cleaned_data.get("target_value")
        if value is None:
            return None
        return value / 100 if self._percent() else value

    def service_fields(self, currency: str = "") -> dict[str, Any]:
        """The cleaned data as the service's keyword arguments (without kind and KPI)."""
        data = self.cleaned_data
        fields: dict[str, Any] = {}
        for name in KIND_FIELDS[self.kind]:
            if name == "kpi" or name not in self.fields:
                continue
            value = data.get(name)
            fields[name] = (value or "").strip() if isinstance(value, str) else value
        if "target_value" in fields:
            fields["target_value"] = self.target()
        if "title" in fields and not fields["title"]:
            fields["title"] = self._made_title(currency)
        return fields

    def _made_title(self, currency: str) -> str:
        kpi = self.chosen_kpi()
        if kpi is None or self.kind == ProposalKind.NEW_KPI:
            return ""
        if self.kind == ProposalKind.RETIRE_KPI:
            return _("Retire %(kpi)s") % {"kpi": kpi.name}
        target = self.target()
        period = (self.cleaned_data.get("effective_from") or "").strip()
        if target is None or not period:
            return _("A new target for %(kpi)s") % {"kpi": kpi.name}
        return _("A target of %(value)s for %(kpi)s from %(period)s") % {
            "value": kpi_value_text(target, kpi.unit, currency),
            "kpi": kpi.name,
            "period": period,
        }


def _draft(form: ProposalForm, kind: str, kpi: Kpi | None) -> Proposal:
    """An unsaved proposal of what the form holds (cleaned or not), for its effect."""
    data = form.cleaned_data if hasattr(form, "cleaned_data") else {}
    proposal = Proposal(kind=kind, kpi=kpi)
    if kind == ProposalKind.NEW_KPI:
        proposal.formula = (data.get("formula") or "").strip()
        proposal.unit = data.get("unit") or Unit.NUMBER
        proposal.grain = data.get("grain") or Grain.MONTH
        proposal.direction = data.get("direction") or Direction.UP
    if "target_value" in form.fields and "target_value" in data:
        proposal.target_value = form.target()
    proposal.effective_from = (data.get("effective_from") or "").strip()
    return proposal


# -- the effect, in words ---------------------------------------------------------------------


@dataclass(frozen=True)
class EffectWords:
    """The effect's findings as sentences, and what the values are shown in."""

    current: str = ""
    proposed: str = ""
    realism: str = ""
    draft: str = ""


VERDICTS = {
    "too_hard": gettext_lazy("the target looks too hard"),
    "realistic": gettext_lazy("the target looks realistic"),
    "too_easy": gettext_lazy("the target looks too easy"),
}


def effect_words(effect: Effect, unit: str, currency: str) -> EffectWords:
    def text(value: Any) -> str:
        return kpi_value_text(value, unit, currency) if unit in Unit.values else str(value)

    if effect.kind == ProposalKind.TARGET_CHANGE and effect.periods:
        current = (
            _(
                "The current target of %(target)s was met in %(met)s of the last %(periods)s "
                "complete periods."
            )
            % {
                "target": text(effect.current_target),
                "met": effect.met_current,
                "periods": effect.periods,
            }
            if effect.current_target is not None
            else _("No target is in force for that period yet.")
        )
        proposed = ""
        if effect.proposed_target is not None:
            proposed = _(
                "The proposed target of %(target)s would have been met in %(met)s of the last "
                "%(periods)s complete periods."
            ) % {
                "target": text(effect.proposed_target),
                "met": effect.met_proposed,
                "periods": effect.periods,
            }
        realism = ""
        if effect.realism_proposed is not None:
            realism = _(
                "Realism check of the proposed target: %(verdict)s; a target of %(half)s would "
                "have been met half the time."
            ) % {
                "verdict": VERDICTS[str(effect.realism_proposed.verdict)],
                "half": text(Decimal(str(effect.realism_proposed.half_time_target))),
            }
        return EffectWords(current=current, proposed=proposed, realism=realism)
    if effect.kind == ProposalKind.NEW_KPI and effect.periods:
        draft = _("The draft formula has values for %(periods)s complete periods.") % {
            "periods": effect.periods
        }
        proposed = ""
        if effect.proposed_target is not None:
            proposed = _(
                "The suggested target of %(target)s would have been met in %(met)s of them."
            ) % {"target": text(effect.proposed_target), "met": effect.met_proposed}
        return EffectWords(draft=draft, proposed=proposed)
    return EffectWords()


def _effect_context(proposal: Proposal, request: HttpRequest) -> dict[str, Any]:
    effect = proposal_effect(proposal)
    unit = proposal.kpi.unit if proposal.kpi is not None else proposal.unit
    return {
        "effect": effect,
        "words": effect_words(effect, unit, _currency(request)),
        # What the values are formatted by: the KPI, or the draft (it has a unit too).
        "measured": proposal.kpi if proposal.kpi is not None else proposal,
    }


def _draft_words(proposal: Proposal) -> dict[str, str]:
    """A new KPI's unit, period and direction in words."""
    words: dict[str, str] = {}
    for name, choices in (("unit", Unit), ("grain", Grain), ("direction", Direction)):
        value = getattr(proposal, name) or (Direction.UP if name == "direction" else "")
        words[name] = str(choices(value).label) if value in choices.values else value
    return words


# -- the list --------------------------------------------------------------------------------


def _comment_counts(keys: list[str]) -> dict[str, int]:
    rows = (
        Comment.objects.filter(subject_kind=SubjectKind.PROPOSAL, subject_key__in=keys)
        .values("subject_key")
        .annotate(count=Count("pk"))
    )
    return {row["subject_key"]: row["count"] for row in rows}


@login_required
def proposal_list(request: HttpRequest) -> HttpResponse:
    """Everyone's proposals, newest first, by status and team, with their support."""
    status = request.GET.get("status", "")
    if status not in ProposalStatus.values:
        status = ""
    teams = list(Team.objects.order_by("name"))
    team = next((item for item in teams if item.key == request.GET.get("team")), None)
    found = proposals(status=status or None, team=team)
    page = Paginator(found, PER_PAGE).get_page(request.GET.get("page"))
    rows = list(page.object_list)
    counts = _comment_counts([str(proposal.pk) for proposal in rows])
    for proposal in rows:
        proposal.comment_count = counts.get(str(proposal.pk), 0)  # type: ignore[attr-defined]
    filters = {
        name: value
        for name, value in (("status", status), ("team", team.key if team else ""))
        if value
    }
    context = {
        "rows": rows,
        "page": page,
        "statuses": ProposalStatus.choices,
        "status": status,
        "teams": teams,
        "team": team,
        "filters": filters,
        "query": urlencode(filters),
    }
    return render(request, "web/proposals/list.html", context)


# -- proposing --------------------------------------------------------------------------------


@login_required
def proposal_new(request: HttpRequest) -> HttpResponse:
    """First what kind of proposal, then its form. A KPI's page links here with the KPI
    chosen (`?kpi=<key>`), a goal's page with the goal (`?goal=<key>`)."""
    user = _user(request)
    require(can_propose(user))
    kind = request.POST.get("kind") or request.GET.get("kind", "")
    kpi = Kpi.objects.filter(key=request.GET.get("kpi", ""), is_active=True).first()
    goal = Goal.objects.filter(key=request.GET.get("goal", "")).first()
    if kind not in ProposalKind.values:
        return render(request, "web/proposals/choose.html", {"kpi": kpi, "goal": goal})
    initial: dict[str, Any] = {}
    if kind == ProposalKind.NEW_KPI:
        initial["effective_from"] = _next_period(Grain.MONTH)
        if goal is not None:
            initial["goal"] = goal.key
        # The goal's team decides, or else the proposer's own (when they have one).
        if goal is not None and goal.team is not None:
            initial["team"] = goal.team.key
        else:
            own = list(user.teams.order_by("name")[:2])
            initial["team"] = own[0].key if len(own) == 1 else None
    elif kpi is not None:
        initial["kpi"] = kpi.key
        if kind == ProposalKind.TARGET_CHANGE:
            initial["effective_from"] = _next_period(kpi.grain)
    else:
        initial["effective_from"] = _next_period(Grain.MONTH)
    form = ProposalForm(request.POST or None, kind=kind, kpi=kpi, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            proposal = service.proposal_create(
                by=user,
                kind=kind,
                kpi=form.chosen_kpi(),
                **form.service_fields(_currency(request)),
            )
        except ValidationError as error:
            service_errors(form, error, {})
        else:
            messages.success(
                request,
                _(
                    "Your proposal “%(title)s” is open: colleagues can discuss and support it, "
                    "and the team's managers decide on it."
                )
                % {"title": proposal.title},
            )
            return redirect("web:proposal", pk=proposal.pk)
    context = {"form": form, "kind": kind, "kind_label": ProposalKind(kind).label, "kpi": kpi}
    return render(request, "web/proposals/form.html", context)


@require_POST
@login_required
def proposal_formula_check(request: HttpRequest) -> HttpResponse:
    """Checks a draft formula as it is typed (htmx): its problems, or that it is fine."""
    require(can_propose(request.user))
    formula = request.POST.get("formula", "").strip()
    problems = (
        (text_problems(formula) or formula_problems(formula, EntryKind.FORMULA)) if formula else []
    )
    return render(request, "web/_formula_check.html", {"problems": problems, "empty": not formula})


@require_POST
@login_required
def proposal_preview(request: HttpRequest) -> HttpResponse:
    """What the proposal being written would change, from the data as it is (htmx): the
    draft formula's history, or how often the current and the proposed target were met."""
    require(can_propose(request.user))
    kind = request.POST.get("kind", "")
    if kind not in ProposalKind.values:
        raise Http404
    kpi: Kpi | None = None
    fixed = request.POST.get("fixed_kpi", "")
    if fixed:
        kpi = Kpi.objects.filter(key=fixed).first()
    form = ProposalForm(request.POST, kind=kind, kpi=kpi, editing=bool(fixed))
    form.is_valid()  # what is typed so far; the effect of what parses
    if kpi is None and kind != ProposalKind.NEW_KPI:
        kpi = form.chosen_kpi()
    context: dict[str, Any] = {"preview": True, "problems": []}
    refused = [
        f"{form[name].label}: {message}"
        for name, found in form.errors.items()
        if name in form.fields and any(error.code in UNKEEPABLE for error in found.as_data())
        for message in found
    ]
    if refused:
        # Text no database keeps is not drafted: the preview says which field holds it.
        context["problems"] = refused
    elif kind != ProposalKind.NEW_KPI and kpi is None:
        context["problems"] = [_("Choose the KPI to see what the proposal would change.")]
    elif kind == ProposalKind.NEW_KPI and not (request.POST.get("formula") or "").strip():
        context["problems"] = [_("Type a formula to see its values.")]
    elif kind == ProposalKind.TARGET_CHANGE and form.target() is None:
        context["problems"] = [_("Type the new target to see how often it would have been met.")]
    else:
        context.update(_effect_context(_draft(form, kind, kpi), request))
    return render(request, "web/proposals/_effect.html", context)


# -- a proposal --------------------------------------------------------------------------------


class ProposalChoiceField(forms.ModelChoiceField):  # type: ignore[type-arg]
    def label_from_instance(self, obj: Any) -> str:
        return f"#{obj.pk} {obj.title}"


class StatusForm(HeadwayForm):
    status = forms.ChoiceField(label=gettext_lazy("Decision"), widget=forms.RadioSelect)
    reason = forms.CharField(
        label=gettext_lazy("Reason"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3, "maxlength": service.MAX_REASON}),
        help_text=gettext_lazy(
            "Needed to decline; the author and the supporters read it with the decision."
        ),
    )
    merged_into = ProposalChoiceField(
        label=gettext_lazy("Merge into"),
        queryset=Proposal.objects.none(),
        required=False,
        empty_label="—",
    )
    version = forms.IntegerField(widget=forms.HiddenInput)

    def __init__(self, *args: Any, proposal: Proposal, statuses: list[str], **kwargs: Any) -> None:
        kwargs.setdefault("auto_id", "decide-%s")
        super().__init__(*args, **kwargs)
        status = self.fields["status"]
        assert isinstance(status, forms.ChoiceField)
        status.choices = [(value, STATUS_ACTIONS[value]) for value in statuses]
        merged = self.fields["merged_into"]
        assert isinstance(merged, forms.ModelChoiceField)
        if ProposalStatus.MERGED in statuses:
            merged.queryset = (
                Proposal.objects.exclude(pk=proposal.pk)
                .exclude(status__in=[ProposalStatus.MERGED, ProposalStatus.DECLINED])
                .order_by("-created_at", "-pk")
            )
        else:
            del self.fields["merged_into"]


def _proposal(pk: int) -> Proposal:
    return get_object_or_404(Proposal.objects.select_related("kpi", "author"), pk=pk)


def _page(
    request: HttpRequest,
    proposal: Proposal,
    *,
    status_form: StatusForm | None = None,
    status: int = 200,
) -> HttpResponse:
    user = _user(request)
    detail = proposal_detail(proposal, user)
    proposal = detail.proposal
    if status_form is None and detail.can_decide and detail.next_statuses:
        status_form = StatusForm(
            proposal=proposal,
            statuses=detail.next_statuses,
            initial={"version": proposal.version},
        )
    people = [proposal.author, proposal.kpi.owner if proposal.kpi is not None else None]
    context = {
        "proposal": proposal,
        "draft": _draft_words(proposal),
        "detail": detail,
        "status_form": status_form,
        "target_version": proposal.applied_target,
        "discussion": discussion_for(
            request,
            SubjectKind.PROPOSAL,
            str(proposal.pk),
            people=people,
        ),
        "viewer_may_vote": can_vote(user),
        **_effect_context(proposal, request),
    }
    return render(request, "web/proposals/detail.html", context, status=status)


@login_required
def proposal_page(request: HttpRequest, pk: int) -> HttpResponse:
    return _page(request, get_object_or_404(Proposal, pk=pk))


@login_required
def proposal_edit(request: HttpRequest, pk: int) -> HttpResponse:
    """The author changes their proposal while it is open (not its kind or KPI)."""
    user = _user(request)
    proposal = _proposal(pk)
    require(proposal.author_id == user.pk)
    if proposal.status != ProposalStatus.OPEN:
        messages.error(
            request,
            _("Only an open proposal can be changed; this one is %(status)s.")
            % {"status": str(proposal.get_status_display()).lower()},
        )
        return redirect("web:proposal", pk=proposal.pk)
    kpi = proposal.kpi
    percent = (
        proposal.unit == Unit.PERCENT
        if proposal.kind == ProposalKind.NEW_KPI
        else kpi is not None and kpi.unit == Unit.PERCENT
    )
    value = proposal.target_value
    if value is not None:
        value = (value * 100 if percent else value).normalize()
    initial = {
        "title": proposal.title,
        "why": proposal.why,
        "goal": proposal.goal.key if proposal.goal_id and proposal.goal else None,
        "team": proposal.team.key if proposal.team_id and proposal.team else None,
        "kpi_name": proposal.kpi_name,
        "formula": proposal.formula,
        "unit": proposal.unit,
        "grain": proposal.grain,
        "direction": proposal.direction,
        "target_value": format(value, "f") if value is not None else "",
        "effective_from": proposal.effective_from,
        "version": proposal.version,
    }
    form = ProposalForm(
        request.POST or None, kind=proposal.kind, kpi=kpi, editing=True, initial=initial
    )
    if request.method == "POST" and form.is_valid():
        fields = form.service_fields(_currency(request))
        try:
            proposal = service.proposal_update(
                proposal=proposal,
                by=user,
                expected_version=form.cleaned_data.get("version"),
                **fields,
            )
        except ConflictError:
            form.add_error(None, CONFLICT_MESSAGE)
        except ValidationError as error:
            service_errors(form, error, {})
        else:
            messages.success(request, _("Your changes to the proposal were saved."))
            return redirect("web:proposal", pk=proposal.pk)
    context = {
        "form": form,
        "kind": proposal.kind,
        "kind_label": proposal.get_kind_display(),
        "kpi": kpi,
        "proposal": proposal,
    }
    return render(request, "web/proposals/form.html", context)


@require_POST
@login_required
def proposal_vote(request: HttpRequest, pk: int) -> HttpResponse:
    """Support a proposal, or withdraw one's support."""
    user = _user(request)
    proposal = _proposal(pk)
    require(can_vote(user))
    withdraw = request.POST.get("support") == "withdraw"
    try:
        if withdraw:
            service.vote_withdraw(proposal=proposal, by=user)
        else:
            service.vote_add(proposal=proposal, by=user)
    except ValidationError as error:
        for message in error.messages:
            messages.error(request, message)
    else:
        messages.success(
            request,
            _("You no longer support this proposal.")
            if withdraw
            else _("You support this proposal."),
        )
    return redirect(reverse("web:proposal", kwargs={"pk": proposal.pk}) + "#support")


@require_POST
@login_required
def proposal_status(request: HttpRequest, pk: int) -> HttpResponse:
    """An admin or a manager of the proposal's team (never its author) decides on it."""
    user = _user(request)
    proposal = _proposal(pk)
    require(can_decide(user, proposal))
    detail = proposal_detail(proposal, user)
    form = StatusForm(request.POST, proposal=proposal, statuses=detail.next_statuses)
    if form.is_valid():
        data = form.cleaned_data
        try:
            proposal = service.proposal_set_status(
                proposal=proposal,
                by=user,
                status=data["status"],
                reason=data["reason"],
                merged_into=data.get("merged_into"),
                expected_version=data["version"],
            )
        except ConflictError:
            form.add_error(None, CONFLICT_MESSAGE)
        except ValidationError as error:
            service_errors(form, error, {})
        else:
            messages.success(
                request,
                _("The proposal is now %(status)s.")
                % {"status": str(proposal.get_status_display()).lower()},
            )
            return redirect(reverse("web:proposal", kwargs={"pk": proposal.pk}) + "#decision")
    return _page(request, proposal, status_form=form)


@require_POST
@login_required
def proposal_apply(request: HttpRequest, pk: int) -> HttpResponse:
    """Writes an accepted proposal through the KPI services."""
    user = _user(request)
    proposal = _proposal(pk)
    require(can_apply(user, proposal))
    try:
        proposal = service.proposal_apply(proposal=proposal, by=user)
    except ValidationError as error:
        for message in error.messages:
            messages.error(request, message)
    else:
        messages.success(request, _("The proposal was applied."))
    return redirect(reverse("web:proposal", kwargs={"pk": proposal.pk}) + "#decision")
