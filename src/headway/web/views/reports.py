"""The monthly report: as a page of the site, and as PDF and Excel downloads.

Every signed-in person may read every report (Headway shows all KPIs to everyone signed
in). The views only turn the request into the builder's arguments and hand the report to
a renderer; an unknown period, team or language is a 404.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from headway.accounts.choices import Language
from headway.accounts.models import Team, User
from headway.engine.problems import HeadwayError
from headway.reports.builder import (
    Report,
    build_report,
    latest_complete_month,
    report_team,
    report_teams,
)
from headway.reports.delivery import subscription_remove, subscription_set
from headway.reports.models import ReportSubscription
from headway.reports.render import (
    report_body_html,
    report_filename,
    report_pdf,
    report_style,
    report_xlsx,
)

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _report(request: HttpRequest, period: str) -> Report:
    try:
        return build_report(
            period=period,
            team=report_team(request.GET.get("team")),
            language=request.GET.get("language") or get_language(),
        )
    except HeadwayError as error:
        raise Http404(str(error)) from None


def _download(report: Report, content: bytes, content_type: str, extension: str) -> HttpResponse:
    response = HttpResponse(content, content_type=content_type)
    filename = report_filename(report, extension)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@login_required
def report_latest(request: HttpRequest) -> HttpResponse:
    """The report of the last month that has ended."""
    return redirect("web:report", period=latest_complete_month())


@login_required
def report_page(request: HttpRequest, period: str) -> HttpResponse:
    report = _report(request, period)
    context = {
        "report": report,
        "body": report_body_html(report),
        "style": report_style(),
        "teams": report_teams(),
        "query": request.GET.urlencode(),
    }
    return render(request, "web/report.html", context)


@login_required
def report_pdf_download(request: HttpRequest, period: str) -> HttpResponse:
    report = _report(request, period)
    return _download(report, report_pdf(report), "application/pdf", "pdf")


@login_required
def report_xlsx_download(request: HttpRequest, period: str) -> HttpResponse:
    report = _report(request, period)
    return _download(report, report_xlsx(report), XLSX_TYPE, "xlsx")


@dataclass(frozen=True)
class SubscriptionLine:
    """One report a person may receive: the company's or a team's, and in which language."""

    field: str
    label: str
    team: Team | None
    language: str


def _subscription_lines(user: User) -> list[SubscriptionLine]:
    chosen = {
        subscription.team_id: subscription.language
        for subscription in ReportSubscription.objects.filter(user=user)
    }
    lines = [SubscriptionLine("company", _("The whole company"), None, chosen.get(None, ""))]
    for team in Team.objects.order_by("name"):
        lines.append(SubscriptionLine(f"team-{team.pk}", team.name, team, chosen.get(team.pk, "")))
    return lines


@login_required
def report_subscriptions(request: HttpRequest) -> HttpResponse:
    """Which monthly reports the person receives by e-mail, and in which language."""
    user = request.user
    assert isinstance(user, User)
    lines = _subscription_lines(user)
    if request.method == "POST":
        codes = {code for code, _name in Language.choices}
        for line in lines:
            wanted = request.POST.get(line.field, "")
            if wanted == line.language:
                continue
            if wanted in codes:
                subscription_set(user=user, team=line.team, language=wanted, by=user)
            else:
                subscription_remove(user=user, team=line.team, by=user)
        messages.success(request, _("Your choice of reports was saved."))
        return redirect("web:report_subscriptions")
    context = {"lines": lines, "language_choices": Language.choices, "current": "report"}
    return render(request, "web/report_subscriptions.html", context)
