"""Two-step sign-in for admins: turned on from their page (an otpauth:// address and its
key, confirmed with a code), then asked for after the password; wrong codes count toward
the throttle; one-time recovery codes, shown once and stored hashed; the secret stored
encrypted."""

from __future__ import annotations

import re
import time
from typing import Any

import pyotp
import pytest
from django.test import Client

from headway.accounts.keys import secret_box
from headway.accounts.models import RecoveryCode, SignInFailure, TwoFactor, User
from headway.audit.models import AuditEntry

pytestmark = pytest.mark.django_db

PASSWORD = "a-long-test-password-42"


@pytest.fixture(autouse=True)
def _quick_passwords(settings: Any) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def ada() -> User:
    return User.objects.create_user(email="ada@example.com", password=PASSWORD, role="admin")


def turn_on(person: User) -> tuple[pyotp.TOTP, list[str]]:
    """Turns two-step sign-in on through the pages; the app and the recovery codes."""
    client = Client()
    client.force_login(person)
    page = client.post("/accounts/two-step/", {"action": "begin"}).content.decode()
    secret = re.search(r'<code id="two-factor-secret">([A-Z2-7]+)</code>', page)
    assert secret is not None
    totp = pyotp.TOTP(secret.group(1))
    done = client.post("/accounts/two-step/", {"action": "confirm", "code": totp.now()})
    codes = re.findall(r"<li><code>([a-z0-9-]+)</code></li>", done.content.decode())
    assert len(codes) == 10
    return totp, codes


def next_code(totp: pyotp.TOTP) -> str:
    """The code of the next 30 seconds: the current one was just used to confirm."""
    return totp.at(time.time() + 30)


def sign_in(client: Client, password: str = PASSWORD, next_url: str = "") -> Any:
    data = {"username": "ada@example.com", "password": password}
    if next_url:
        data["next"] = next_url
    return client.post("/accounts/login/", data)


def signed_in(client: Client) -> bool:
    return "_auth_user_id" in client.session


def test_turning_it_on_shows_the_address_and_key_then_asks_for_a_code(ada: User) -> None:
    client = Client()
    client.force_login(ada)
    page = client.get("/accounts/two-step/").content.decode()
    assert "Set up two-step sign-in" in page
    page = client.post("/accounts/two-step/", {"action": "begin"}).content.decode()
    uri = re.search(r'<code id="two-factor-uri">([^<]+)</code>', page)
    secret = re.search(r'<code id="two-factor-secret">([A-Z2-7]+)</code>', page)
    assert uri is not None
    assert secret is not None
    assert uri.group(1).startswith("otpauth://totp/Headway")
    assert "ada%40example.com" in uri.group(1)
    assert f"secret={secret.group(1)}" in uri.group(1)
    # Stored encrypted, and not in force until confirmed.
    record = TwoFactor.objects.get(user=ada)
    assert secret.group(1) not in record.secret
    assert secret_box().decrypt(record.secret) == {"totp": secret.group(1)}
    assert record.confirmed_at is None
    wrong = client.post("/accounts/two-step/", {"action": "confirm", "code": "000000"})
    assert "That code is not right" in wrong.content.decode()
    assert TwoFactor.objects.get(user=ada).confirmed_at is None
    code = pyotp.TOTP(secret.group(1)).now()
    done = client.post("/accounts/two-step/", {"action": "confirm", "code": code}).content.decode()
    assert "Keep these recovery codes somewhere safe now" in done
    codes = re.findall(r"<li><code>([a-z0-9-]+)</code></li>", done)
    assert len(codes) == len(set(codes)) == 10
    # Shown once: the page does not show them again, and only their hashes are kept.
    again = client.get("/accounts/two-step/").content.decode()
    assert not any(code in again for code in codes)
    assert "You have 10 unused recovery codes." in again
    digests = set(RecoveryCode.objects.filter(user=ada).values_list("digest", flat=True))
    assert len(digests) == 10
    assert not any(code in digest for code in codes for digest in digests)
    assert AuditEntry.objects.filter(action="person.two_factor_on", object_id=str(ada.pk)).exists()


def test_the_sign_in_asks_for_the_code_after_the_password(ada: User) -> None:
    totp, _ = turn_on(ada)
    client = Client()
    response = sign_in(client, next_url="/reports/")
    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/code/"
    # The password alone signs nobody in.
    assert not signed_in(client)
    assert client.get("/")["Location"].startswith("/accounts/login/")
    page = client.get("/accounts/login/code/").content.decode()
    assert "Enter the six-digit code" in page
    done = client.post("/accounts/login/code/", {"code": next_code(totp)})
    assert done.status_code == 302
    assert done["Location"] == "/reports/"
    assert signed_in(client)
    assert not SignInFailure.objects.exists()


def test_a_wrong_code_is_refused_and_counted(ada: User, caplog: pytest.LogCaptureFixture) -> None:
    totp, _ = turn_on(ada)
    client = Client()
    sign_in(client)
    wrong = "000000" if next_code(totp) != "000000" else "111111"
    response = client.post("/accounts/login/code/", {"code": wrong})
    assert response.status_code == 200
    assert "That code is not right" in response.content.decode()
    assert not signed_in(client)
    assert SignInFailure.objects.filter(username="ada@example.com").count() == 1
    assert "login.failure user=ada@example.com ip=127.0.0.1 reason=code" in caplog.text
    client.post("/accounts/login/code/", {"code": next_code(totp)})
    assert signed_in(client)


