"""Pages that read: the goal tree, a KPI, a goal, a team, my KPIs, and a number explained."""

from __future__ import annotations

import datetime
import hashlib
from dataclasses import dataclass
from functools import cache
from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.cache import cache as django_cache
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.template.loader import render_to_string
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from headway.accounts.models import Organization, Team, User
from headway.changes.generations import current
from headway.engine.explain import Explanation
from headway.engine.problems import HeadwayError
from headway.goals.models import Goal
from headway.ingestion.freshness import kpi_data_freshness
from headway.kpis.choices import EntryKind
from headway.kpis.models import Kpi, Measure
from headway.participation.comments import subject_check
from headway.participation.models import Proposal, SubjectKind
from headway.participation.selectors import kpi_proposals
from headway.reports.formatting import kpi_sentence, measure_sentence, period_name
from headway.reports.kpi_charts import (
    forecast_band,
    kpi_analysis,
    kpi_chart_svg,
    kpi_data_version,
)
from headway.results import selectors
from headway.results.analysis import KpiAnalysis
from headway.results.models import Result
from headway.results.selectors import SPARKLINE_PERIODS, KpiCard
from headway.reviews import selectors as reviews
from headway.web import queries
from headway.web.page_cache import cached_page
from headway.web.views.common import is_htmx
from headway.web.views.discussion import discussion_for
from headway.web.views.proposals import proposals_behind
from headway.web.views.reviews import kpi_review_lines, may_have_review_todo

BREAKDOWN_PERIODS = 6


def _currency(request: HttpRequest) -> str:
    organization = queries.organization_of(request)
    return organization.currency if organization else ""


@login_required
@cached_page
def home(request: HttpRequest) -> HttpResponse:
    user = request.user
    assert isinstance(user, User)
    organization = queries.organization_of(request) or Organization.current()
    # The goal tree is read only when its cached HTML is missing (the template calls
    # these): with 500 KPIs it is most of a second of reading and rendering.
    tree = cache(selectors.goal_tree)
    # The person's review to-dos (comments, actions, approvals), above the goals.
    todo = reviews.todo_for(user) if may_have_review_todo(user) else None
    context: dict[str, Any] = {
        "roots": lambda: tree()[0],
        "unlinked": lambda: tree()[1],
        "lists_version": queries.kpi_lists_version(organization),
        "lists_seconds": queries.LIST_CACHE_SECONDS,
        "todo": todo,
    }
    if todo:  # actions past their day are marked overdue
        context["today"] = queries.organization_today(organization)
    return render(request, "web/home.html", context)


@login_required
def my_kpis(request: HttpRequest) -> HttpResponse:
    cards = selectors.my_kpis(request.user)  # type: ignore[arg-type]
    teams = list(request.user.teams.order_by("name"))  # type: ignore[union-attr]
    return render(request, "web/me.html", {"cards": cards, "teams": teams})


@login_required
@cached_page
def goal_detail(request: HttpRequest, key: str) -> HttpResponse:
    goal = get_object_or_404(Goal.objects.select_related("owner", "team", "parent"), key=key)
    context = {
        "goal": goal,
        "ancestors": queries.goal_ancestors(goal),
        "children": list(goal.children.select_related("team").order_by("position", "key")),
        "cards": selectors.kpis_of_goal(goal),
        # New KPIs proposed for the goal, and its discussion.
        "proposals": list(
            Proposal.objects.filter(goal=goal).select_related("author").order_by("-created_at")
        ),
        "discussion": discussion_for(request, SubjectKind.GOAL, goal.key, people=[goal.owner]),
    }
    return render(request, "web/goal_detail.html", context)


