"""Deployment: production settings pass Django's deployment checks and Headway's own; no
weak or missing SECRET_KEY is accepted; a fresh installation has no accounts and the
demo's passwords are new every time; error pages never show a traceback, SQL, a file path
or a setting.

The settings are read once per process, so anything about production settings runs in a
process of its own with production's environment.
"""

from __future__ import annotations

import os
import re
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet
from django.conf import settings as django_settings
from django.db import connection
from django.http import HttpRequest, HttpResponse
from django.test import Client
from django.urls import include, path

from headway.accounts.models import User

REPOSITORY = Path(__file__).resolve().parents[2]
HEADWAY = Path(sys.executable).with_name("headway")
# The test process's own settings, never passed on to the production processes.
NOT_PASSED = {
    "DATABASE_URL",
    "HEADWAY_DATA_DIR",
    "HEADWAY_CREDENTIALS_KEYS",
    "HEADWAY_MODE",
    "SECRET_KEY",
    "DJANGO_SETTINGS_MODULE",
    "PYTEST_VERSION",
    "PYTEST_XDIST_WORKER",
    "DEBUG",
}
STRONG_KEY = "Kx9" + "".join(f"{n:02x}" for n in os.urandom(32))


def production(data: Path, **changes: str | None) -> dict[str, str]:
    """The environment of a production installation in `data`, with `changes` (None
    removes a variable)."""
    environment = {key: value for key, value in os.environ.items() if key not in NOT_PASSED}
    environment.update(
        HEADWAY_MODE="production",
        HEADWAY_DATA_DIR=str(data),
        DATABASE_URL=f"sqlite:///{data / 'headway.sqlite3'}",
        SECRET_KEY=STRONG_KEY,
        ALLOWED_HOSTS="kpi.example.com",
        CSRF_TRUSTED_ORIGINS="https://kpi.example.com",
        HEADWAY_CREDENTIALS_KEYS=Fernet.generate_key().decode(),
    )
    for name, value in changes.items():
        if value is None:
            environment.pop(name, None)
        else:
            environment[name] = value
    return environment


