"""Signing in and out and passwords, on Headway's own pages."""

from __future__ import annotations

import re

import pytest
from django.core import mail

from tests.web.conftest import PASSWORD, Org

pytestmark = pytest.mark.django_db


def test_password_pages_are_headways_not_the_admins(org: Org) -> None:
    client = org.client(org.mo)
    html = client.get("/accounts/password_change/").content.decode()
    assert '<a class="skip-link"' in html
    assert "Change your password" in html
    assert "Django administration" not in html
    reset = org.client(None).get("/accounts/password_reset/").content.decode()
    assert "Reset your password" in reset
    assert "Django administration" not in reset


def test_changing_the_password(org: Org) -> None:
    client = org.client(org.mo)
    response = client.post(
        "/accounts/password_change/",
        {
            "old_password": PASSWORD,
            "new_password1": "another-long-pass-77",
            "new_password2": "another-long-pass-77",
        },
        follow=True,
    )
    assert "Your password was changed." in response.content.decode()
    org.mo.refresh_from_db()
    assert org.mo.check_password("another-long-pass-77")


def test_resetting_the_password_by_e_mail(org: Org) -> None:
    client = org.client(None)
    response = client.post("/accounts/password_reset/", {"email": "mo@example.com"}, follow=True)
    assert "Check your e-mail" in response.content.decode()
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.subject == "Your new Headway password"
    link = re.search(r"http://testserver(/accounts/reset/\S+/)", str(message.body))
    assert link is not None
    form = client.get(link.group(1), follow=True)
    assert "Choose a new password" in form.content.decode()
    done = client.post(
        form.redirect_chain[-1][0],
        {"new_password1": "brand-new-pass-88", "new_password2": "brand-new-pass-88"},
        follow=True,
    )
    assert "Your new password is saved." in done.content.decode()
    org.mo.refresh_from_db()
    assert org.mo.check_password("brand-new-pass-88")


def test_a_used_reset_link_says_so(org: Org) -> None:
    html = org.client(None).get("/accounts/reset/MQ/bad-token/").content.decode()
    assert "This link does not work any more" in html


def test_a_password_change_is_audited_without_the_password(org: Org) -> None:
    from headway.audit.models import AuditEntry

    client = org.client(org.mo)
    response = client.post(
        "/accounts/password_change/",
        {
            "old_password": PASSWORD,
            "new_password1": "a much longer passphrase 42",
            "new_password2": "a much longer passphrase 42",
        },
    )
    assert response.status_code == 302
    entry = AuditEntry.objects.filter(action="person.password_change").get()
    assert entry.actor_label == "mo@example.com"
    assert "passphrase" not in str(entry.before) + str(entry.after)
