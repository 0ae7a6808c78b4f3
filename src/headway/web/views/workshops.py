"""Workshops: the list, the form to plan one, its page, the live board participants use
from their phones, turning an idea into a proposal, the feedback form and the summary.

Everything is decided and saved by `headway.participation.workshops`; these views read
what people typed, call it, and show the answer beside the field at fault. The board's
list of ideas is a fragment that htmx polls every few seconds while the workshop runs;
the form to add an idea is outside it, so what someone is typing is never lost.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from headway.accounts.models import Organization, Team, User
from headway.accounts.permissions import is_admin, managed_team_ids
from headway.audit.errors import ConflictError
from headway.goals.models import Goal
from headway.kpis.choices import Direction, Grain, Unit
from headway.kpis.models import Kpi
from headway.participation import workshops as service
from headway.participation.models import (
    IdeaKind,
    Proposal,
    ProposalKind,
    Workshop,
    WorkshopIdea,
    WorkshopStatus,
)
from headway.web.forms import HeadwayForm, VersionedForm, posted_text, service_errors
from headway.web.views.common import CONFLICT_MESSAGE, is_htmx, require

# How often the board's list of ideas refreshes itself, in seconds.
BOARD_REFRESH_SECONDS = 4
DATETIME_INPUT = "%Y-%m-%dT%H:%M"


def _user(request: HttpRequest) -> User:
    user = request.user
    assert isinstance(user, User)
    return user


def _zone() -> ZoneInfo:
    return ZoneInfo(Organization.current().timezone or "UTC")


def _people() -> Any:
    return User.objects.filter(is_active=True).order_by("display_name", "email")


def _workshop(pk: int) -> Workshop:
    return get_object_or_404(
        Workshop.objects.select_related("team", "facilitator", "created_by"), pk=pk
    )


def _idea_of(workshop: Workshop, idea_pk: int) -> WorkshopIdea:
    idea = get_object_or_404(
        WorkshopIdea.objects.select_related("author"), pk=idea_pk, workshop=workshop
    )
    idea.workshop = workshop
    return idea


def _errors(error: ValidationError) -> list[str]:
    return [str(message) for message in error.messages]


# -- forms -----------------------------------------------------------------------------------


class WorkshopForm(VersionedForm):
    topic = forms.CharField(label=gettext_lazy("Topic"), max_length=300)
    starts_at = forms.DateTimeField(
        label=gettext_lazy("Date and time"),
        input_formats=[DATETIME_INPUT, "%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S"],
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format=DATETIME_INPUT),
        help_text=gettext_lazy("In the organisation's time zone."),
    )
    location = forms.CharField(label=gettext_lazy("Place or link"), max_length=300, required=False)
    team = forms.ModelChoiceField(
        label=gettext_lazy("Team"),
        queryset=Team.objects.none(),
        required=False,
        empty_label=gettext_lazy("The whole organisation"),
    )
    facilitator = forms.ModelChoiceField(
        label=gettext_lazy("Facilitator"), queryset=User.objects.none()
    )
    goals = forms.ModelMultipleChoiceField(
        label=gettext_lazy("Goals it works on"),
        queryset=Goal.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    agenda = forms.CharField(
        label=gettext_lazy("Agenda"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 5}),
        help_text=gettext_lazy("A few lines: what happens when, and what should come out of it."),
    )
    dots_per_person = forms.IntegerField(
        label=gettext_lazy("Dot votes per person"),
        min_value=1,
        max_value=service.MAX_DOTS,
        initial=3,
        help_text=gettext_lazy("How many dots each participant may put on the ideas."),
    )
    invited = forms.ModelMultipleChoiceField(
        label=gettext_lazy("Invited people"),
        queryset=User.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=gettext_lazy("They are notified when they are invited."),
    )

    def __init__(self, *args: Any, user: User, editing: bool, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not editing:
            del self.fields["version"]
        teams = (
            Team.objects.all()
            if is_admin(user)
            else Team.objects.filter(pk__in=managed_team_ids(user))
        )
        for name, queryset in (
            ("team", teams),
            ("facilitator", _people()),
            ("goals", Goal.objects.order_by("position", "key")),
            ("invited", _people()),
        ):
            field = self.fields[name]
            assert isinstance(field, forms.ModelChoiceField)
            field.queryset = queryset


class IdeaForm(HeadwayForm):
    kind = forms.ChoiceField(
        label=gettext_lazy("What kind of idea?"),
        choices=IdeaKind.choices,
        initial=IdeaKind.KPI_IDEA,
        widget=forms.RadioSelect,
    )
    text = forms.CharField(
        label=gettext_lazy("Your idea"),
        max_length=service.MAX_IDEA,
        widget=forms.Textarea(attrs={"rows": 3}),
    )


class FeedbackForm(HeadwayForm):
    rating = forms.TypedChoiceField(
        label=gettext_lazy("How useful was the workshop? (1 = not at all, 5 = very)"),
        choices=[(number, str(number)) for number in service.RATINGS],
        coerce=int,
        widget=forms.RadioSelect,
    )
    comment = forms.CharField(
        label=gettext_lazy("Comment (optional)"),
        max_length=service.MAX_FEEDBACK,
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=gettext_lazy("What worked, and what should the next workshop do better?"),
    )


def _blank(choices: Any) -> list[tuple[str, Any]]:
    return [("", "—"), *choices]


class ProposalForm(HeadwayForm):
    """The details a proposal made from an idea needs; what fits depends on its kind."""

    kind = forms.ChoiceField(label=gettext_lazy("It proposes"), choices=ProposalKind.choices)
    title = forms.CharField(label=gettext_lazy("Title"), max_length=300)
    why = forms.CharField(
        label=gettext_lazy("Why it matters"), widget=forms.Textarea(attrs={"rows": 4})
    )
    kpi = forms.ModelChoiceField(
        label=gettext_lazy("KPI"),
        queryset=Kpi.objects.none(),
        required=False,
        help_text=gettext_lazy("For a target change or retiring a KPI."),
    )
    goal = forms.ModelChoiceField(
        label=gettext_lazy("Goal it serves"), queryset=Goal.objects.none(), required=False
    )
    team = forms.ModelChoiceField(
        label=gettext_lazy("Team"), queryset=Team.objects.none(), required=False
    )
    kpi_name = forms.CharField(label=gettext_lazy("KPI name"), max_length=300, required=False)
    formula = forms.CharField(
        label=gettext_lazy("Draft formula"),
        max_length=2000,
        required=False,
        help_text=gettext_lazy("Measures combined with + - * /, e.g. won_deals / deals."),
    )
    unit = forms.ChoiceField(label=gettext_lazy("Unit"), choices=(), required=False)
    grain = forms.ChoiceField(label=gettext_lazy("Period"), choices=(), required=False)
    direction = forms.ChoiceField(label=gettext_lazy("Better when"), choices=(), required=False)
    target_value = forms.DecimalField(
        label=gettext_lazy("Suggested target"),
        max_digits=24,
        decimal_places=10,
        required=False,
        help_text=gettext_lazy("For a percentage, type 55 for 55%."),
    )
    effective_from = forms.CharField(
        label=gettext_lazy("From period"),
        max_length=10,
        required=False,
        help_text=gettext_lazy("The first period it applies to: 2026-07, 2026-Q3 or 2026."),
    )

    FIELDS = (
        "title",
        "why",
        "kpi",
        "goal",
        "team",
        "kpi_name",
        "formula",
        "unit",
        "grain",
        "direction",
        "effective_from",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name, queryset in (
            ("kpi", Kpi.objects.filter(is_active=True).order_by("name")),
            ("goal", Goal.objects.order_by("position", "key")),
            ("team", Team.objects.all()),
        ):
            field = self.fields[name]
            assert isinstance(field, forms.ModelChoiceField)
            field.queryset = queryset
        for name, choices in (
            ("unit", Unit.choices),
            ("grain", Grain.choices),
            ("direction", Direction.choices),
        ):
            choice = self.fields[name]
            assert isinstance(choice, forms.ChoiceField)
            choice.choices = _blank(choices)

    def service_fields(self) -> dict[str, Any]:
        data = self.cleaned_data
        fields = {name: data.get(name) for name in self.FIELDS}
        for name in ("kpi_name", "formula", "unit", "grain", "direction", "effective_from"):
            fields[name] = (fields[name] or "").strip()
        value: Decimal | None = data.get("target_value")
        kpi: Kpi | None = data.get("kpi")
        percent = (
            kpi.unit == Unit.PERCENT
            if data.get("kind") != ProposalKind.NEW_KPI and kpi is not None
            else fields["unit"] == Unit.PERCENT
        )
        fields["target_value"] = value / 100 if value is not None and percent else value
        return fields


# -- the list and the form ------------------------------------------------------------------


@login_required
def workshop_list(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    found = service.workshops_for_list()
    context = {
        "coming": [item for item in found if item.status != WorkshopStatus.CLOSED][::-1],
        "past": [item for item in found if item.status == WorkshopStatus.CLOSED],
        "can_create": service.can_create_workshop(user, None),
    }
    return render(request, "web/workshops/list.html", context)


def _form_page(request: HttpRequest, form: WorkshopForm, workshop: Workshop | None) -> HttpResponse:
    with timezone.override(_zone()):
        return render(request, "web/workshops/form.html", {"form": form, "workshop": workshop})


@login_required
def workshop_new(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    require(service.can_create_workshop(user, None))
    form = WorkshopForm(
        request.POST or None,
        user=user,
        editing=False,
        initial={"facilitator": user.pk, "dots_per_person": 3},
    )
    if request.method == "POST":
        with timezone.override(_zone()):
            valid = form.is_valid()
        if valid:
            data = form.cleaned_data
            try:
                workshop = service.workshop_create(
                    by=user,
                    topic=data["topic"],
                    starts_at=data["starts_at"],
                    facilitator=data["facilitator"],
                    team=data["team"],
                    goals=list(data["goals"]),
                    location=data["location"],
                    agenda=data["agenda"],
                    dots_per_person=data["dots_per_person"],
                    invited=list(data["invited"]),
                )
            except ValidationError as error:
                service_errors(form, error, {})
            else:
                messages.success(
                    request,
                    _("The workshop “%(topic)s” is planned; the invited people were notified.")
                    % {"topic": workshop.topic},
                )
                return redirect("web:workshop", pk=workshop.pk)
    return _form_page(request, form, None)


@login_required
def workshop_edit(request: HttpRequest, pk: int) -> HttpResponse:
    user = _user(request)
    workshop = _workshop(pk)
    require(service.can_organise(user, workshop))
    if workshop.status == WorkshopStatus.CLOSED:
        messages.info(request, _("The workshop is closed: it can no longer be changed."))
        return redirect("web:workshop", pk=workshop.pk)
    initial = {
        "topic": workshop.topic,
        "starts_at": workshop.starts_at,
        "location": workshop.location,
        "team": workshop.team_id,
        "facilitator": workshop.facilitator_id,
        "goals": list(workshop.goals.values_list("pk", flat=True)),
        "agenda": workshop.agenda,
        "dots_per_person": workshop.dots_per_person,
        "invited": list(workshop.invitations.values_list("person_id", flat=True)),
        "version": workshop.version,
    }
    form = WorkshopForm(request.POST or None, user=user, editing=True, initial=initial)
    if request.method == "POST":
        with timezone.override(_zone()):
            valid = form.is_valid()
        if valid:
            data = form.cleaned_data
            fields: dict[str, Any] = {
                name: data[name]
                for name in (
                    "topic",
                    "starts_at",
                    "location",
                    "facilitator",
                    "agenda",
                    "dots_per_person",
                )
            }
            if data["team"] != workshop.team:
                fields["team"] = data["team"]
            try:
                workshop = service.workshop_update(
                    workshop=workshop,
                    by=user,
                    expected_version=data["version"],
                    goals=list(data["goals"]),
                    invited=list(data["invited"]),
                    **fields,
                )
            except ConflictError:
                form.add_error(None, CONFLICT_MESSAGE)
            except ValidationError as error:
                service_errors(form, error, {})
            else:
                messages.success(request, _("Your changes to the workshop were saved."))
                return redirect("web:workshop", pk=workshop.pk)
    return _form_page(request, form, workshop)


# -- the workshop's page ----------------------------------------------------------------------


def _rights(user: User, workshop: Workshop) -> dict[str, bool]:
    invited = service.is_invited(user, workshop)
    return {
        "may_organise": service.can_organise(user, workshop),
        "facilitating": service.is_facilitating(user, workshop),
        "invited": invited,
        "may_add_ideas": invited or workshop.facilitator_id == user.pk,
        "may_dot": invited and service.can_dot(user, workshop),
        "may_give_feedback": invited,
    }


@login_required
def workshop_detail(request: HttpRequest, pk: int) -> HttpResponse:
    user = _user(request)
    workshop = _workshop(pk)
    rights = _rights(user, workshop)
    invitations = list(
        workshop.invitations.select_related("person").order_by(
            "person__display_name", "person__email"
        )
    )
    invited_ids = {row.person_id for row in invitations}
    context: dict[str, Any] = {
        "workshop": workshop,
        "goals": list(workshop.goals.order_by("position", "key")),
        "invitations": invitations,
        "not_invited": list(_people().exclude(pk__in=invited_ids))
        if rights["may_organise"]
        else [],
        "my_feedback": service.feedback_of(workshop, user) if rights["invited"] else None,
        **rights,
    }
    with timezone.override(_zone()):
        return render(request, "web/workshops/detail.html", context)


@require_POST
@login_required
def workshop_start(request: HttpRequest, pk: int) -> HttpResponse:
    user = _user(request)
    workshop = _workshop(pk)
    require(service.can_organise(user, workshop))
    try:
        service.workshop_start(workshop=workshop, by=user)
    except ValidationError as error:
        for message in _errors(error):
            messages.error(request, message)
        return redirect("web:workshop", pk=workshop.pk)
    messages.success(request, _("The workshop has started: the board is open for ideas."))
    return redirect("web:workshop_board", pk=workshop.pk)


@require_POST
@login_required
def workshop_close(request: HttpRequest, pk: int) -> HttpResponse:
    user = _user(request)
    workshop = _workshop(pk)
    require(service.can_organise(user, workshop))
    try:
        service.workshop_close(workshop=workshop, by=user)
    except ValidationError as error:
        for message in _errors(error):
            messages.error(request, message)
        return redirect("web:workshop", pk=workshop.pk)
    messages.success(
        request,
        _("The workshop is closed. The participants can still give their feedback."),
    )
    return redirect("web:workshop_summary", pk=workshop.pk)


@require_POST
@login_required
def workshop_invite(request: HttpRequest, pk: int) -> HttpResponse:
    user = _user(request)
    workshop = _workshop(pk)
    require(service.can_organise(user, workshop))
    ids = [value for value in request.POST.getlist("people") if value.isdigit()]
    people = list(_people().filter(pk__in=ids))
    version = request.POST.get("version", "")
    try:
        made = service.workshop_invite(
            workshop=workshop,
            by=user,
            people=people,
            expected_version=int(version) if version.isdigit() else None,
        )
    except ConflictError:
        messages.error(request, CONFLICT_MESSAGE)
    except ValidationError as error:
        for message in _errors(error):
            messages.error(request, message)
    else:
        if made:
            messages.success(
                request,
                _("Invited and notified: %(people)s.")
                % {"people": ", ".join(str(row.person) for row in made)},
            )
        else:
            messages.info(request, _("Choose the people to invite."))
    return redirect(reverse("web:workshop", kwargs={"pk": workshop.pk}) + "#invited")


@require_POST
@login_required
def workshop_attendance(request: HttpRequest, pk: int) -> HttpResponse:
    user = _user(request)
    workshop = _workshop(pk)
    require(service.is_facilitating(user, workshop))
    present = [int(value) for value in request.POST.getlist("present") if value.isdigit()]
    try:
        service.attendance_record(workshop=workshop, by=user, present=present)
    except ValidationError as error:
        for message in _errors(error):
            messages.error(request, message)
    else:
        messages.success(request, _("The attendance was saved."))
    return redirect(reverse("web:workshop", kwargs={"pk": workshop.pk}) + "#invited")


# -- the board ----------------------------------------------------------------------------------


def _board_context(
    request: HttpRequest, workshop: Workshop, *, errors: list[str] | None = None
) -> dict[str, Any]:
    user = _user(request)
    rights = _rights(user, workshop)
    groups = service.idea_board(workshop, user)
    return {
        "workshop": workshop,
        "groups": groups,
        "group_names": sorted({group.name for group in groups if group.name}, key=str.lower),
        "idea_count": sum(len(group.ideas) for group in groups),
        "dots_left": service.my_dots_left(workshop, user) if rights["may_dot"] else None,
        "live": workshop.status in (WorkshopStatus.PLANNED, WorkshopStatus.RUNNING),
        "running": workshop.status == WorkshopStatus.RUNNING,
        "refresh_seconds": BOARD_REFRESH_SECONDS,
        "board_errors": errors or [],
        "proposal_kinds": service.PROPOSAL_KIND_OF_IDEA,
        **rights,
    }


def _board_page(
    request: HttpRequest, workshop: Workshop, form: IdeaForm, errors: list[str] | None = None
) -> HttpResponse:
    context = _board_context(request, workshop, errors=errors)
    context["form"] = form
    with timezone.override(_zone()):
        return render(request, "web/workshops/board.html", context)


def _ideas_fragment(
    request: HttpRequest, workshop: Workshop, errors: list[str] | None = None
) -> HttpResponse:
    return render(
        request, "web/workshops/_ideas.html", _board_context(request, workshop, errors=errors)
    )


@login_required
def workshop_board(request: HttpRequest, pk: int) -> HttpResponse:
    workshop = _workshop(pk)
    return _board_page(request, workshop, IdeaForm())


@login_required
def workshop_ideas(request: HttpRequest, pk: int) -> HttpResponse:
    """The board's list of ideas (htmx polls it). When the workshop has moved on since
    the page was loaded (started or closed), the whole page reloads instead."""
    workshop = _workshop(pk)
    seen = request.GET.get("seen", "")
    if is_htmx(request) and seen and seen != workshop.status:
        response = HttpResponse(status=204)
        response["HX-Refresh"] = "true"
        return response
    return _ideas_fragment(request, workshop)


@require_POST
@login_required
def idea_add(request: HttpRequest, pk: int) -> HttpResponse:
    user = _user(request)
    workshop = _workshop(pk)
    require(service.can_add_ideas(user, workshop))
    form = IdeaForm(request.POST)
    if form.is_valid():
        try:
            service.idea_add(
                workshop=workshop,
                by=user,
                kind=form.cleaned_data["kind"],
                text=form.cleaned_data["text"],
            )
        except ValidationError as error:
            service_errors(form, error, {})
        else:
            if is_htmx(request):
                # A fresh form (keeping the kind chosen) and, out of band, the list.
                fresh = IdeaForm(initial={"kind": form.cleaned_data["kind"]})
                context = _board_context(request, workshop)
                context.update(form=fresh, added=True, with_ideas=True)
                return render(request, "web/workshops/_idea_form.html", context)
            messages.success(request, _("Your idea is on the board."))
            return redirect("web:workshop_board", pk=workshop.pk)
    if is_htmx(request):
        context = _board_context(request, workshop)
        context["form"] = form
        return render(request, "web/workshops/_idea_form.html", context)
    return _board_page(request, workshop, form)


def _after_board_change(
    request: HttpRequest, workshop: Workshop, errors: list[str], done: str
) -> HttpResponse:
    """htmx gets the fresh list (with the error, if any); a plain form post goes back to
    the board with a message."""
    if is_htmx(request):
        return _ideas_fragment(request, workshop, errors)
    for message in errors:
        messages.error(request, message)
    if not errors and done:
        messages.success(request, done)
    return redirect(reverse("web:workshop_board", kwargs={"pk": workshop.pk}) + "#ideas")


def _dotted(
    request: HttpRequest, pk: int, idea_pk: int, change: Callable[..., Any], done: str
) -> HttpResponse:
    """Puts a dot on an idea or takes it back (`change`): the board, with why if refused."""
    user = _user(request)
    workshop = _workshop(pk)
    require(service.can_dot(user, workshop))
    idea = _idea_of(workshop, idea_pk)
    errors: list[str] = []
    try:
        change(idea=idea, by=user)
    except ValidationError as error:
        errors = _errors(error)
    return _after_board_change(request, workshop, errors, done)


@require_POST
@login_required
def dot_add(request: HttpRequest, pk: int, idea_pk: int) -> HttpResponse:
    return _dotted(request, pk, idea_pk, service.dot_add, _("Your dot was added."))


@require_POST
@login_required
def dot_remove(request: HttpRequest, pk: int, idea_pk: int) -> HttpResponse:
    return _dotted(request, pk, idea_pk, service.dot_remove, _("Your dot was taken back."))


@require_POST
@login_required
def idea_group(request: HttpRequest, pk: int, idea_pk: int) -> HttpResponse:
    user = _user(request)
    workshop = _workshop(pk)
    require(service.is_facilitating(user, workshop))
    idea = _idea_of(workshop, idea_pk)
    errors: list[str] = []
    try:
        service.idea_group(idea=idea, by=user, group=posted_text(request.POST, "group"))
    except ValidationError as error:
        errors = _errors(error)
    return _after_board_change(request, workshop, errors, _("The idea was grouped."))


# -- an idea into a proposal ------------------------------------------------------------------


@login_required
def idea_propose(request: HttpRequest, pk: int, idea_pk: int) -> HttpResponse:
    """The proposal made from an idea: the form starts from the idea's words and the
    workshop's team and goal; one submit creates it."""
    user = _user(request)
    workshop = _workshop(pk)
    idea = _idea_of(workshop, idea_pk)
    require(service.can_propose_from(user, idea))
    existing = Proposal.objects.filter(idea=idea).first()
    if existing is not None:
        messages.info(
            request,
            _("This idea is already the proposal “%(title)s”.") % {"title": existing.title},
        )
        return redirect("web:workshop_summary", pk=workshop.pk)
    goals = list(workshop.goals.all()[:2])
    initial = {
        "kind": service.PROPOSAL_KIND_OF_IDEA.get(idea.kind, ProposalKind.NEW_KPI),
        "title": idea.text[:300],
        "why": idea.text,
        "team": workshop.team_id,
        "goal": goals[0].pk if len(goals) == 1 else None,
    }
    form = ProposalForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            proposal = service.idea_to_proposal(
                idea=idea, by=user, kind=form.cleaned_data["kind"], **form.service_fields()
            )
        except ValidationError as error:
            service_errors(form, error, {})
        else:
            messages.success(
                request,
                _("The idea is now the proposal “%(title)s”: everyone can discuss and support it.")
                % {"title": proposal.title},
            )
            return redirect(reverse("web:workshop_board", kwargs={"pk": workshop.pk}) + "#ideas")
    context = {"workshop": workshop, "idea": idea, "form": form}
    return render(request, "web/workshops/propose.html", context)


