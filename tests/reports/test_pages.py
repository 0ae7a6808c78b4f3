"""The report in the web UI: the page in both languages, per team, and its downloads."""

from __future__ import annotations

import io

import pytest
from openpyxl import load_workbook

from headway.reports.builder import latest_complete_month
from tests.web.conftest import Org

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "url",
    [
        "/reports/",
        "/reports/2024-03/",
        "/reports/2024-03/report.pdf",
        "/reports/2024-03/report.xlsx",
    ],
)
def test_reports_ask_to_sign_in_first(org: Org, url: str) -> None:
    response = org.client(None).get(url)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_the_nav_links_to_the_latest_complete_months_report(org: Org) -> None:
    client = org.client(org.vic)
    home = client.get("/").content.decode()
    assert 'href="/reports/"' in home
    response = client.get("/reports/")
    assert response.status_code == 302
    assert response["Location"] == f"/reports/{latest_complete_month()}/"


def test_the_report_page_in_english_shows_every_kpi_card_and_the_downloads(org: Org) -> None:
    response = org.client(org.vic).get("/reports/2024-03/")
    assert response.status_code == 200
    page = response.content.decode()
    assert "Monthly report of Test Tea, March 2024" in page
    for text in ("成交率", "營收", "神秘客評分", "62.5%", "TWD 1,253", "Top movers"):
        assert text in page
    assert page.count('<svg class="chart"') == 4
    assert 'href="/reports/2024-03/report.pdf"' in page
    assert 'href="/reports/2024-03/report.xlsx"' in page
    assert 'aria-current="page">Reports<' in page


def test_the_report_page_in_chinese(org: Org) -> None:
    response = org.client(org.vic).get("/reports/2024-03/?language=zh-hant")
    page = response.content.decode()
    assert response.status_code == 200
    assert "Test Tea 2024年3月月報" in page
    assert "進步最多與退步最多" in page
    assert '<article class="report" lang="zh-hant">' in page
    assert 'href="/reports/2024-03/report.pdf?language=zh-hant"' in page


def test_a_teams_report_page_has_only_its_kpis(org: Org) -> None:
    page = org.client(org.sam).get("/reports/2024-03/?team=north").content.decode()
    assert "Monthly report of North, March 2024" in page
    assert "成交率" in page
    assert "營收" not in page


@pytest.mark.parametrize(
    "url",
    [
        "/reports/2024-13/",
        "/reports/2999-01/",
        "/reports/2024-03/?team=west",
        "/reports/2024-03/?language=fr",
        "/reports/2024-13/report.pdf",
        "/reports/2024-03/report.xlsx?team=west",
    ],
)
def test_unknown_periods_teams_and_languages_are_not_found(org: Org, url: str) -> None:
    assert org.client(org.vic).get(url).status_code == 404


def test_the_excel_download(org: Org) -> None:
    response = org.client(org.mo).get("/reports/2024-03/report.xlsx?team=north&language=zh-hant")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/vnd.openxmlformats")
    assert 'filename="headway-report-2024-03-north-zh-hant.xlsx"' in response["Content-Disposition"]
    workbook = load_workbook(io.BytesIO(response.content))
    names = [row[1] for row in workbook["KPI"].iter_rows(min_row=2, values_only=True)]
    assert names == ["成交率", "成交件數"]


@pytest.mark.slow
def test_the_pdf_download(org: Org) -> None:
    response = org.client(org.mo).get("/reports/2024-03/report.pdf")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response.content.startswith(b"%PDF-")
    assert 'filename="headway-report-2024-03-en.pdf"' in response["Content-Disposition"]


def test_a_person_chooses_which_reports_to_receive_and_in_which_language(org: Org) -> None:
    from headway.accounts.models import Team
    from headway.reports.models import ReportSubscription

    north = Team.objects.get(key="north")
    client = org.client(org.mo)
    page = client.get("/me/reports/").content.decode()
    assert 'name="company"' in page
    assert f'name="team-{north.pk}"' in page

    client.post("/me/reports/", {"company": "zh-hant", f"team-{north.pk}": "en"})
    chosen = {
        (item.team_id, item.language) for item in ReportSubscription.objects.filter(user=org.mo)
    }
    assert chosen == {(None, "zh-hant"), (north.pk, "en")}

    client.post("/me/reports/", {"company": "", f"team-{north.pk}": "en"})
    chosen = {
        (item.team_id, item.language) for item in ReportSubscription.objects.filter(user=org.mo)
    }
    assert chosen == {(north.pk, "en")}
