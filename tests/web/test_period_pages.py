"""The page where admins close periods and reopen them: a list of closed and reopened
periods with who, when and why, a form to close one, and a reopen form per closed period
that needs a reason. Nobody else may see it or post to it."""

from __future__ import annotations

import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from headway.audit.models import AuditEntry
from headway.results import manual
from headway.results.locks import period_lock, period_reopen
from headway.results.models import PeriodLock
from tests.web.conftest import Org

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _today(monkeypatch: pytest.MonkeyPatch) -> None:
    """It is the 10th of May 2024 in the organisation: April is over, May is not."""
    monkeypatch.setattr(manual, "organization_today", lambda: datetime.date(2024, 5, 10))


def test_an_admin_closes_a_month_and_sees_it_listed(org: Org) -> None:
    client = org.client(org.ada)
    response = client.post("/periods/", {"period": "2024-03", "reason": "Books closed"})
    assert response.status_code == 302
    assert response["Location"] == "/periods/"
    lock = PeriodLock.objects.get()
    assert (lock.period, lock.locked_by, lock.reason) == ("2024-03", org.ada, "Books closed")
    page = client.get("/periods/").content.decode()
    assert "is closed: its results and values stay as they are" in page
    assert f'id="lock-{lock.pk}"' in page
    assert "Books closed" in page
    assert "Ada Admin" in page
    assert f'action="/periods/{lock.pk}/reopen/"' in page


def test_a_month_not_over_yet_is_refused_beside_the_field(org: Org) -> None:
    page = org.client(org.ada).post("/periods/", {"period": "2024-05", "reason": ""})
    assert page.status_code == 200
    html = page.content.decode()
    assert "2024-05 is not over yet: it ends on 2024-05-31" in html
    assert 'id="form-errors"' in html
    assert not PeriodLock.objects.exists()


def test_a_label_that_is_not_a_period_is_refused(org: Org) -> None:
    html = org.client(org.ada).post("/periods/", {"period": "May"}).content.decode()
    assert "“May” is not a period" in html
    assert not PeriodLock.objects.exists()


def test_reopening_needs_a_reason_shown_beside_its_form(org: Org) -> None:
    lock = period_lock(period="2024-02", by=org.ada)
    client = org.client(org.ada)
    page = client.post(f"/periods/{lock.pk}/reopen/", {"reason": "  "})
    assert page.status_code == 200
    assert f'id="reopen-errors-{lock.pk}"' in page.content.decode()
    lock.refresh_from_db()
    assert lock.is_active
    assert not AuditEntry.objects.filter(action="period.reopen").exists()

    done = client.post(f"/periods/{lock.pk}/reopen/", {"reason": "A late invoice"})
    assert done.status_code == 302
    lock.refresh_from_db()
    assert (lock.is_active, lock.reopened_by, lock.reopen_reason) == (
        False,
        org.ada,
        "A late invoice",
    )
    html = client.get("/periods/").content.decode()
    assert "is reopened: its results and values may change again" in html
    assert 'id="reopened-locks"' in html
    assert "A late invoice" in html
    assert f'action="/periods/{lock.pk}/reopen/"' not in html


def test_reopening_a_lock_twice_says_it_was_already_reopened(org: Org) -> None:
    lock = period_lock(period="2024-02", by=org.ada)
    period_reopen(lock=lock, by=org.ada, reason="First")
    client = org.client(org.ada)
    response = client.post(f"/periods/{lock.pk}/reopen/", {"reason": "Second"})
    assert response.status_code == 302
    assert "2024-02 was already reopened by Ada Admin" in client.get("/periods/").content.decode()
    assert AuditEntry.objects.filter(action="period.reopen").count() == 1


@pytest.mark.parametrize("person", ["nora", "mo", "vic", "sam"])
def test_everyone_but_an_admin_gets_403(org: Org, person: str) -> None:
    lock = period_lock(period="2024-01", by=org.ada)
    client = org.client(getattr(org, person))
    assert client.get("/periods/").status_code == 403
    assert client.post("/periods/", {"period": "2024-02"}).status_code == 403
    assert client.post(f"/periods/{lock.pk}/reopen/", {"reason": "x"}).status_code == 403
    assert PeriodLock.objects.get().is_active
    assert PeriodLock.objects.count() == 1


def test_signing_in_is_required(org: Org) -> None:
    response = org.client(None).get("/periods/")
    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]


def test_reopen_takes_only_posts(org: Org) -> None:
    lock = period_lock(period="2024-01", by=org.ada)
    assert org.client(org.ada).get(f"/periods/{lock.pk}/reopen/").status_code == 405


def test_the_page_reads_in_the_same_few_queries_however_many_locks(org: Org) -> None:
    client = org.client(org.ada)

    def queries() -> int:
        with CaptureQueriesContext(connection) as context:
            assert client.get("/periods/").status_code == 200
        return len(context.captured_queries)

    period_lock(period="2024-01", by=org.ada)
    few = queries()
    for label in ("2024-02", "2024-03", "2024-04", "2024-Q1"):
        lock = period_lock(period=label, by=org.ada)
    period_reopen(lock=lock, by=org.ada, reason="Wrong span")
    assert queries() == few


def test_the_page_in_chinese(org: Org) -> None:
    period_lock(period="2024-01", by=org.ada)
    html = org.client(org.ada).get("/periods/", HTTP_ACCEPT_LANGUAGE="zh-hant").content.decode()
    assert "已關帳期間" in html
    assert "重新開啟" in html
    assert "2024年1月" in html
    assert "Closed periods" not in html