# -- after it: feedback and the summary -----------------------------------------------------


@login_required
def workshop_feedback(request: HttpRequest, pk: int) -> HttpResponse:
    user = _user(request)
    workshop = _workshop(pk)
    require(service.can_give_feedback(user, workshop))
    given = service.feedback_of(workshop, user)
    form = FeedbackForm(request.POST or None)
    if request.method == "POST" and given is None and form.is_valid():
        try:
            service.feedback_give(
                workshop=workshop,
                by=user,
                rating=form.cleaned_data["rating"],
                comment=form.cleaned_data["comment"],
            )
        except ValidationError as error:
            service_errors(form, error, {})
        else:
            messages.success(request, _("Thank you for your feedback."))
            return redirect("web:workshop", pk=workshop.pk)
    context = {
        "workshop": workshop,
        "form": form,
        "given": given,
        "open": workshop.status != WorkshopStatus.PLANNED,
    }
    return render(request, "web/workshops/feedback.html", context)


@login_required
def workshop_summary(request: HttpRequest, pk: int) -> HttpResponse:
    workshop = _workshop(pk)
    summary = service.workshop_summary(workshop)
    context = {
        "workshop": workshop,
        "summary": summary,
        "goals": list(workshop.goals.order_by("position", "key")),
        "people_with_ideas": len(
            {line.idea.author_id for group in summary.groups for line in group.ideas}
        ),
    }
    with timezone.override(_zone()):
        return render(request, "web/workshops/summary.html", context)