def test_a_code_works_only_once(ada: User) -> None:
    totp, _ = turn_on(ada)
    code = next_code(totp)
    first = Client()
    sign_in(first)
    first.post("/accounts/login/code/", {"code": code})
    assert signed_in(first)
    second = Client()
    sign_in(second)
    response = second.post("/accounts/login/code/", {"code": code})
    assert "That code is not right" in response.content.decode()
    assert not signed_in(second)


def test_wrong_codes_count_toward_the_throttle(ada: User) -> None:
    totp, _ = turn_on(ada)
    client = Client()
    sign_in(client)
    for wrong in ("000001", "000002", "000003", "000004", "000005"):
        client.post("/accounts/login/code/", {"code": wrong})
    response = client.post("/accounts/login/code/", {"code": next_code(totp)})
    html = response.content.decode()
    assert "Too many failed attempts to sign in to this account from your address" in html
    assert not signed_in(client)
    # The password step is closed too, for this account from this address.
    again = Client()
    assert "Too many failed attempts" in sign_in(again).content.decode()


def test_a_recovery_code_signs_in_once(ada: User) -> None:
    _, codes = turn_on(ada)
    client = Client()
    sign_in(client)
    # Typed as people type them from paper: capitals, spaces instead of dashes.
    typed = codes[3].upper().replace("-", " ")
    response = client.post("/accounts/login/code/", {"code": typed}, follow=True)
    assert signed_in(client)
    assert "You signed in with a recovery code; 9 are left." in response.content.decode()
    assert AuditEntry.objects.filter(action="person.recovery_code_used").count() == 1
    again = Client()
    sign_in(again)
    refused = again.post("/accounts/login/code/", {"code": codes[3]})
    assert "That code is not right" in refused.content.decode()
    assert not signed_in(again)


def test_the_second_step_must_follow_the_password_soon(ada: User) -> None:
    totp, _ = turn_on(ada)
    client = Client()
    sign_in(client)
    session = client.session
    session["headway_pending_sign_in"]["at"] -= 6 * 60
    session.save()
    response = client.post("/accounts/login/code/", {"code": next_code(totp)})
    assert response["Location"] == "/accounts/login/"
    assert not signed_in(client)


def test_the_second_step_needs_the_password_first() -> None:
    response = Client().get("/accounts/login/code/")
    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/"


def test_new_recovery_codes_replace_the_old_ones(ada: User) -> None:
    _, old_codes = turn_on(ada)
    client = Client()
    client.force_login(ada)
    refused = client.post("/accounts/two-step/", {"action": "renew", "password": "wrong"})
    assert "That is not your password." in refused.content.decode()
    page = client.post("/accounts/two-step/", {"action": "renew", "password": PASSWORD})
    new_codes = re.findall(r"<li><code>([a-z0-9-]+)</code></li>", page.content.decode())
    assert len(new_codes) == 10
    assert not set(new_codes) & set(old_codes)
    signing_in = Client()
    sign_in(signing_in)
    signing_in.post("/accounts/login/code/", {"code": old_codes[0]})
    assert not signed_in(signing_in)
    signing_in.post("/accounts/login/code/", {"code": new_codes[0]})
    assert signed_in(signing_in)


def test_turning_it_off_needs_the_password(ada: User) -> None:
    turn_on(ada)
    client = Client()
    client.force_login(ada)
    client.post("/accounts/two-step/", {"action": "disable", "password": "wrong"})
    assert TwoFactor.objects.filter(user=ada).exists()
    client.post("/accounts/two-step/", {"action": "disable", "password": PASSWORD})
    assert not TwoFactor.objects.filter(user=ada).exists()
    assert not RecoveryCode.objects.filter(user=ada).exists()
    assert AuditEntry.objects.filter(action="person.two_factor_off").exists()
    plain = Client()
    sign_in(plain)
    assert signed_in(plain)


def test_it_is_offered_to_admins_only() -> None:
    member = User.objects.create_user(email="mo@example.com", password=PASSWORD)
    client = Client()
    client.force_login(member)
    page = client.get("/accounts/two-step/").content.decode()
    assert "offered to admins" in page
    assert client.post("/accounts/two-step/", {"action": "begin"}).status_code == 403
    assert not TwoFactor.objects.exists()


def test_the_password_page_links_to_it_for_admins(ada: User) -> None:
    client = Client()
    client.force_login(ada)
    assert 'id="two-factor-link"' in client.get("/accounts/password_change/").content.decode()


def test_the_admin_pages_ask_for_the_code_too(ada: User) -> None:
    ada.is_staff = True
    ada.save()
    turn_on(ada)
    client = Client()
    assert client.get("/admin/")["Location"].startswith("/admin/login/")
    assert client.get("/admin/login/?next=/admin/")["Location"] == "/accounts/login/?next=/admin/"
    response = sign_in(client, next_url="/admin/")
    assert response["Location"] == "/accounts/login/code/"
    assert not signed_in(client)
