"""Personal API tokens in the web UI: created with the secret shown once, revoked."""

from __future__ import annotations

import re

from headway.accounts.models import ApiToken
from headway.accounts.services import token_digest
from tests.web.conftest import Org


def test_a_person_creates_a_token_and_sees_its_secret_once(org: Org) -> None:
    client = org.client(org.mo)
    page = client.post("/me/tokens/", {"name": "Spreadsheet sync", "scope": "read"})
    assert page.status_code == 200
    shown = re.search(r'<code id="new-token">(hw_[^<]+)</code>', page.content.decode())
    assert shown is not None
    token = ApiToken.objects.get(user=org.mo)
    # Only the hash is stored; the secret is nowhere in the database.
    assert token.digest == token_digest(shown.group(1))
    assert shown.group(1) not in str(ApiToken.objects.values_list(flat=False))
    again = client.get("/me/tokens/").content.decode()
    assert shown.group(1) not in again
    assert "Spreadsheet sync" in again
    api = client.get("/api/v1/me", headers={"Authorization": f"Bearer {shown.group(1)}"})
    assert api.status_code == 200


def test_a_viewer_cannot_create_a_write_token(org: Org) -> None:
    page = org.client(org.vic).post("/me/tokens/", {"name": "x", "scope": "write"})
    assert page.status_code == 200
    assert not ApiToken.objects.filter(user=org.vic).exists()


def test_a_revoked_token_no_longer_works(org: Org) -> None:
    client = org.client(org.mo)
    page = client.post("/me/tokens/", {"name": "Old", "scope": "read"}).content.decode()
    shown = re.search(r'<code id="new-token">(hw_[^<]+)</code>', page)
    assert shown is not None
    token = ApiToken.objects.get(user=org.mo)
    assert client.post(f"/me/tokens/{token.pk}/revoke/").status_code == 302
    token.refresh_from_db()
    assert token.revoked_at is not None
    api = client.get("/api/v1/me", headers={"Authorization": f"Bearer {shown.group(1)}"})
    assert api.status_code == 401


def test_nobody_can_revoke_someone_elses_token(org: Org) -> None:
    org.client(org.mo).post("/me/tokens/", {"name": "Mine", "scope": "read"})
    token = ApiToken.objects.get(user=org.mo)
    assert org.client(org.nora).post(f"/me/tokens/{token.pk}/revoke/").status_code == 404
    token.refresh_from_db()
    assert token.revoked_at is None


def test_signing_in_is_required(org: Org) -> None:
    assert org.client(None).get("/me/tokens/").status_code == 302
