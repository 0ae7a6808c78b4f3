"""The monthly report: as a page of the site, and as PDF and Excel downloads.

Every signed-in person may read every report (Headway shows all KPIs to everyone signed
in). The views only turn the request into the builder's arguments and hand the report to
a renderer; an unknown period, team or language is a 404.
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import get_language

from headway.engine.problems import HeadwayError
from headway.reports.builder import (
    Report,
    build_report,
    latest_complete_month,
    report_team,
    report_teams,
)
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
