"""Forms that write: goals, KPIs and target versions, each through its service.

Only admins and the managers of a team edit its things: the buttons are hidden from
everyone else, these views answer them with 403, and the services refuse once more.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from headway.accounts.models import Organization, User
from headway.accounts.permissions import (
    can_create_anything,
    can_edit_team_things,
    editable_teams,
    is_admin,
)
from headway.audit.errors import ConflictError
from headway.engine.problems import HeadwayError
from headway.goals.models import Goal
from headway.goals.services import goal_create, goal_update
from headway.kpis.choices import Direction, EntryKind, Grain, Unit
from headway.kpis.models import Kpi
from headway.kpis.services import formula_problems, kpi_create, kpi_update, target_revise
from headway.lib.periods import Grain as PeriodGrain
from headway.lib.periods import period_containing
from headway.reports.formatting import kpi_value_text
from headway.results.manual import manual_results_refresh
from headway.results.selectors import target_history
from headway.results.services import results_recompute
from headway.web import queries
from headway.web.forms import GoalForm, KpiForm, TargetForm, service_errors, text_problems
from headway.web.views.common import CONFLICT_MESSAGE, require


def _user(request: HttpRequest) -> User:
    user = request.user
    assert isinstance(user, User)
    return user


@login_required
def goal_new(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    require(can_create_anything(user))
    form = GoalForm(
        request.POST or None,
        teams=editable_teams(user),
        team_required=not is_admin(user),
        initial={"horizon": "short"},
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            goal = goal_create(
                by=user,
                key=data["key"],
                title=data["title"],
                horizon=data["horizon"],
                team=data["team"],
                owner=data["owner"],
                parent=data["parent"],
                start=data["start"],
                due=data["due"],
                statement=data["statement"],
                description=data["description"],
            )
        except ValidationError as error:
            service_errors(form, error, {})
        else:
            messages.success(request, _("The goal “%(title)s” was created.") % {"title": goal})
            return redirect("web:goal", key=goal.key)
    return render(request, "web/goal_form.html", {"form": form, "goal": None})


@login_required
def goal_edit(request: HttpRequest, key: str) -> HttpResponse:
    user = _user(request)
    goal = get_object_or_404(Goal, key=key)
    require(can_edit_team_things(user, goal.team_id))
    initial = {
        "title": goal.title,
        "horizon": goal.horizon,
        "statement": goal.statement,
        "parent": goal.parent_id,
        "team": goal.team_id,
        "owner": goal.owner_id,
        "start": goal.start,
        "due": goal.due,
        "status": goal.status,
        "description": goal.description,
        "version": goal.version,
    }
    teams = editable_teams(user)
    form = GoalForm(
        request.POST or None,
        initial=initial,
        teams=teams,
        team_required=not is_admin(user),
        goal=goal,
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        fields = {
            name: data[name]
            for name in (
                "title",
                "horizon",
                "statement",
                "parent",
                "owner",
                "start",
                "due",
                "status",
                "description",
            )
        }
        if data["team"] != goal.team:
            fields["team"] = data["team"]
        try:
            goal = goal_update(goal=goal, by=user, expected_version=data["version"], **fields)
        except ConflictError:
            form.add_error(None, CONFLICT_MESSAGE)
        except ValidationError as error:
            service_errors(form, error, {})
        else:
            messages.success(request, _("Your changes to the goal were saved."))
            return redirect("web:goal", key=goal.key)
    return render(request, "web/goal_form.html", {"form": form, "goal": goal})


def _recompute(request: HttpRequest, kpi: Kpi) -> None:
    """Brings the KPI's stored results up to date after a change to it or its targets."""
    if kpi.entry == EntryKind.MANUAL and kpi.is_active:
        manual_results_refresh(kpi=kpi, by=_user(request))
        return
    if kpi.entry != EntryKind.FORMULA or not kpi.is_active:
        return
    try:
        results_recompute(by=_user(request), kpi_keys=(kpi.key,))
    except HeadwayError as error:
        messages.warning(
            request,
            _("Saved, but the values could not be recomputed: %(problem)s")
            % {"problem": "; ".join(problem.message for problem in error.problems)},
        )