@login_required
@cached_page
def team_detail(request: HttpRequest, key: str) -> HttpResponse:
    team = get_object_or_404(Team.objects.select_related("parent"), key=key)
    context = {
        "team": team,
        "ancestors": list(reversed(team.ancestors())),
        "children": list(team.children.order_by("name")),
        "memberships": queries.team_memberships(team),
        "goals": list(Goal.objects.filter(team=team).order_by("position", "key")),
        # Read only when the cached HTML of the team's KPI table is missing.
        "cards": cache(lambda: selectors.kpis_of_team(team)),
        "lists_version": queries.kpi_lists_version(
            queries.organization_of(request) or Organization.current()
        ),
        "lists_seconds": queries.LIST_CACHE_SECONDS,
    }
    return render(request, "web/team_detail.html", context)


@dataclass(frozen=True)
class MeasureLine:
    name: str
    words: str
    filter: str


def _measure_lines(measures: list[Measure]) -> list[MeasureLine]:
    return [
        MeasureLine(
            name=measure.name,
            words=measure_sentence(
                agg=measure.agg,
                column=measure.column,
                dataset=measure.dataset.key,
                filter_text=measure.filter,
                time_column=measure.time_column or measure.dataset.time_column,
            ),
            filter=measure.filter,
        )
        for measure in measures
    ]


def _breakdown(
    kpi: Kpi, dimensions: list[str], wanted: str | None
) -> queries.BreakdownTable | None:
    if not dimensions:
        return None
    if wanted not in dimensions:
        wanted = "team" if "team" in dimensions else dimensions[0]
    assert wanted is not None
    labels = queries.team_names() if wanted == "team" else None
    return queries.breakdown_table(
        wanted,
        selectors.breakdown(kpi, wanted, periods=SPARKLINE_PERIODS),
        last=BREAKDOWN_PERIODS,
        labels=labels,
    )


@login_required
@cached_page
def kpi_detail(request: HttpRequest, key: str) -> HttpResponse:
    kpi = get_object_or_404(Kpi.objects.select_related("team", "owner"), key=key)
    currency = _currency(request)
    # The organisation as read once for the request (the currency came from it too).
    organization = queries.organization_of(request) or Organization.current()
    participation = _kpi_participation(request, kpi)
    shared = _kpi_shared(request, kpi, organization, currency, participation)
    context = {"kpi": kpi, "shared": shared, **participation}
    return render(request, "web/kpi_detail.html", context)


@dataclass(frozen=True)
class KpiShared:
    """The parts of a KPI page around its discussions, as HTML: the same for everyone
    who may edit the KPI, and for everyone who may not."""

    upper: SafeString
    choice: SafeString
    lower: SafeString


def _kpi_shared(
    request: HttpRequest,
    kpi: Kpi,
    organization: Organization,
    currency: str,
    participation: dict[str, Any],
) -> KpiShared:
    """Everything on a KPI page but the discussions (whose hidden comments and buttons
    depend on the person): the core, target history, reviews, proposals, the period
    choice, freshness and "explain". Cached under the data's generation (any write moves
    it), the organisation's today, the language, the currency, the period discussed and
    whether the person may edit the KPI; rendered afresh when the generations cannot be
    read or another breakdown than the first is asked for (?by=)."""
    may_edit = queries.rights_of(request).can_edit(kpi.team_id)
    generations = current()
    cache_key = None
    if generations is not None and request.GET.get("by") is None:
        parts = (
            currency,
            participation["discussed_period"],
            participation.get("period_problem", ""),
            may_edit,
            queries.organization_today(organization),
        )
        digest = hashlib.sha256(repr(parts).encode()).hexdigest()[:16]
        cache_key = f"kpi-shared:{kpi.pk}:{generations.data}:{get_language()}:{digest}"
        found = django_cache.get(cache_key)
        if isinstance(found, KpiShared):
            return found
    history = selectors.target_history(kpi)
    data = kpi_data_freshness(kpi)
    core = _kpi_core(
        request, kpi, organization, currency, history, data, participation["discussed_period"]
    )
    context = {
        "kpi": kpi,
        "core": core.html,
        "recompute_refusal": selectors.recompute_refusal(kpi),
        "history": history,
        "changes": reviews.target_changes(history),
        "reviews": kpi_review_lines(kpi, currency),
        "goals": list(kpi.goals.order_by("position", "key")),
        "latest": core.latest,
        "periods": core.periods,
        "data": data,
        "proposal_links": proposals_behind(history),
        **participation,
    }
    shared = KpiShared(
        *(
            mark_safe(render_to_string(f"web/_kpi_{part}.html", context, request))  # noqa: S308
            for part in ("upper", "choice", "lower")
        )
    )
    if cache_key is not None:
        django_cache.set(cache_key, shared)
    return shared


