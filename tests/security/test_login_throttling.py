"""Sign-in throttling: five wrong passwords for an account from one address, and that
account refuses a sixth attempt from there, even with the right password, for a while;
other accounts, other addresses and API tokens go on working."""

from __future__ import annotations

import datetime
from typing import Any

import pytest
from django.test import Client

from headway.accounts.models import SignInFailure, User
from headway.accounts.services import token_create

pytestmark = pytest.mark.django_db

PASSWORD = "a-long-test-password-42"
ATTACKER = "203.0.113.66"


@pytest.fixture(autouse=True)
def _quick_passwords(settings: Any) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def ada() -> User:
    return User.objects.create_user(email="ada@example.com", password=PASSWORD, role="admin")


@pytest.fixture
def bob() -> User:
    return User.objects.create_user(email="bob@example.com", password=PASSWORD)


def sign_in(client: Client, email: str, password: str, ip: str = ATTACKER, **extra: Any) -> Any:
    return client.post(
        "/accounts/login/", {"username": email, "password": password}, REMOTE_ADDR=ip, **extra
    )


def signed_in(client: Client) -> bool:
    return "_auth_user_id" in client.session


def fail_five_times(client: Client, email: str, ip: str = ATTACKER) -> None:
    for _ in range(5):
        response = sign_in(client, email, "wrong-password", ip)
        assert response.status_code == 200
        assert "did not match" in response.content.decode()


def test_the_sixth_attempt_is_refused_even_with_the_right_password(ada: User) -> None:
    client = Client()
    fail_five_times(client, "ada@example.com")
    response = sign_in(client, "ada@example.com", PASSWORD)
    assert response.status_code == 200
    html = response.content.decode()
    assert "Too many failed attempts to sign in to this account from your address" in html
    assert "Try again in 15 minutes." in html
    assert not signed_in(client)


def test_the_message_is_in_the_persons_language(ada: User) -> None:
    client = Client(HTTP_ACCEPT_LANGUAGE="zh-hant")
    fail_five_times_zh = [sign_in(client, "ada@example.com", "wrong") for _ in range(5)]
    assert all(response.status_code == 200 for response in fail_five_times_zh)
    html = sign_in(client, "ada@example.com", PASSWORD).content.decode()
    assert "登入此帳號失敗太多次" in html


def test_other_accounts_and_other_addresses_are_not_affected(ada: User, bob: User) -> None:
    fail_five_times(Client(), "ada@example.com")
    other_account = Client()
    sign_in(other_account, "bob@example.com", PASSWORD)
    assert signed_in(other_account)
    other_address = Client()
    sign_in(other_address, "ada@example.com", PASSWORD, ip="198.51.100.7")
    assert signed_in(other_address)


def test_the_count_ignores_the_case_of_the_address(ada: User) -> None:
    client = Client()
    for spelling in ("ADA@example.com", "Ada@Example.com", "ada@EXAMPLE.com", "ada@example.com"):
        sign_in(client, spelling, "wrong")
    sign_in(client, "ADA@EXAMPLE.COM", "wrong")
    sign_in(client, "ada@example.com", PASSWORD)
    assert not signed_in(client)


def test_fewer_failures_than_the_limit_do_not_stop_the_person(ada: User) -> None:
    client = Client()
    for _ in range(4):
        sign_in(client, "ada@example.com", "typo")
    sign_in(client, "ada@example.com", PASSWORD)
    assert signed_in(client)
    # Signing in forgets the failures: four more typos are again below the limit.
    assert not SignInFailure.objects.exists()


def test_the_account_opens_again_once_the_window_has_passed(ada: User) -> None:
    client = Client()
    fail_five_times(client, "ada@example.com")
    sign_in(client, "ada@example.com", PASSWORD)
    assert not signed_in(client)
    earlier = datetime.timedelta(minutes=16)
    for failure in SignInFailure.objects.all():
        SignInFailure.objects.filter(pk=failure.pk).update(at=failure.at - earlier)
    sign_in(client, "ada@example.com", PASSWORD)
    assert signed_in(client)


def test_attempts_while_throttled_do_not_prolong_it(ada: User) -> None:
    client = Client()
    fail_five_times(client, "ada@example.com")
    for _ in range(3):
        sign_in(client, "ada@example.com", "still-guessing")
    assert SignInFailure.objects.count() == 5


def test_api_tokens_are_not_affected(ada: User) -> None:
    _, token = token_create(by=ada, name="script")
    fail_five_times(Client(), "ada@example.com")
    response = Client().get(
        "/api/v1/me", HTTP_AUTHORIZATION=f"Bearer {token}", REMOTE_ADDR=ATTACKER
    )
    assert response.status_code == 200
    assert response.json()["email"] == "ada@example.com"


def test_the_limit_and_window_come_from_the_settings(ada: User, settings: Any) -> None:
    settings.HEADWAY_LOGIN_MAX_FAILURES = 2
    settings.HEADWAY_LOGIN_WINDOW_SECONDS = 60
    client = Client()
    sign_in(client, "ada@example.com", "wrong")
    sign_in(client, "ada@example.com", "wrong")
    html = sign_in(client, "ada@example.com", PASSWORD).content.decode()
    assert "Try again in 1 minute." in html
    assert not signed_in(client)


def test_behind_a_proxy_the_browsers_address_counts(ada: User, settings: Any) -> None:
    """With one proxy in front, the address it appended is the browser's; what the browser
    itself put in X-Forwarded-For cannot move it to a fresh count."""
    settings.HEADWAY_PROXY_COUNT = 1
    client = Client()
    for number in range(5):
        sign_in(
            client,
            "ada@example.com",
            "wrong",
            ip="10.0.0.1",
            HTTP_X_FORWARDED_FOR=f"192.0.2.{number}, {ATTACKER}",
        )
    assert set(SignInFailure.objects.values_list("ip", flat=True)) == {ATTACKER}
    sign_in(
        client,
        "ada@example.com",
        PASSWORD,
        ip="10.0.0.1",
        HTTP_X_FORWARDED_FOR=f"192.0.2.99, {ATTACKER}",
    )
    assert not signed_in(client)
    colleague = Client()
    sign_in(colleague, "ada@example.com", PASSWORD, ip="10.0.0.1", HTTP_X_FORWARDED_FOR="192.0.2.5")
    assert signed_in(colleague)


def test_the_admins_own_sign_in_page_leads_to_the_throttled_one(ada: User) -> None:
    response = Client().get("/admin/login/?next=/admin/")
    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/?next=/admin/"
    ada.is_staff = True
    ada.save()
    staff = Client()
    staff.force_login(ada)
    assert staff.get("/admin/login/?next=/admin/")["Location"] == "/admin/"
    member = Client()
    member.force_login(User.objects.create_user(email="mo@example.com"))
    assert member.get("/admin/login/?next=/admin/").status_code == 403