@login_required
def kpi_new(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    require(can_create_anything(user))
    form = KpiForm(
        request.POST or None,
        teams=editable_teams(user),
        team_required=not is_admin(user),
        editing=False,
    )
    if request.method == "POST" and form.is_valid():
        try:
            kpi = kpi_create(
                by=user,
                key=form.cleaned_data["key"],
                goals=[(goal, Decimal(1)) for goal in form.cleaned_data["goals"]],
                **form.service_fields(),
            )
        except ValidationError as error:
            service_errors(form, error, KpiForm.SERVICE_NAMES)
        else:
            _recompute(request, kpi)
            messages.success(request, _("The KPI “%(name)s” was created.") % {"name": kpi.name})
            return redirect("web:kpi", key=kpi.key)
    return render(request, "web/kpi_form.html", {"form": form, "kpi": None})


@login_required
def kpi_edit(request: HttpRequest, key: str) -> HttpResponse:
    user = _user(request)
    kpi = get_object_or_404(Kpi, key=key)
    require(can_edit_team_things(user, kpi.team_id))
    weights = {link.goal_id: link.weight for link in kpi.goal_links.all()}
    initial: dict[str, Any] = {
        "name": kpi.name,
        "description": kpi.description,
        "entry": kpi.entry,
        "manual_approval": kpi.manual_approval,
        "formula": kpi.formula,
        "unit": kpi.unit,
        "direction": kpi.direction,
        "grain": kpi.grain,
        "team": kpi.team_id,
        "owner": kpi.owner_id,
        "green_from": format((kpi.threshold_green * 100).normalize(), "f"),
        "amber_from": format((kpi.threshold_amber * 100).normalize(), "f"),
        "goals": list(weights),
        "version": kpi.version,
    }
    form = KpiForm(
        request.POST or None,
        initial=initial,
        teams=editable_teams(user),
        team_required=not is_admin(user),
        editing=True,
    )
    if request.method == "POST" and form.is_valid():
        fields = form.service_fields()
        if fields["team"] == kpi.team:
            # Only a move to another team needs the right to edit that team's things.
            del fields["team"]
        try:
            kpi = kpi_update(
                kpi=kpi,
                by=user,
                expected_version=form.cleaned_data["version"],
                goals=[
                    (goal, weights.get(goal.pk, Decimal(1))) for goal in form.cleaned_data["goals"]
                ],
                **fields,
            )
        except ConflictError:
            form.add_error(None, CONFLICT_MESSAGE)
        except ValidationError as error:
            service_errors(form, error, KpiForm.SERVICE_NAMES)
        else:
            _recompute(request, kpi)
            messages.success(request, _("Your changes to the KPI were saved."))
            return redirect("web:kpi", key=kpi.key)
    return render(request, "web/kpi_form.html", {"form": form, "kpi": kpi})


@login_required
def target_new(request: HttpRequest, key: str) -> HttpResponse:
    user = _user(request)
    kpi = get_object_or_404(Kpi.objects.select_related("team"), key=key)
    require(can_edit_team_things(user, kpi.team_id))
    organization = Organization.current()
    current = period_containing(
        PeriodGrain(kpi.grain),
        queries.organization_today(organization),
        organization.fiscal_year_start,
    )
    dimensions = queries.shared_dimensions(queries.kpi_measures(kpi))
    form = TargetForm(
        request.POST or None,
        initial={"effective_from": current.shift(1).label},
        dimensions=dimensions,
        percent=kpi.unit == Unit.PERCENT,
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            target = target_revise(
                kpi=kpi,
                by=user,
                effective_from=data["effective_from"].strip(),
                value=form.target_value(),
                reason=data["reason"],
                where_dimension=data["where_dimension"],
                where_value=(data["where_value"] or "").strip(),
            )
        except ValidationError as error:
            service_errors(form, error, {})
        else:
            _recompute(request, kpi)
            messages.success(
                request,
                _("The new target, %(value)s from %(period)s, was added to the history.")
                % {
                    "value": kpi_value_text(target.value, kpi.unit, organization.currency),
                    "period": target.effective_from,
                },
            )
            return redirect(reverse("web:kpi", kwargs={"key": kpi.key}) + "#targets")
    context = {"form": form, "kpi": kpi, "history": target_history(kpi)}
    return render(request, "web/target_form.html", context)


@require_POST
@login_required
def formula_check(request: HttpRequest) -> HttpResponse:
    """Checks a formula as it is typed (htmx): its problems, or that it is fine."""
    require(can_create_anything(request.user))
    formula = request.POST.get("formula", "").strip()
    entry = request.POST.get("entry", EntryKind.FORMULA)
    if entry not in EntryKind.values:
        entry = EntryKind.FORMULA
    problems: list[str] = []
    empty = entry == EntryKind.FORMULA and not formula
    if not empty:
        problems = text_problems(formula) or formula_problems(formula, entry)
    return render(
        request,
        "web/_formula_check.html",
        {"problems": problems, "empty": empty, "manual": entry == EntryKind.MANUAL},
    )


def _choice(request: HttpRequest, name: str, choices: list[str], default: str) -> str:
    value = request.POST.get(name, default)
    return value if value in choices else default


@require_POST
@login_required
def kpi_preview(request: HttpRequest) -> HttpResponse:
    """The draft formula computed over the real data for its latest periods (htmx)."""
    require(can_create_anything(request.user))
    formula = request.POST.get("formula", "").strip()
    unit = _choice(request, "unit", Unit.values, Unit.NUMBER)
    grain = _choice(request, "grain", Grain.values, Grain.MONTH)
    direction = _choice(request, "direction", Direction.values, Direction.UP)
    problems: list[str] = []
    values: list[queries.DraftValue] = []
    if request.POST.get("entry") == EntryKind.MANUAL:
        problems.append(_("A KPI entered by hand has no formula to preview."))
    elif not formula:
        problems.append(_("Type a formula to see its values."))
    else:
        problems = text_problems(formula) or formula_problems(formula)
    if not problems:
        try:
            values = queries.draft_values(
                formula=formula, unit=unit, grain=grain, direction=direction
            )
        except HeadwayError as error:
            problems = [problem.message for problem in error.problems]
        if not problems and not values:
            problems.append(_("The data has no periods for this formula yet."))
    organization = queries.organization_of(request)
    currency = organization.currency if organization else ""
    rows = [(value, kpi_value_text(value.value, unit, currency)) for value in values]
    return render(request, "web/_preview.html", {"problems": problems, "rows": rows})
