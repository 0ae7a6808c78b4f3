"""The web UI's pages. Signing in and passwords are in `auth_urls` (at /accounts/)."""

from __future__ import annotations

from django.urls import path

from headway.web.views import account, data, editing, manual, pages, reports, sources, tokens

app_name = "web"

urlpatterns = [
    path("", pages.home, name="home"),
    path("me/", pages.my_kpis, name="me"),
    path("language/", account.language, name="language"),
    path("me/tokens/", tokens.token_list, name="tokens"),
    path("data/", data.dataset_list, name="datasets"),
    path("data/<slug:key>/", data.dataset_detail, name="dataset"),
    path("data/<slug:key>/import/", data.import_upload, name="import_upload"),
    path("data/<slug:key>/source/", sources.source_edit, name="source_edit"),
    path("data/<slug:key>/sync/", sources.source_sync_now, name="source_sync"),
    path("data/<slug:key>/status/", sources.dataset_status, name="dataset_status"),
    path("data/<slug:key>/import/<slug:token>/", data.import_preview, name="import_preview"),
    path(
        "data/<slug:key>/imports/<int:pk>/rejected.csv",
        data.rejected_csv,
        name="import_rejected",
    ),
    path("me/tokens/<int:pk>/revoke/", tokens.token_revoke_view, name="token_revoke"),
    path("goals/new/", editing.goal_new, name="goal_new"),
    path("goals/<slug:key>/", pages.goal_detail, name="goal"),
    path("goals/<slug:key>/edit/", editing.goal_edit, name="goal_edit"),
    path("teams/<slug:key>/", pages.team_detail, name="team"),
    path("reports/", reports.report_latest, name="reports"),
    path("me/reports/", reports.report_subscriptions, name="report_subscriptions"),
    path("reports/<str:period>/", reports.report_page, name="report"),
    path("reports/<str:period>/report.pdf", reports.report_pdf_download, name="report_pdf"),
    path("reports/<str:period>/report.xlsx", reports.report_xlsx_download, name="report_xlsx"),
    path("kpis/new/", editing.kpi_new, name="kpi_new"),
    path("kpis/formula-check/", editing.formula_check, name="formula_check"),
    path("kpis/preview/", editing.kpi_preview, name="kpi_preview"),
    path("kpis/<str:key>/", pages.kpi_detail, name="kpi"),
    path("kpis/<str:key>/edit/", editing.kpi_edit, name="kpi_edit"),
    path("kpis/<str:key>/breakdown/", pages.kpi_breakdown, name="kpi_breakdown"),
    path("kpis/<str:key>/explain/", pages.kpi_explain, name="kpi_explain"),
    path("kpis/<str:key>/targets/new/", editing.target_new, name="target_new"),
    path("kpis/<str:key>/values/", manual.kpi_values, name="kpi_values"),
    path(
        "kpis/<str:key>/values/<int:pk>/decision/",
        manual.kpi_value_decision,
        name="kpi_value_decision",
    ),
]
