"""The pages of a review meeting's documents: the pre-read pack and the minutes, their PDFs,
and the button that mails the minutes to the participants."""

from __future__ import annotations

import pytest
from django.test import Client

from headway.accounts.models import User
from headway.reviews.models import Meeting
from headway.reviews.services import meeting_start
from tests.app.conftest import Organisation
from tests.conftest import MailServer
from tests.reports import test_review_documents as documents
from tests.reports.test_review_documents import decided, prepared

# The reviews' organisation and meeting (tests/reports/test_review_documents.py) rather
# than the web tests' organisation.
org = documents.org
meeting = documents.meeting


def signed_in(person: User) -> Client:
    client = Client()
    client.force_login(person)
    return client


def test_everyone_signed_in_reads_the_pre_read_and_nobody_else(
    org: Organisation, meeting: Meeting
) -> None:
    meeting = prepared(org, meeting, comment="<script>alert(1)</script> too high")
    url = f"/reviews/meetings/{meeting.pk}/pre-read/"

    page = signed_in(org.viewer).get(url)
    anonymous = Client().get(url)

    assert page.status_code == 200
    html = page.content.decode()
    assert "Pre-read: 2026-Q1 review" in html
    for text in ("Revenue", "Conversion", "TWD 50.00", "50.0%", "No comment yet from Sam South."):
        assert text in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; too high" in html
    assert "<script>alert(1)" not in html
    assert f'href="/reviews/meetings/{meeting.pk}/pre-read.pdf?language=en"' in html
    assert anonymous.status_code == 302
    assert anonymous["Location"].startswith("/accounts/login/")


def test_the_pre_read_page_speaks_the_chosen_language(org: Organisation, meeting: Meeting) -> None:
    meeting = prepared(org, meeting)

    page = signed_in(org.member).get(
        f"/reviews/meetings/{meeting.pk}/pre-read/", {"language": "zh-hant"}
    )
    unknown = signed_in(org.member).get(
        f"/reviews/meetings/{meeting.pk}/pre-read/", {"language": "klingon"}
    )

    html = page.content.decode()
    assert "會前資料：2026-Q1 review" in html
    assert "列入議程原因" in html
    assert unknown.status_code == 404


@pytest.mark.slow
def test_the_pre_read_downloads_as_a_pdf(org: Organisation, meeting: Meeting) -> None:
    meeting = prepared(org, meeting)

    response = signed_in(org.viewer).get(
        f"/reviews/meetings/{meeting.pk}/pre-read.pdf", {"language": "zh-hant"}
    )

    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response.content.startswith(b"%PDF")
    assert response["Content-Disposition"] == (
        f'attachment; filename="headway-pre-read-2026-Q1-{meeting.pk}-zh-hant.pdf"'
    )


def test_a_meeting_that_has_not_decided_has_no_minutes_yet(
    org: Organisation, meeting: Meeting
) -> None:
    meeting = meeting_start(meeting=prepared(org, meeting), by=org.admin)
    client = signed_in(org.member)

    page = client.get(f"/reviews/meetings/{meeting.pk}/minutes/")
    pdf = client.get(f"/reviews/meetings/{meeting.pk}/minutes.pdf")

    assert page.status_code == 404
    assert "The minutes exist once the meeting has decided; it is in meeting now." in (
        page.content.decode()
    )
    assert pdf.status_code == 404
    assert pdf["Content-Type"].startswith("text/html")


def test_the_minutes_page_lists_attendance_decisions_and_actions(
    org: Organisation, meeting: Meeting
) -> None:
    meeting = decided(org, meeting)

    page = signed_in(org.viewer).get(f"/reviews/meetings/{meeting.pk}/minutes/")

    assert page.status_code == 200
    html = page.content.decode()
    for text in (
        "Minutes: 2026-Q1 review",
        "Ada Admin, Nora North",
        "Mark Member, Sam South",
        "Target 50.0% → 40.0% from 2026-02",
        "Rejected by Ada Admin",
        "We still steer by it",
        "Call 20 old leads",
        "2026-05-31",
    ):
        assert text in html
    # A viewer reads the minutes but has no button to send them.
    assert f"/reviews/meetings/{meeting.pk}/minutes/send/" not in html
    organiser = signed_in(org.admin).get(f"/reviews/meetings/{meeting.pk}/minutes/")
    assert f'action="/reviews/meetings/{meeting.pk}/minutes/send/"' in organiser.content.decode()


@pytest.mark.slow
def test_the_minutes_download_as_a_pdf(org: Organisation, meeting: Meeting) -> None:
    meeting = decided(org, meeting)

    response = signed_in(org.member).get(f"/reviews/meetings/{meeting.pk}/minutes.pdf")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response.content.startswith(b"%PDF")
    assert f"headway-minutes-2026-Q1-{meeting.pk}-en.pdf" in response["Content-Disposition"]


@pytest.mark.slow
def test_the_chair_sends_the_minutes_and_is_told_who_got_them(
    org: Organisation, meeting: Meeting, smtp_server: MailServer
) -> None:
    meeting = decided(org, meeting)
    client = signed_in(org.admin)

    response = client.post(f"/reviews/meetings/{meeting.pk}/minutes/send/")

    assert response.status_code == 302
    assert response["Location"] == f"/reviews/meetings/{meeting.pk}/"
    assert len(smtp_server.messages) == 4
    meeting.refresh_from_db()
    assert meeting.minutes_sent_at is not None
    page = client.get(f"/reviews/meetings/{meeting.pk}/minutes/")
    html = page.content.decode()
    assert "The minutes were sent to: Ada Admin, Nora North, Mark Member, Sam South." in html
    assert "The minutes were last sent on" in html


def test_a_member_may_not_send_the_minutes_and_nobody_gets_mail(
    org: Organisation, meeting: Meeting, smtp_server: MailServer
) -> None:
    meeting = decided(org, meeting)

    response = signed_in(org.member).post(f"/reviews/meetings/{meeting.pk}/minutes/send/")
    asked = signed_in(org.admin).get(f"/reviews/meetings/{meeting.pk}/minutes/send/")

    assert response.status_code == 403
    assert asked.status_code == 405
    assert smtp_server.messages == []
    meeting.refresh_from_db()
    assert meeting.minutes_sent_at is None


def test_the_minutes_of_a_meeting_under_way_are_not_sent_and_the_chair_is_told_why(
    org: Organisation, meeting: Meeting, smtp_server: MailServer
) -> None:
    meeting = meeting_start(meeting=prepared(org, meeting), by=org.admin)
    client = signed_in(org.admin)

    response = client.post(f"/reviews/meetings/{meeting.pk}/minutes/send/", follow=True)

    assert smtp_server.messages == []
    assert response.redirect_chain[0] == (f"/reviews/meetings/{meeting.pk}/", 302)
    assert "the minutes are sent once the meeting has decided" in response.content.decode()