@dataclass(frozen=True)
class KpiCore:
    """What a KPI's data version decides on its page: the summary, definition, analysis,
    chart, values per period and breakdown as HTML, and what the rest of the page needs
    of the results."""

    html: SafeString
    latest: Result | None
    periods: list[str]


def _kpi_core(
    request: HttpRequest,
    kpi: Kpi,
    organization: Organization,
    currency: str,
    history: list[Any],
    data: list[Any],
    discussed_period: str,
) -> KpiCore:
    """The cached core of a KPI page. Rendering it (the forecast, the chart, 60 rows of
    formatted numbers, the breakdown) is most of a warm page's time, and all of it follows
    from what `kpi_data_version` digests (results, targets, the KPI, its measures, the
    teams, the calendar and today) plus the language, the currency and the period whose
    row is marked; another breakdown than the first (?by=) is rendered afresh."""
    by = request.GET.get("by")
    version = kpi_data_version(kpi)
    cache_key = (
        f"kpi-core:{kpi.pk}:{version}:{get_language()}:"
        f"{hashlib.sha256(f'{currency}|{discussed_period}'.encode()).hexdigest()[:16]}"
    )
    if by is None:
        found = django_cache.get(cache_key)
        if isinstance(found, KpiCore):
            return found
    today = queries.organization_today(organization)
    results = [result for result in selectors.series(kpi) if result.period_start <= today]
    dimensions = selectors.breakdown_dimensions(kpi)
    card = KpiCard(
        kpi=kpi,
        latest=results[-1] if results else None,
        previous=results[-2] if len(results) > 1 else None,
        history=results,
        stale=[item for item in data if item.stale],
    )
    total_targets = [version for version in history if not version.where_dimension]
    analysis = kpi_analysis(kpi, version=version) if results else None
    definition = ""
    if kpi.entry == EntryKind.FORMULA:
        definition = kpi_sentence(
            name=kpi.name,
            formula=kpi.formula,
            grain=kpi.grain,
            unit=kpi.unit,
            direction=kpi.direction,
            currency=currency,
        )
    context = {
        "kpi": kpi,
        "card": card,
        "rows": list(reversed(results)),
        "definition": definition,
        "measures": _measure_lines(queries.kpi_measures(kpi)),
        "dimensions": dimensions,
        "breakdown": _breakdown(kpi, dimensions, by),
        "chart": kpi_chart_svg(
            kpi,
            results,
            total_targets,
            currency,
            band=forecast_band(analysis),
            anomalies=analysis.anomalies if analysis is not None else (),
        ),
        "analysis": analysis,
        "insights": _insights(analysis),
        "latest": card.latest,
        "discussed_period": discussed_period,
    }
    core = KpiCore(
        html=mark_safe(render_to_string("web/_kpi_core.html", context, request)),  # noqa: S308
        latest=card.latest,
        periods=[result.period for result in reversed(results)],
    )
    if by is None:
        django_cache.set(cache_key, core)
    return core


