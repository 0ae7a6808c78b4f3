"""The home page and the KPI page read in a fixed number of queries, however many KPIs,
results and targets there are (N+1 queries must not creep in)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from headway.goals.models import Goal
from headway.kpis.models import Kpi
from headway.kpis.services import kpi_create, target_revise
from headway.results.models import Result
from headway.results.services import results_recompute
from tests.web.conftest import WON, Org, deal_rows, write_deals

pytestmark = pytest.mark.django_db

# Today: 12 for the home page (13 for a manager: the bell's unread count and the check for
# review to-dos are one each), 23 for a KPI page (the analysis of its latest period takes 6
# of them; its proposals and its discussion one each). Tests run without a cache: with
# one, a KPI page seen before reads one query for its analysis's key instead of six.
HOME_MOST = 13
KPI_MOST = 26


def queries(client: Client, url: str) -> int:
    with CaptureQueriesContext(connection) as context:
        response = client.get(url)
    assert response.status_code == 200
    return len(context.captured_queries)


def grow(org: Org) -> None:
    """More of everything: five more KPIs on goals, a year more data, more targets."""
    earlier = {
        (f"2023-{month:02d}", team): 2 for month in range(1, 13) for team in ("north", "south")
    }
    write_deals(org.folder / "deals.csv", deal_rows(earlier) + deal_rows(WON, start=50_000))
    goals = list(Goal.objects.all())
    for number in range(5):
        kpi_create(
            by=org.ada,
            key=f"extra_{number}",
            name=f"Extra {number}",
            formula="won_deals",
            unit="count",
            grain="month",
            goals=[(goals[number % len(goals)], Decimal(1))],
        )
    kpi = Kpi.objects.get(key="win_rate")
    for month in ("2023-06", "2023-09", "2024-02"):
        target_revise(kpi=kpi, by=org.ada, effective_from=month, value="0.5", reason="more")
    results_recompute(by=None)


@pytest.mark.parametrize("person", ["ada", "nora", "vic"])
def test_the_home_page_reads_in_a_fixed_number_of_queries(org: Org, person: str) -> None:
    client = org.client(getattr(org, person))
    before = queries(client, "/")
    results = Result.objects.count()
    grow(org)
    assert Kpi.objects.count() == 8
    assert Result.objects.count() > 2 * results
    after = queries(client, "/")
    assert after == before
    assert after <= HOME_MOST


@pytest.mark.parametrize("person", ["ada", "nora"])
def test_the_kpi_page_reads_in_a_fixed_number_of_queries(org: Org, person: str) -> None:
    client = org.client(getattr(org, person))
    before = queries(client, "/kpis/win_rate/")
    grow(org)
    assert Result.objects.filter(kpi__key="win_rate", group_dimension="").count() == 16
    after = queries(client, "/kpis/win_rate/")
    assert after == before
    assert after <= KPI_MOST