def run(environment: dict[str, str], *args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(arg) for arg in args],
        cwd=REPOSITORY,
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def manage(environment: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return run(environment, sys.executable, "-m", "headway.manage", *args)


# The deployment checks.


def test_production_settings_pass_every_deployment_check(tmp_path: Path) -> None:
    checked = manage(production(tmp_path), "check", "--deploy", "--fail-level", "DEBUG")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "System check identified no issues (0 silenced)." in checked.stdout


def test_the_deployment_check_sees_what_is_missing(tmp_path: Path) -> None:
    """Not a check that passes whatever happens: weakened settings are reported."""
    checked = manage(
        production(
            tmp_path,
            SECURE_HSTS_SECONDS="0",
            SECURE_SSL_REDIRECT="false",
            HEADWAY_CREDENTIALS_KEYS=None,
            HEADWAY_LOGIN_MAX_FAILURES="0",
        ),
        "check",
        "--deploy",
    )
    found = set(re.findall(r"\(([a-z]+\.W\d+)\)", checked.stdout + checked.stderr))
    assert {"security.W004", "security.W008", "headway.W003", "headway.W005"} <= found


def test_the_deployment_check_outside_production_says_so(tmp_path: Path) -> None:
    checked = manage(production(tmp_path, HEADWAY_MODE="local"), "check", "--deploy")
    assert "headway.W001" in checked.stdout + checked.stderr


# The secret key.

WEAK_KEYS = [
    "",
    "short",
    "changeme" * 10,
    "a" * 64,
    "django-insecure-" + "x1y2z3" * 10,
]


@pytest.mark.parametrize("key", WEAK_KEYS, ids=["missing", "short", "repeated", "one", "insecure"])
def test_production_settings_refuse_a_missing_or_weak_secret_key(tmp_path: Path, key: str) -> None:
    environment = production(tmp_path, SECRET_KEY=key or None)
    loaded = run(
        environment,
        sys.executable,
        "-c",
        "import django, os; os.environ['DJANGO_SETTINGS_MODULE'] = 'headway.site.settings'; "
        "django.setup()",
    )
    assert loaded.returncode != 0
    assert "SECRET_KEY must be set to a random string of at least 50 characters" in (loaded.stderr)
    if len(key) >= 20:
        assert key not in loaded.stderr


@pytest.mark.parametrize("key", WEAK_KEYS, ids=["missing", "short", "repeated", "one", "insecure"])
@pytest.mark.parametrize("mode", ["production", "local"])
def test_serve_refuses_a_missing_or_weak_secret_key(tmp_path: Path, key: str, mode: str) -> None:
    """`serve` is production whatever HEADWAY_MODE says (but the demo's)."""
    environment = production(tmp_path, SECRET_KEY=key or None, HEADWAY_MODE=mode)
    served = run(environment, HEADWAY, "serve", "--bind", "127.0.0.1:0")
    assert served.returncode == 2
    assert "SECRET_KEY must be set" in served.stderr
    assert "Traceback" not in served.stderr


# No default accounts.


def test_a_fresh_installation_has_no_accounts_and_no_tokens(tmp_path: Path) -> None:
    migrated = manage(production(tmp_path), "migrate", "--no-input")
    assert migrated.returncode == 0, migrated.stderr
    with sqlite3.connect(tmp_path / "headway.sqlite3") as database:
        for table in ("accounts_user", "accounts_apitoken", "accounts_twofactor"):
            (count,) = database.execute(f"SELECT count(*) FROM {table}").fetchone()
            assert count == 0, table


@pytest.mark.django_db
def test_the_migrations_create_nobody() -> None:
    # The test database is made by running every migration.
    assert not User.objects.exists()


@pytest.mark.django_db
def test_people_from_a_workspace_file_have_no_password_until_they_set_one(
    tmp_path: Path,
) -> None:
    from headway.engine.workspace import load_workspace
    from headway.kpis.workspace_io import apply_plan, plan_apply
    from tests.web.conftest import WON, WORKSPACE, deal_rows, write_deals

    (tmp_path / "headway.yaml").write_text(WORKSPACE, encoding="utf-8")
    write_deals(tmp_path / "deals.csv", deal_rows(WON))
    apply_plan(plan_apply(load_workspace(tmp_path / "headway.yaml")), by=None)
    people = list(User.objects.all())
    assert len(people) == 5
    assert not any(person.has_usable_password() for person in people)
    assert not Client().login(username="ada@example.com", password="")


def _demo_logins(folder: Path) -> dict[str, str]:
    environment = {key: value for key, value in os.environ.items() if key not in NOT_PASSED}
    made = run(environment, HEADWAY, "demo", folder, "--no-serve")
    assert made.returncode == 0, made.stderr
    return dict(re.findall(r"^\s+\w+\s+(\S+@tea-shop\.example)\s+(\S+)$", made.stdout, re.M))


@pytest.mark.slow
def test_the_demo_gives_new_random_passwords_every_time(tmp_path: Path) -> None:
    first = _demo_logins(tmp_path / "demo")
    second = _demo_logins(tmp_path / "demo")
    assert len(first) == len(second) == 4
    passwords = [*first.values(), *second.values()]
    assert len(set(passwords)) == len(passwords)
    assert all(len(password) >= 12 for password in passwords)
    with sqlite3.connect(tmp_path / "demo" / "headway.sqlite3") as database:
        (usable,) = database.execute(
            "SELECT count(*) FROM accounts_user WHERE password NOT LIKE '!%'"
        ).fetchone()
    # Only the four demo people can sign in; everyone else of the example has no password.
    assert usable == 4


# Error pages in production (DEBUG off): nothing of the inside shows.

SECRET_SQL = "SELECT salary FROM secret_table_of_salaries"


def failing_view(request: HttpRequest) -> HttpResponse:
    """A real 500: a database error whose message holds SQL and a table name."""
    with connection.cursor() as cursor:
        cursor.execute(SECRET_SQL)
    return HttpResponse("unreachable")


urlpatterns = [
    path("test-only/fail/", failing_view),
    path("", include("headway.site.urls")),
]


def _leaks(html: str) -> list[str]:
    """Whatever of the inside a page shows: tracebacks, SQL, paths, settings."""
    data_dir = str(django_settings.DATA_DIR)
    suspicious = [
        "Traceback",
        "traceback",
        "OperationalError",
        "secret_table_of_salaries",
        "SELECT",
        "site-packages",
        str(REPOSITORY),
        "/src/headway/",
        data_dir,
        django_settings.SECRET_KEY,
        "SECRET_KEY",
        "DATABASES",
        "INSTALLED_APPS",
        "ROOT_URLCONF",
        "urlpatterns",
        "Django tried these URL patterns",
        "You're seeing this error because you have",
    ]
    return [text for text in suspicious if text and text in html]


@pytest.fixture
def production_errors(settings: Any) -> None:
    settings.DEBUG = False
    settings.ROOT_URLCONF = __name__
    settings.ALLOWED_HOSTS = ["testserver", "kpi.example.com"]


@pytest.mark.django_db
@pytest.mark.usefixtures("production_errors")
def test_a_server_error_shows_nothing_of_the_inside(caplog: pytest.LogCaptureFixture) -> None:
    client = Client(raise_request_exception=False)
    with caplog.at_level("ERROR", logger="django.request"):
        response = client.get("/test-only/fail/")
    assert response.status_code == 500
    html = response.content.decode()
    assert "Something went wrong" in html
    assert _leaks(html) == []
    # The details go to the log, for the administrators.
    assert any("secret_table_of_salaries" in str(record.exc_info) for record in caplog.records)


@pytest.mark.django_db
@pytest.mark.usefixtures("production_errors")
def test_the_server_error_page_is_translated() -> None:
    client = Client(raise_request_exception=False, HTTP_ACCEPT_LANGUAGE="zh-hant")
    response = client.get("/test-only/fail/")
    assert response.status_code == 500
    assert "發生錯誤" in response.content.decode()


@pytest.mark.django_db
@pytest.mark.usefixtures("production_errors")
def test_a_missing_page_shows_nothing_of_the_inside() -> None:
    response = Client(raise_request_exception=False).get("/no/such/page/")
    assert response.status_code == 404
    html = response.content.decode()
    assert "There is nothing at this address." in html
    assert _leaks(html) == []


@pytest.mark.django_db
@pytest.mark.usefixtures("production_errors")
def test_a_refusal_shows_nothing_of_the_inside() -> None:
    viewer = User.objects.create_user(email="viewer@example.com", role="viewer")
    client = Client(raise_request_exception=False)
    client.force_login(viewer)
    response = client.get("/goals/new/")
    assert response.status_code == 403
    html = response.content.decode()
    assert "You may not do this." in html
    assert _leaks(html) == []


@pytest.mark.django_db
@pytest.mark.usefixtures("production_errors")
def test_a_failed_csrf_check_shows_nothing_of_the_inside() -> None:
    person = User.objects.create_user(email="member@example.com")
    client = Client(enforce_csrf_checks=True, raise_request_exception=False)
    client.force_login(person)
    response = client.post("/language/", {"language": "en"})
    assert response.status_code == 403
    html = response.content.decode()
    assert "security check failed" in html
    assert _leaks(html) == []
    assert "CSRF token" not in html


@pytest.mark.django_db
@pytest.mark.usefixtures("production_errors")
def test_a_bad_request_shows_nothing_of_the_inside() -> None:
    client = Client(raise_request_exception=False)
    response = client.get("/accounts/login/", HTTP_HOST="evil.example.net")
    assert response.status_code == 400
    html = response.content.decode()
    assert "Bad request" in html
    assert _leaks(html) == []
    assert "evil.example.net" not in html


@pytest.mark.django_db
@pytest.mark.usefixtures("production_errors")
def test_an_api_server_error_shows_nothing_of_the_inside(monkeypatch: pytest.MonkeyPatch) -> None:
    import headway.api.api as api_module

    person = User.objects.create_user(email="member@example.com")

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError(f"{SECRET_SQL} at {REPOSITORY}/src/headway/api/api.py")

    monkeypatch.setattr(api_module, "MeOut", broken)
    client = Client(raise_request_exception=False)
    client.force_login(person)
    response = client.get("/api/v1/me")
    assert response.status_code == 500
    assert _leaks(response.content.decode()) == []