def _kpi_participation(request: HttpRequest, kpi: Kpi) -> dict[str, Any]:
    """The KPI's proposals, its discussion and, with `?period=<label>`, the discussion of
    that period's result."""
    proposals = list(kpi_proposals(kpi))
    people = [kpi.owner, *(proposal.author for proposal in proposals)]
    context: dict[str, Any] = {
        "proposals": proposals,
        "discussion": discussion_for(request, SubjectKind.KPI, kpi.key, people=people),
        "period_discussion": None,
        "discussed_period": "",
    }
    label = (request.GET.get("period") or "").strip()
    if label:
        try:
            key = subject_check(SubjectKind.RESULT, f"{kpi.key}@{label}")
        except ValidationError:
            context["period_problem"] = _("%(label)s is not a period of this KPI.") % {
                "label": label
            }
        else:
            period = key.partition("@")[2]
            context["discussed_period"] = period
            context["period_discussion"] = discussion_for(
                request,
                SubjectKind.RESULT,
                key,
                title=_("Discussion of %(period)s") % {"period": period_name(period)},
                people=people,
                anchor="period-discussion",
            )
    return context


def _insights(analysis: KpiAnalysis | None) -> list[str]:
    if analysis is None:
        return []
    chinese = (get_language() or "").lower().startswith("zh")
    return list(analysis.insights_zh if chinese else analysis.insights_en)


@login_required
def kpi_breakdown(request: HttpRequest, key: str) -> HttpResponse:
    """The breakdown table for another dimension (a fragment for htmx, else the page)."""
    if not is_htmx(request):
        return kpi_detail(request, key)
    kpi = get_object_or_404(Kpi, key=key)
    dimensions = selectors.breakdown_dimensions(kpi)
    context = {
        "kpi": kpi,
        "dimensions": dimensions,
        "breakdown": _breakdown(kpi, dimensions, request.GET.get("by")),
    }
    return render(request, "web/_breakdown.html", context)


@dataclass(frozen=True)
class InputLine:
    measure: str
    period: str
    periods_back: int
    value: float | int | None
    stored: Any


def _inputs(facts: Explanation, stored: Result | None) -> list[InputLine]:
    saved = stored.measures if stored is not None else {}
    lines = []
    for item in facts.inputs:
        label = item.measure if not item.periods_back else f"{item.measure}@{item.period.label}"
        lines.append(
            InputLine(
                measure=item.measure,
                period=item.period.label,
                periods_back=item.periods_back,
                value=item.value,
                stored=saved.get(label),
            )
        )
    return lines


@login_required
def kpi_explain(request: HttpRequest, key: str) -> HttpResponse:
    """Every number can be explained: the measures and their values, the filters, the
    period's bounds in local time and the query, for one period of the KPI."""
    kpi = get_object_or_404(Kpi.objects.select_related("team"), key=key)
    period = (request.GET.get("period") or "").strip() or None
    facts: Explanation | None = None
    problems: list[str] = []
    if kpi.entry == EntryKind.MANUAL:
        problems.append(_("This KPI is entered by hand: no query computes it."))
    elif not kpi.is_active:
        problems.append(_("This KPI is retired: it is no longer computed."))
    else:
        try:
            facts = queries.explanation(kpi.key, period)
        except HeadwayError as error:
            problems.extend(problem.message for problem in error.problems)
    label = facts.period.label if facts is not None else period
    stored = (
        Result.objects.filter(kpi=kpi, group_dimension="", period=label).first() if label else None
    )
    measures = []
    if facts is not None:
        measures = [
            MeasureLine(
                name=measure.name,
                words=measure_sentence(
                    agg=measure.spec.agg.value,
                    column=measure.spec.column or "",
                    dataset=measure.spec.dataset,
                    filter_text=measure.filter.text if measure.filter else "",
                    time_column=measure.time_column,
                ),
                filter=measure.filter.text if measure.filter else "",
            )
            for measure, _words in facts.measures
        ]
    context = {
        "kpi": kpi,
        "facts": facts,
        "local_start": datetime.datetime.fromisoformat(facts.local_start) if facts else None,
        "local_end": datetime.datetime.fromisoformat(facts.local_end) if facts else None,
        "problems": problems,
        "period": label,
        "stored": stored,
        "measures": measures,
        "inputs": _inputs(facts, stored) if facts is not None else [],
    }
    template = "web/_explain.html" if is_htmx(request) else "web/kpi_explain.html"
    return render(request, template, context)
