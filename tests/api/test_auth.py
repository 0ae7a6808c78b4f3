"""Who may call the API: personal tokens, their scope, and the browser session."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from django.test import Client

from headway.accounts.models import ApiToken
from headway.accounts.services import token_create, token_revoke
from headway.audit.models import AuditEntry
from headway.kpis.models import Kpi, TargetVersion
from tests.api.conftest import Api, People, bearer

NEW_KPI = {"key": "deal_count", "name": "Deals", "formula": "deals", "unit": "count",
           "grain": "month", "team": "north"}  # fmt: skip


@pytest.mark.django_db
def test_a_token_authenticates_its_person(org: People, api_as: Callable[..., Api]) -> None:
    response = api_as(org.north_manager).get("me")
    assert response.status_code == 200
    assert response.json() == {
        "email": "north.manager@example.com",
        "name": "Nora North",
        "role": "manager",
        "signed_in_with": "token",
        "can_write": True,
    }


@pytest.mark.django_db
def test_a_token_records_when_it_was_last_used(org: People) -> None:
    token, raw = token_create(by=org.member, name="laptop")
    assert token.last_used_at is None
    assert bearer(raw).get("kpis").status_code == 200
    token.refresh_from_db()
    assert token.last_used_at is not None


@pytest.mark.django_db
def test_a_request_without_credentials_gets_401_with_a_bearer_challenge(
    org: People, anonymous: Api
) -> None:
    response = anonymous.get("kpis")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer realm="headway"'
    assert "Authorization: Bearer" in response.json()["detail"]


@pytest.mark.django_db
@pytest.mark.parametrize(
    "raw",
    ["hw_not-a-token-at-all", "not-even-the-prefix", "", "hw_" + "x" * 5000],
    ids=["wrong", "no prefix", "empty", "huge"],
)
def test_a_wrong_token_gets_401(org: People, raw: str) -> None:
    response = bearer(raw).get("kpis")
    assert response.status_code == 401
    assert "invalid_token" in response["WWW-Authenticate"] or raw == ""


@pytest.mark.django_db
def test_a_revoked_token_gets_401(org: People) -> None:
    token, raw = token_create(by=org.member, name="old laptop")
    assert bearer(raw).get("kpis").status_code == 200
    token_revoke(by=org.member, token=token)
    response = bearer(raw).get("kpis")
    assert response.status_code == 401
    assert "not valid" in response.json()["detail"]


@pytest.mark.django_db
def test_the_token_of_a_deactivated_person_gets_401(org: People) -> None:
    _, raw = token_create(by=org.member, name="laptop")
    org.member.is_active = False
    org.member.save()
    assert bearer(raw).get("kpis").status_code == 401


@pytest.mark.django_db
def test_a_wrong_token_on_a_write_is_401_not_a_csrf_failure(org: People) -> None:
    response = bearer("hw_wrong").post("kpis", NEW_KPI)
    assert response.status_code == 401


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("post", "kpis", NEW_KPI),
        ("patch", "kpis/north_revenue", {"name": "Renamed", "version": 1}),
        ("post", "kpis/north_revenue/targets",
         {"effective_from": "2026-04", "value": 2000, "reason": "More"}),
        ("post", "goals", {"key": "new-goal", "title": "New", "horizon": "short",
                           "team": "north"}),
        ("patch", "goals/grow", {"title": "Grow a lot", "version": 1}),
        ("post", "teams", {"key": "east", "name": "East"}),
        ("patch", "teams/north", {"name": "Northern", "version": 1}),
    ],
    ids=["create KPI", "edit KPI", "add target", "create goal", "edit goal", "create team",
         "edit team"],
)  # fmt: skip
def test_a_read_scope_token_cannot_write(
    org: People, api_as: Callable[..., Api], method: str, path: str, body: dict[str, object]
) -> None:
    api = api_as(org.admin, scope=ApiToken.Scope.READ)
    kpis, targets, entries = (
        Kpi.objects.count(),
        TargetVersion.objects.count(),
        AuditEntry.objects.count(),
    )
    response = api.send(method, path, body)
    assert response.status_code == 403
    assert "can only read" in response.json()["detail"]
    assert Kpi.objects.count() == kpis
    assert TargetVersion.objects.count() == targets
    assert AuditEntry.objects.count() == entries


@pytest.mark.django_db
def test_a_read_scope_token_reads(org: People, api_as: Callable[..., Api]) -> None:
    api = api_as(org.admin, scope=ApiToken.Scope.READ)
    assert api.get("me").json()["can_write"] is False
    assert api.get("kpis/north_revenue").status_code == 200


@pytest.mark.django_db
def test_a_signed_in_session_writes_with_the_csrf_token_of_the_docs_page(org: People) -> None:
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(org.north_manager)
    api = Api(browser)
    assert api.get("me").json()["signed_in_with"] == "session"

    refused = api.post("kpis", NEW_KPI)
    assert refused.status_code == 403
    assert "CSRF" in refused.json()["detail"]

    # The docs page puts the token on <body data-csrf-token>; Swagger UI sends it.
    page = browser.get("/api/v1/docs").content.decode()
    token = re.search(r'data-csrf-token="([^"]+)"', page)
    assert token is not None
    api.headers = {"X-CSRFToken": token.group(1)}
    created = api.post("kpis", NEW_KPI)
    assert created.status_code == 201, created.json()
    assert AuditEntry.objects.filter(action="kpi.create", actor=org.north_manager).exists()


@pytest.mark.django_db
def test_a_wrong_token_does_not_fall_back_to_the_signed_in_session(org: People) -> None:
    browser = Client()
    browser.force_login(org.admin)
    response = Api(browser, {"Authorization": "Bearer hw_wrong"}).get("kpis")
    assert response.status_code == 401


@pytest.mark.django_db
def test_every_write_is_audited_as_the_tokens_person(
    org: People, api_as: Callable[..., Api]
) -> None:
    api = api_as(org.north_manager)
    assert api.post("kpis", NEW_KPI).status_code == 201
    response = api.post(
        "kpis/deal_count/targets", {"effective_from": "2026-01", "value": 3, "reason": "Start"}
    )
    assert response.status_code == 201
    actions = set(
        AuditEntry.objects.filter(actor=org.north_manager).values_list("action", flat=True)
    )
    assert {"kpi.create", "target.create"} <= actions
