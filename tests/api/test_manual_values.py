"""Values entered by hand through the API: many periods in one request, all or nothing,
each problem naming its row and period; the owner's approvals; history kept."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from decimal import Decimal

import pytest
from django.test import Client

from headway.accounts.models import ApiToken, Team, User
from headway.audit.models import AuditEntry
from headway.kpis.models import Kpi
from headway.kpis.services import kpi_create, target_revise
from headway.results import manual
from headway.results.models import ManualValue
from tests.api.conftest import Api, People

PATH = "kpis/satisfaction/values"


@pytest.fixture(autouse=True)
def _today(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(manual, "organization_today", lambda: datetime.date(2026, 3, 15))


@pytest.fixture
def kpi(org: People) -> Kpi:
    """Satisfaction of team north, entered by hand, owned by the member."""
    created = kpi_create(
        by=org.admin,
        key="satisfaction",
        name="Customer satisfaction",
        formula="",
        entry="manual",
        unit="score",
        grain="month",
        team=Team.objects.get(key="north"),
        owner=org.member,
    )
    target_revise(kpi=created, by=org.admin, effective_from="2026-01", value=80, reason="Plan")
    return created


def session_of(person: User) -> Api:
    """The browser session of a person (a viewer's tokens could only read anyway)."""
    browser = Client()
    browser.force_login(person)
    return Api(browser)


def needs_approval(kpi: Kpi) -> None:
    Kpi.objects.filter(pk=kpi.pk).update(manual_approval=True)


def stored(kpi: Kpi) -> list[tuple[str, Decimal | None, str]]:
    return [
        (entry.period, entry.value, entry.status)
        for entry in ManualValue.objects.filter(kpi=kpi).order_by("period_start", "pk")
    ]


@pytest.mark.django_db
def test_values_of_many_periods_are_stored_in_one_request(
    org: People, kpi: Kpi, api_as: Callable[..., Api]
) -> None:
    api = api_as(org.member)
    response = api.post(
        PATH,
        {
            "values": [
                {"period": "2026-01", "value": "84.5"},
                {"period": "2026-02", "value": 70},
            ],
            "comment": "March survey",
        },
    )
    assert response.status_code == 201, response.json()
    items = response.json()["items"]
    assert [(item["period"], item["value"], item["status"]) for item in items] == [
        ("2026-01", "84.5", "approved"),
        ("2026-02", "70", "approved"),
    ]
    assert items[0]["entered_by"] == "member@example.com"
    assert items[0]["comment"] == "March survey"
    results = api.get("kpis/satisfaction/results").json()["items"]
    assert [
        (item["period"], item["value"], item["target"], item["status"]) for item in results
    ] == [
        ("2026-01", "84.5", "80", "green"),
        ("2026-02", "70", "80", "red"),
    ]


@pytest.mark.django_db
def test_a_bad_row_refuses_the_whole_request_naming_the_row_and_period(
    org: People, kpi: Kpi, api_as: Callable[..., Api]
) -> None:
    api = api_as(org.member)
    rows = AuditEntry.objects.count()
    response = api.post(
        PATH,
        {
            "values": [
                {"period": "2026-01", "value": 84},
                {"period": "2026-13", "value": 85},
                {"period": "2026-Q1", "value": 86},
                {"period": "2026-05", "value": 87},
            ]
        },
    )
    assert response.status_code == 422
    errors = {error["field"]: error["message"] for error in response.json()["errors"]}
    assert set(errors) == {"values.1", "values.2", "values.3"}
    assert "2026-13" in errors["values.1"]
    assert "per month" in errors["values.2"]
    assert "has not started yet" in errors["values.3"]
    assert "2026-13" in response.json()["detail"]
    assert stored(kpi) == []
    assert AuditEntry.objects.count() == rows


@pytest.mark.django_db
def test_a_value_that_is_not_a_number_names_its_row(
    org: People, kpi: Kpi, api_as: Callable[..., Api]
) -> None:
    response = api_as(org.member).post(
        PATH, {"values": [{"period": "2026-01", "value": 1}, {"period": "2026-02", "value": "x"}]}
    )
    assert response.status_code == 422
    assert [error["field"] for error in response.json()["errors"]] == ["values.1.value"]
    assert stored(kpi) == []


@pytest.mark.django_db
def test_the_same_period_twice_is_refused(
    org: People, kpi: Kpi, api_as: Callable[..., Api]
) -> None:
    response = api_as(org.member).post(
        PATH, {"values": [{"period": "2026-01", "value": 1}, {"period": "2026-01", "value": 2}]}
    )
    assert response.status_code == 422
    assert {error["field"] for error in response.json()["errors"]} == {"values.0", "values.1"}
    assert stored(kpi) == []


@pytest.mark.django_db
def test_an_unchanged_resubmission_answers_200_and_stores_nothing(
    org: People, kpi: Kpi, api_as: Callable[..., Api]
) -> None:
    api = api_as(org.member)
    api.post(PATH, {"values": [{"period": "2026-01", "value": 84}]})
    rows = (stored(kpi), AuditEntry.objects.count())
    response = api.post(PATH, {"values": [{"period": "2026-01", "value": "84.00"}]})
    assert response.status_code == 200
    assert [item["value"] for item in response.json()["items"]] == ["84"]
    assert (stored(kpi), AuditEntry.objects.count()) == rows


@pytest.mark.django_db
def test_null_withdraws_a_value_and_the_history_keeps_both(
    org: People, kpi: Kpi, api_as: Callable[..., Api]
) -> None:
    api = api_as(org.member)
    api.post(PATH, {"values": [{"period": "2026-01", "value": 84}]})
    response = api.post(PATH, {"values": [{"period": "2026-01", "value": None}]})
    assert response.status_code == 201
    assert response.json()["items"][0]["value"] is None
    standing = api.get(PATH).json()
    assert [(item["value"], item["status"]) for item in standing["items"]] == [(None, "approved")]
    history = api.get(PATH, history="true").json()
    assert [(item["value"], item["status"]) for item in history["items"]] == [
        ("84", "superseded"),
        (None, "approved"),
    ]
    assert api.get("kpis/satisfaction/results").json()["items"] == []


@pytest.mark.django_db
def test_the_owner_approves_a_managers_values(
    org: People, kpi: Kpi, api_as: Callable[..., Api]
) -> None:
    needs_approval(kpi)
    response = api_as(org.north_manager).post(
        PATH, {"values": [{"period": "2026-01", "value": 84}, {"period": "2026-02", "value": 1}]}
    )
    assert response.status_code == 201
    first, second = response.json()["items"]
    assert (first["status"], first["decided_by"]) == ("pending", None)

    owner = api_as(org.member)
    assert owner.get("kpis/satisfaction/results").json()["items"] == []
    approved = owner.post(f"{PATH}/{first['id']}/decision", {"approve": True, "note": "OK"})
    assert approved.status_code == 200, approved.json()
    body = approved.json()
    assert (body["status"], body["decided_by"], body["decision_note"]) == (
        "approved",
        "member@example.com",
        "OK",
    )
    rejected = owner.post(f"{PATH}/{second['id']}/decision", {"approve": False})
    assert rejected.json()["status"] == "rejected"
    results = owner.get("kpis/satisfaction/results").json()["items"]
    assert [(item["period"], item["value"]) for item in results] == [("2026-01", "84")]

    again = owner.post(f"{PATH}/{second['id']}/decision", {"approve": True})
    assert again.status_code == 409
    assert "no longer waiting" in again.json()["detail"]


@pytest.mark.django_db
def test_only_the_owner_or_an_admin_decides(
    org: People, kpi: Kpi, api_as: Callable[..., Api]
) -> None:
    needs_approval(kpi)
    entry = (
        api_as(org.north_manager)
        .post(PATH, {"values": [{"period": "2026-01", "value": 84}]})
        .json()["items"][0]
    )
    url = f"{PATH}/{entry['id']}/decision"
    for person in (org.north_manager, org.south_manager):
        assert api_as(person).post(url, {"approve": True}).status_code == 403
    assert session_of(org.viewer).post(url, {"approve": True}).status_code == 403
    assert api_as(org.admin).post(url, {"approve": True}).status_code == 200
    assert api_as(org.admin).post(f"{PATH}/999999/decision", {"approve": True}).status_code == 404


@pytest.mark.django_db
def test_who_may_enter(org: People, kpi: Kpi, api_as: Callable[..., Api]) -> None:
    body = {"values": [{"period": "2026-01", "value": 84}]}
    assert session_of(org.viewer).post(PATH, body).status_code == 403
    assert api_as(org.south_manager).post(PATH, body).status_code == 403
    assert api_as(org.member, ApiToken.Scope.READ).post(PATH, body).status_code == 403
    assert stored(kpi) == []
    assert api_as(org.viewer, ApiToken.Scope.READ).get(PATH).status_code == 200


@pytest.mark.django_db
def test_a_formula_kpi_takes_no_values(org: People, api_as: Callable[..., Api]) -> None:
    response = api_as(org.admin).post(
        "kpis/north_revenue/values", {"values": [{"period": "2026-01", "value": 1}]}
    )
    assert response.status_code == 422
    assert "computed by its formula" in response.json()["detail"]
    assert api_as(org.admin).get("kpis/nobody/values").status_code == 404


@pytest.mark.django_db
def test_a_stale_seen_entry_is_a_conflict(
    org: People, kpi: Kpi, api_as: Callable[..., Api]
) -> None:
    owner = api_as(org.member)
    first = owner.post(PATH, {"values": [{"period": "2026-01", "value": 84}]}).json()["items"][0]
    api_as(org.north_manager).post(PATH, {"values": [{"period": "2026-01", "value": 85}]})
    response = owner.post(
        PATH, {"values": [{"period": "2026-01", "value": 86, "seen": first["id"]}]}
    )
    assert response.status_code == 409
    assert [value for _, value, _ in stored(kpi)] == [Decimal(84), Decimal(85)]


@pytest.mark.django_db
def test_the_list_filters_by_period(org: People, kpi: Kpi, api_as: Callable[..., Api]) -> None:
    api = api_as(org.member)
    api.post(
        PATH,
        {"values": [{"period": f"2025-{month:02d}", "value": month} for month in range(1, 13)]},
    )
    page = api.get(PATH, **{"from": "2025-04", "to": "2025-Q2", "limit": 2}).json()
    assert page["count"] == 3
    assert [item["period"] for item in page["items"]] == ["2025-04", "2025-05"]
    assert api.get(PATH, **{"from": "April"}).status_code == 422
