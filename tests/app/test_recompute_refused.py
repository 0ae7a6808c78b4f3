"""A recompute refused because a number cannot be stored leaves the old results, and
says so where they are shown: the KPI's page and the API's results name when it was
refused and why, until a recompute of the KPI is stored."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.test import Client

from headway.accounts.services import token_create
from headway.results.models import Result
from headway.results.selectors import recompute_refusal
from headway.results.services import results_recompute
from tests.app.conftest import DEALS, Organisation

# Revenue in February: 10**21 won, 21 digits before the point (at most 20 are stored).
HUGE = DEALS.replace("b,2026-02-11,south,won,50", f"b,2026-02-11,south,won,{10**21}")


def _refuse(org: Organisation) -> None:
    (org.folder / "deals.csv").write_text(HUGE, encoding="utf-8")
    with pytest.raises(Exception, match="cannot be stored"):
        results_recompute(by=org.admin)


def _kpis() -> tuple[object, object]:
    from headway.kpis.models import Kpi

    return Kpi.objects.get(key="revenue"), Kpi.objects.get(key="conversion")


def test_a_refused_recompute_keeps_the_results_and_records_when_and_why(
    org: Organisation,
) -> None:
    results_recompute(by=org.admin)
    before = sorted(Result.objects.values_list("pk", "value"))
    revenue, conversion = _kpis()
    assert recompute_refusal(revenue) is None  # type: ignore[arg-type]

    _refuse(org)

    assert sorted(Result.objects.values_list("pk", "value")) == before
    refused = recompute_refusal(revenue)  # type: ignore[arg-type]
    assert refused is not None
    assert "its value for 2026-02 is 1E+21, which cannot be stored" in refused.reason
    assert refused.by == "admin@example.com"
    latest = Result.objects.filter(kpi=revenue).latest("computed_at").computed_at
    assert refused.at > latest
    # Its numbers fit, but it was recomputed in the same refused batch.
    together = recompute_refusal(conversion)  # type: ignore[arg-type]
    assert together is not None
    assert "together with revenue" in together.reason


def test_a_recompute_stored_since_clears_the_refusal_of_its_kpis_only(
    org: Organisation,
) -> None:
    results_recompute(by=org.admin)
    _refuse(org)
    revenue, conversion = _kpis()

    results_recompute(by=org.admin, kpi_keys=("conversion",))
    assert recompute_refusal(conversion) is None  # type: ignore[arg-type]
    assert recompute_refusal(revenue) is not None  # type: ignore[arg-type]

    (org.folder / "deals.csv").write_text(DEALS, encoding="utf-8")
    results_recompute(by=org.admin)
    assert recompute_refusal(revenue) is None  # type: ignore[arg-type]
    february = Result.objects.get(kpi=revenue, period="2026-02", group_dimension="")
    assert february.value == Decimal("50")


def test_the_kpi_page_and_the_api_say_that_the_last_recompute_was_refused(
    org: Organisation,
) -> None:
    results_recompute(by=org.admin)
    client = Client()
    client.force_login(org.admin)
    _, raw = token_create(by=org.admin, name="tests", scope="read")
    api = Client(headers={"Authorization": f"Bearer {raw}"})

    page = client.get("/kpis/revenue/").content.decode()
    assert 'id="recompute-refused"' not in page
    listed = api.get("/api/v1/kpis/revenue/results").json()
    assert [item["recompute_refused"] for item in listed["items"]] == [None, None]

    _refuse(org)

    page = client.get("/kpis/revenue/").content.decode()
    assert 'id="recompute-refused"' in page
    assert "cannot be stored" in page
    listed = api.get("/api/v1/kpis/revenue/results").json()
    refusals = [item["recompute_refused"] for item in listed["items"]]
    assert len(refusals) == 2
    assert all("cannot be stored" in item["reason"] for item in refusals)
    one = api.get("/api/v1/kpis/revenue/results/2026-01").json()
    assert one["recompute_refused"] == refusals[0]
    assert one["value"] == "100"
