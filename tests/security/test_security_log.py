"""The security log (`headway.security`): one line per sign-in, failure, sign-out, refusal,
change of rights, refused SQL and refused formula, with who and from where, and never a
password."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.test import Client

from headway.accounts.models import User
from headway.accounts.services import token_create
from headway.lib.security_log import format_event, security_event

pytestmark = pytest.mark.django_db

PASSWORD = "a-long-test-password-42"


@pytest.fixture(autouse=True)
def _quick_passwords(settings: Any) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def security_lines(caplog: pytest.LogCaptureFixture) -> Callable[[], list[str]]:
    caplog.set_level(logging.INFO, logger="headway.security")

    def lines() -> list[str]:
        return [
            record.getMessage() for record in caplog.records if record.name == "headway.security"
        ]

    return lines


@pytest.fixture
def ada() -> User:
    return User.objects.create_user(email="ada@example.com", password=PASSWORD, role="admin")


def test_a_sign_in_is_logged(ada: User, security_lines: Callable[[], list[str]]) -> None:
    Client().post(
        "/accounts/login/",
        {"username": "ada@example.com", "password": PASSWORD},
        REMOTE_ADDR="198.51.100.4",
    )
    assert "login.success user=ada@example.com ip=198.51.100.4" in security_lines()


def test_a_failed_sign_in_is_logged_without_the_password(
    ada: User, security_lines: Callable[[], list[str]], caplog: pytest.LogCaptureFixture
) -> None:
    Client().post(
        "/accounts/login/",
        {"username": "ada@example.com", "password": "hunter2-secret-guess"},
        REMOTE_ADDR="198.51.100.4",
    )
    assert "login.failure user=ada@example.com ip=198.51.100.4 reason=password" in (
        security_lines()
    )
    assert "hunter2-secret-guess" not in caplog.text
    failure = next(r for r in caplog.records if r.name == "headway.security")
    assert failure.levelno == logging.WARNING
    assert failure.security_event == "login.failure"  # type: ignore[attr-defined]


def test_throttling_is_logged(ada: User, security_lines: Callable[[], list[str]]) -> None:
    client = Client()
    for _ in range(6):
        client.post("/accounts/login/", {"username": "ada@example.com", "password": "x"})
    lines = security_lines()
    assert "login.throttled user=ada@example.com ip=127.0.0.1 reason=password" in lines
    assert "login.refused user=ada@example.com ip=127.0.0.1 reason=throttled" in lines


def test_a_sign_out_is_logged(ada: User, security_lines: Callable[[], list[str]]) -> None:
    client = Client()
    client.force_login(ada)
    client.post("/accounts/logout/")
    assert "logout user=ada@example.com ip=127.0.0.1" in security_lines()


def test_a_refused_page_is_logged(security_lines: Callable[[], list[str]]) -> None:
    viewer = User.objects.create_user(email="vic@example.com", role="viewer")
    client = Client()
    client.force_login(viewer)
    assert client.get("/goals/new/").status_code == 403
    assert (
        "permission.denied user=vic@example.com ip=127.0.0.1 method=GET path=/goals/new/"
        in security_lines()
    )


def test_a_refusal_by_the_api_names_the_token_and_the_reason(
    ada: User, security_lines: Callable[[], list[str]]
) -> None:
    _, token = token_create(by=ada, name="read only")
    response = Client().post(
        "/api/v1/teams",
        {"key": "new", "name": "New"},
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )
    assert response.status_code == 403
    lines = [line for line in security_lines() if line.startswith("permission.denied")]
    assert lines == [
        "permission.denied user=ada@example.com via=token ip=127.0.0.1 method=POST "
        "path=/api/v1/teams"
    ]


def test_a_failed_csrf_check_is_logged(ada: User, security_lines: Callable[[], list[str]]) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(ada)
    assert client.post("/language/", {"language": "en"}).status_code == 403
    assert any(
        line.startswith("permission.denied user=ada@example.com") and "path=/language/" in line
        for line in security_lines()
    )


def test_a_change_of_role_is_logged_once_committed(
    tmp_path: Path,
    security_lines: Callable[[], list[str]],
    django_capture_on_commit_callbacks: Any,
) -> None:
    from headway.engine.workspace import load_workspace
    from headway.kpis.workspace_io import apply_plan, plan_apply
    from tests.web.conftest import WON, WORKSPACE, deal_rows, write_deals

    write_deals(tmp_path / "deals.csv", deal_rows(WON))
    workspace = tmp_path / "headway.yaml"
    workspace.write_text(WORKSPACE, encoding="utf-8")
    with django_capture_on_commit_callbacks(execute=True):
        apply_plan(plan_apply(load_workspace(workspace)), by=None)
    created = security_lines()
    # The new admin and managers have more than a member's rights; the member does not.
    assert any('person="Ada Admin"' in line and "role:member>admin" in line for line in created)
    assert not any('person="Mo Member"' in line for line in created)
    workspace.write_text(
        WORKSPACE.replace(
            "{email: mo@example.com, name: Mo Member, team: north, role: member}",
            "{email: mo@example.com, name: Mo Member, team: north, role: admin}",
        ),
        encoding="utf-8",
    )
    with django_capture_on_commit_callbacks(execute=True):
        apply_plan(plan_apply(load_workspace(workspace)), by=None)
    assert (
        'rights.change by=system action=person.update person="Mo Member" '
        "changes=role:member>admin" in security_lines()
    )


def test_a_change_in_the_admin_is_logged(
    ada: User, security_lines: Callable[[], list[str]], django_capture_on_commit_callbacks: Any
) -> None:
    from django.contrib import admin
    from django.test import RequestFactory

    from headway.accounts.admin import PersonAdmin

    mo = User.objects.create_user(email="mo@example.com")
    request = RequestFactory().post("/admin/")
    request.user = ada
    person_admin = admin.site._registry[User]
    assert isinstance(person_admin, PersonAdmin)
    mo.is_staff = True
    with django_capture_on_commit_callbacks(execute=True):
        person_admin.save_model(request, mo, form=None, change=True)  # type: ignore[arg-type]
    assert any(
        line.startswith("rights.change by=ada@example.com action=person.update")
        and "changes=staff:False>True" in line
        for line in security_lines()
    )


def test_a_refused_sql_query_is_logged_without_the_query(
    security_lines: Callable[[], list[str]], caplog: pytest.LogCaptureFixture
) -> None:
    from headway.ingestion.sources.base import SourceError
    from headway.ingestion.sources.sql import vet_query

    query = "SELECT 1; DROP TABLE customers_of_acme"
    with pytest.raises(SourceError):
        vet_query(query, "postgres")
    (line,) = security_lines()
    assert line.startswith("sql.refused dialect=postgres reason=")
    assert f"length={len(query)}" in line
    assert "customers_of_acme" not in caplog.text


def test_a_refused_formula_is_logged_for_the_api(
    ada: User, security_lines: Callable[[], list[str]]
) -> None:
    _, token = token_create(by=ada, name="writer", scope="write")
    response = Client().post(
        "/api/v1/kpis",
        {"key": "deals", "name": "Deals", "formula": "deals +", "unit": "count", "grain": "month"},
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )
    assert response.status_code == 422
    (line,) = [line for line in security_lines() if line.startswith("formula.refused")]
    assert "user=ada@example.com via=token" in line
    assert 'formula="deals +"' in line
    assert "kpi=deals" in line


def test_a_formula_being_typed_is_not_an_event(
    ada: User, security_lines: Callable[[], list[str]]
) -> None:
    client = Client()
    client.force_login(ada)
    response = client.post("/kpis/formula-check/", {"formula": "deals +"})
    assert response.status_code == 200
    assert not [line for line in security_lines() if line.startswith("formula.refused")]


def test_a_value_cannot_forge_a_second_line(
    security_lines: Callable[[], list[str]],
) -> None:
    security_event(
        "login.failure",
        user="mallory\nlogin.success user=ada@example.com",
        path="/x\u2028y",
        reason='say "hi"',
    )
    (line,) = security_lines()
    assert "\n" not in line
    assert "\u2028" not in line
    assert line == (
        'login.failure user="mallory?login.success user=ada@example.com" path="/x?y" '
        'reason="say \\"hi\\""'
    )


def test_long_values_are_cut() -> None:
    line = format_event("sql.refused", {"reason": "x" * 1000})
    assert len(line) < 250
