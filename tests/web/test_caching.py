"""Charts, analyses and the lists of KPIs are cached, and a change of what they show (a
recompute, a new target, a new KPI, another language) is never answered from the cache.
The bare view for load balancers answers without a session or a query."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from django.core.cache import cache
from django.db import connection
from django.test import Client, override_settings
from django.test.utils import CaptureQueriesContext

from headway.kpis.models import Kpi
from headway.kpis.services import kpi_create, kpi_update, target_revise
from headway.reports.kpi_charts import kpi_analysis, kpi_data_version
from headway.results.models import Result
from headway.results.services import results_recompute
from tests.web.conftest import Org

pytestmark = pytest.mark.django_db

MEMORY = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}


@pytest.fixture(autouse=True)
def memory_cache() -> Iterator[None]:
    with override_settings(CACHES=MEMORY):
        cache.clear()
        yield
        cache.clear()


def chart_of(client: Client, key: str) -> str:
    response = client.get(f"/kpis/{key}/")
    assert response.status_code == 200
    found = re.search(r'<svg class="chart".*?</svg>', response.content.decode(), re.S)
    assert found is not None
    return found.group(0)


def read_queries(client: Client, url: str) -> int:
    with CaptureQueriesContext(connection) as context:
        assert client.get(url).status_code == 200
    return len(context.captured_queries)


def test_the_health_check_answers_ok_without_a_session_or_a_query(client: Client) -> None:
    with CaptureQueriesContext(connection) as context:
        response = client.get("/healthz", HTTP_HOST="localhost")
    assert response.status_code == 200
    assert response.content == b"ok"
    assert response["Content-Type"].startswith("text/plain")
    assert "sessionid" not in response.cookies
    assert context.captured_queries == []


def test_the_health_check_refuses_a_post(client: Client) -> None:
    assert client.post("/healthz", HTTP_HOST="localhost").status_code == 405


def test_a_second_view_of_a_kpi_page_reads_its_analysis_from_the_cache(org: Org) -> None:
    client = org.client(org.ada)
    first = read_queries(client, "/kpis/win_rate/")
    second = read_queries(client, "/kpis/win_rate/")
    # The analysis reads the KPI's results, targets, measures, teams and organisation
    # again when it is made; from the cache it costs the one query of its key.
    assert second < first


def test_a_kpi_chart_changes_after_its_target_changes(org: Org) -> None:
    client = org.client(org.ada)
    before = chart_of(client, "win_rate")
    assert chart_of(client, "win_rate") == before
    kpi = Kpi.objects.get(key="win_rate")
    target_revise(kpi=kpi, by=org.ada, effective_from="2024-03", value="0.9", reason="higher")
    after = chart_of(client, "win_rate")
    assert after != before
    # What the cache gives is what drawing it afresh gives.
    cache.clear()
    assert chart_of(client, "win_rate") == after


def test_a_kpi_analysis_is_made_again_after_a_recompute(org: Org) -> None:
    kpi = Kpi.objects.get(key="win_rate")
    version = kpi_data_version(kpi)
    first = kpi_analysis(kpi)
    assert kpi_data_version(kpi) == version
    assert kpi_analysis(kpi) == first
    results_recompute(by=None)
    assert kpi_data_version(kpi) != version


def test_a_kpi_chart_changes_after_its_results_change(org: Org) -> None:
    client = org.client(org.ada)
    before = chart_of(client, "deal_count")
    # Results written without any service (as a bulk load would) still change the chart.
    latest = Result.objects.filter(kpi__key="deal_count", group_dimension="").latest("period_start")
    Result.objects.filter(pk=latest.pk).delete()
    after = chart_of(client, "deal_count")
    assert after != before


def test_a_kpi_chart_follows_the_language(org: Org) -> None:
    client = org.client(org.ada)
    english = chart_of(client, "win_rate")
    client.post("/i18n/setlang/", {"language": "zh-hant", "next": "/"}, HTTP_HOST="localhost")
    response = client.get("/kpis/win_rate/", HTTP_ACCEPT_LANGUAGE="zh-hant")
    chinese = chart_of(client, "win_rate")
    assert response.status_code == 200
    assert chinese != english
    assert "against its target" in english
    assert "against its target" not in chinese


def test_the_home_page_shows_a_new_kpi_at_once(org: Org) -> None:
    client = org.client(org.ada)
    assert "Brand new KPI" not in client.get("/").content.decode()
    kpi_create(
        by=org.ada,
        key="brand_new",
        name="Brand new KPI",
        formula="deals",
        unit="count",
        grain="month",
    )
    assert "Brand new KPI" in client.get("/").content.decode()


def test_the_home_page_reads_its_goal_tree_from_the_cache_the_second_time(org: Org) -> None:
    client = org.client(org.ada)
    first = read_queries(client, "/")
    second = read_queries(client, "/")
    assert second < first


def periods_table_of(client: Client, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200
    found = re.search(r'<details class="periods".*?</details>', response.content.decode(), re.S)
    assert found is not None
    return found.group(0)


def test_a_second_view_of_a_kpi_page_reads_its_rendered_core_from_the_cache(org: Org) -> None:
    client = org.client(org.ada)
    read_queries(client, "/kpis/win_rate/")
    warm = read_queries(client, "/kpis/win_rate/")
    cached = client.get("/kpis/win_rate/").content.decode()
    cache.clear()
    with CaptureQueriesContext(connection) as fresh_queries:
        fresh = client.get("/kpis/win_rate/").content.decode()
    # The cached page is the page rendered afresh (but for the per-request CSRF tokens).
    token = re.compile(r"[A-Za-z0-9]{64}")
    assert token.sub("", cached) == token.sub("", fresh)
    assert warm < len(fresh_queries.captured_queries)


def test_a_kpi_pages_values_per_period_change_after_its_results_change(org: Org) -> None:
    client = org.client(org.ada)
    before = periods_table_of(client, "/kpis/deal_count/")
    latest = Result.objects.filter(kpi__key="deal_count", group_dimension="").latest("period_start")
    assert f"?period={latest.period}" in before
    Result.objects.filter(pk=latest.pk).delete()
    after = periods_table_of(client, "/kpis/deal_count/")
    assert f"?period={latest.period}" not in after


def test_a_kpi_pages_definition_follows_an_edit_of_the_kpi(org: Org) -> None:
    client = org.client(org.ada)
    assert "Counted from the signed deals" not in client.get("/kpis/deal_count/").content.decode()
    kpi = Kpi.objects.get(key="deal_count")
    kpi_update(kpi=kpi, by=org.ada, description="Counted from the signed deals")
    assert "Counted from the signed deals" in client.get("/kpis/deal_count/").content.decode()


def test_a_kpi_pages_marked_period_row_follows_the_period_asked_for(org: Org) -> None:
    client = org.client(org.ada)
    plain = periods_table_of(client, "/kpis/deal_count/")
    latest = Result.objects.filter(kpi__key="deal_count", group_dimension="").latest("period_start")
    marked = periods_table_of(client, f"/kpis/deal_count/?period={latest.period}")
    assert "row-current" not in plain
    assert marked.count("row-current") == 1
    assert "row-current" not in periods_table_of(client, "/kpis/deal_count/")
