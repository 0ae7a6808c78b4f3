"""What the worker does for reviews: it reminds each KPI owner, once and in their
language, to comment on their KPIs before a meeting (over a real SMTP server), and opens
the review cycle of each period ahead of its end."""

from __future__ import annotations

import datetime

import pytest

from headway.accounts.models import Organization
from headway.audit.models import AuditEntry
from headway.reviews.models import Meeting, ReminderSent, ReviewCycle
from headway.reviews.reminders import send_comment_reminders
from headway.reviews.services import comment_add, ensure_cycle, meeting_create
from tests.app.conftest import Organisation
from tests.conftest import MailServer
from tests.reviews.conftest import at, audit_rows, kpi, prepared

# Reminders go out from five days before the meeting, on Taipei's days: the meeting is at
# 07:00 in Taipei on 15 April, which is still 14 April in UTC.
REMINDER_DAY = datetime.date(2026, 4, 10)


@pytest.fixture
def early_meeting(org: Organisation, cycle: ReviewCycle) -> Meeting:
    meeting = meeting_create(
        by=org.admin,
        cycle=cycle,
        title="2026-Q1 review",
        scheduled_at=at(2026, 4, 15, hour=7),
        chair=org.admin,
        participants=[org.manager, org.other_manager],
        remind_days_before=5,
    )
    return prepared(org, meeting)


@pytest.fixture
def nora_reads_chinese(org: Organisation) -> None:
    org.manager.language = "zh-hant"
    org.manager.save()


@pytest.mark.usefixtures("early_meeting", "nora_reads_chinese")
def test_each_owner_is_reminded_once_in_their_language(smtp_server: MailServer) -> None:
    with audit_rows() as written:
        assert send_comment_reminders(REMINDER_DAY) == 2
    assert written == ["review.reminder.send", "review.reminder.send"]
    by_address = {message["To"]: message for message in smtp_server.messages}
    assert sorted(by_address) == ["nora@example.com", "sam@example.com"]

    chinese = by_address["nora@example.com"]
    assert chinese["Subject"].strip() == "Headway：請在「2026-Q1 review」之前說明您負責的 KPI"
    body = chinese.get_content()
    assert "2026-Q1 review 將於 2026-04-15 07:00 召開" in body
    assert "- Conversion (conversion)" in body
    assert "Revenue" not in body

    english = by_address["sam@example.com"]
    assert english["Subject"] == "Headway: please comment on your KPIs before 2026-Q1 review"
    body = english.get_content()
    assert "2026-Q1 review meets on 2026-04-15 07:00." in body
    assert "- Revenue (revenue)" in body
    assert "Conversion" not in body

    assert send_comment_reminders(REMINDER_DAY) == 0
    assert send_comment_reminders(REMINDER_DAY + datetime.timedelta(days=2)) == 0
    assert len(smtp_server.messages) == 2
    assert ReminderSent.objects.count() == 2


@pytest.mark.usefixtures("early_meeting")
def test_nobody_is_reminded_before_the_reminder_day_or_after_the_meeting(
    smtp_server: MailServer,
) -> None:
    assert send_comment_reminders(REMINDER_DAY - datetime.timedelta(days=1)) == 0
    assert send_comment_reminders(datetime.date(2026, 4, 16)) == 0
    assert smtp_server.messages == []
    assert not AuditEntry.objects.filter(action="review.reminder.send").exists()


def test_an_owner_who_commented_is_not_reminded(
    org: Organisation, early_meeting: Meeting, smtp_server: MailServer
) -> None:
    comment_add(meeting=early_meeting, kpi=kpi("revenue"), by=org.other_manager, text="Known")
    assert send_comment_reminders(REMINDER_DAY) == 1
    assert [message["To"] for message in smtp_server.messages] == ["nora@example.com"]


def test_a_meeting_whose_agenda_is_not_built_reminds_nobody(
    org: Organisation, cycle: ReviewCycle, smtp_server: MailServer
) -> None:
    meeting_create(
        by=org.admin,
        cycle=cycle,
        title="Not prepared",
        scheduled_at=at(2026, 4, 15),
        chair=org.admin,
    )
    assert send_comment_reminders(REMINDER_DAY) == 0
    assert smtp_server.messages == []


# -- the cycles the worker opens ------------------------------------------------------------


def test_the_worker_opens_the_quarters_cycle_fourteen_days_before_its_end_once(
    org: Organisation,
) -> None:
    assert ensure_cycle(datetime.date(2026, 6, 15)) is None
    with audit_rows() as written:
        opened = ensure_cycle(datetime.date(2026, 6, 16))
    assert written == ["review.cycle.create"]
    assert opened is not None
    assert (opened.period, opened.created_by) == ("2026-Q2", None)
    assert ensure_cycle(datetime.date(2026, 6, 20)) is None
    assert ensure_cycle(datetime.date(2026, 7, 2)) is None
    assert list(ReviewCycle.objects.values_list("period", flat=True)) == ["2026-Q2"]


def test_a_cycle_missed_while_the_worker_was_down_is_opened_just_after_its_end(
    org: Organisation,
) -> None:
    opened = ensure_cycle(datetime.date(2026, 7, 3))
    assert opened is not None
    assert opened.period == "2026-Q2"
    assert ensure_cycle(datetime.date(2026, 7, 20)) is None
    assert ReviewCycle.objects.count() == 1


def test_the_worker_opens_no_cycle_when_reviews_are_opened_by_hand(org: Organisation) -> None:
    organization = Organization.current()
    organization.review_grain = ""
    organization.save()
    assert ensure_cycle(datetime.date(2026, 6, 20)) is None
    assert ensure_cycle(datetime.date(2026, 7, 3)) is None
    assert not ReviewCycle.objects.exists()


def test_the_worker_follows_the_organisations_cadence(org: Organisation) -> None:
    organization = Organization.current()
    organization.review_grain = "month"
    organization.save()
    missed = ensure_cycle(datetime.date(2026, 6, 5))
    assert missed is not None
    assert (missed.period, missed.grain) == ("2026-05", "month")
    assert ensure_cycle(datetime.date(2026, 6, 15)) is None
    opened = ensure_cycle(datetime.date(2026, 6, 16))
    assert opened is not None
    assert opened.period == "2026-06"
