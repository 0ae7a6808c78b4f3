"""E-mail digests over a real SMTP server: what is unread and not mailed yet, one mail per
person, daily or weekly at most, in the person's language, never twice."""

from __future__ import annotations

import datetime
import socket
from typing import Any

import pytest

from headway.accounts.models import User
from headway.jobs.worker import SCHEDULERS
from headway.notifications import digests
from headway.notifications.digests import due_settings, send_digest, send_digests
from headway.notifications.models import Kind, Notification, NotificationSettings
from headway.notifications.services import mark_read, notify, settings_of, settings_update
from tests.app.conftest import Organisation
from tests.conftest import MailServer

pytestmark = pytest.mark.django_db

MONDAY = datetime.datetime(2026, 4, 6, 1, 0, tzinfo=datetime.UTC)  # 09:00 in Taipei
HOUR = datetime.timedelta(hours=1)
DAY = datetime.timedelta(days=1)


def tell(person: User, text: str, **more: Any) -> Notification:
    (made,) = notify(people=[person], kind=Kind.REPLY, text=lambda: text, **more)
    return made


def choose(person: User, digest: str) -> None:
    settings_update(
        person=person, by=person, digest=digest, expected_version=settings_of(person).version
    )


def mails_to(smtp_server: MailServer, address: str) -> list[str]:
    """The texts of the mails to `address`, with plain line ends (SMTP sends CRLF)."""
    return [
        message.get_content().replace("\r\n", "\n")
        for message in smtp_server.messages
        if message["To"] == address
    ]


def test_a_daily_digest_mails_what_is_new_at_most_once_a_day(
    org: Organisation, smtp_server: MailServer
) -> None:
    tell(org.member, "Nora replied to you")
    tell(org.member, "Sam mentioned you", actor=org.other_manager)

    assert send_digests(MONDAY) == 1
    tell(org.member, "Ada replied to you")
    assert send_digests(MONDAY + 23 * HOUR) == 0
    assert send_digests(MONDAY + DAY) == 1

    first, second = mails_to(smtp_server, "mark@example.com")
    assert "Nora replied to you" in first
    assert "Sam mentioned you" in first
    assert "Sam South" in first  # who did it
    assert "Ada replied to you" not in first
    assert "Ada replied to you" in second
    assert "Nora replied to you" not in second
    assert str(smtp_server.messages[0]["Subject"]) == "Headway: 2 new notifications"
    assert settings_of(org.member).last_digest_at == MONDAY + DAY
    assert not Notification.objects.filter(mailed_at__isnull=True).exists()


def test_a_weekly_digest_waits_seven_days(org: Organisation, smtp_server: MailServer) -> None:
    choose(org.member, "weekly")
    tell(org.member, "First week")
    assert send_digests(MONDAY) == 1

    tell(org.member, "Second week")
    assert send_digests(MONDAY + 6 * DAY) == 0
    assert send_digests(MONDAY + 7 * DAY) == 1

    assert [("Second week" in text) for text in mails_to(smtp_server, "mark@example.com")] == [
        False,
        True,
    ]


def test_people_who_chose_no_email_get_none(org: Organisation, smtp_server: MailServer) -> None:
    choose(org.member, "none")
    notice = tell(org.member, "Quiet")

    assert send_digests(MONDAY) == 0
    assert smtp_server.messages == []
    notice.refresh_from_db()
    assert notice.mailed_at is None


def test_what_was_read_on_the_site_is_not_mailed(
    org: Organisation, smtp_server: MailServer
) -> None:
    read = tell(org.member, "Seen already")
    tell(org.member, "Not seen yet")
    mark_read(person=org.member, ids=[read.pk])
    tell(org.manager, "Seen by Nora")
    mark_read(person=org.manager)

    assert send_digests(MONDAY) == 1

    (body,) = mails_to(smtp_server, "mark@example.com")
    assert "Not seen yet" in body
    assert "Seen already" not in body
    assert settings_of(org.manager).last_digest_at is None  # nothing to send, nothing spent


def test_each_person_gets_one_mail_with_their_own_notifications(
    org: Organisation, smtp_server: MailServer
) -> None:
    tell(org.member, "For Mark")
    tell(org.manager, "For Nora")
    tell(org.manager, "Also for Nora")

    assert send_digests(MONDAY) == 2

    assert sorted(str(message["To"]) for message in smtp_server.messages) == [
        "mark@example.com",
        "nora@example.com",
    ]
    (nora,) = mails_to(smtp_server, "nora@example.com")
    assert "For Mark" not in nora
    assert "Also for Nora" in nora


def test_two_workers_checking_at_once_send_one_digest(
    org: Organisation, smtp_server: MailServer
) -> None:
    tell(org.member, "Once only")
    # Both workers read the settings before either sends.
    (first_worker,) = due_settings(MONDAY)
    (second_worker,) = due_settings(MONDAY)

    assert send_digest(first_worker, MONDAY) is True
    assert send_digest(second_worker, MONDAY) is False
    assert send_digests(MONDAY) == 0

    assert len(smtp_server.messages) == 1


def test_a_person_reading_chinese_gets_a_chinese_digest_with_links_to_the_site(
    org: Organisation, smtp_server: MailServer, settings: Any
) -> None:
    settings.HEADWAY_SITE_URL = "https://headway.example.com/"
    org.manager.language = "zh-hant"
    org.manager.save()
    notice = tell(org.manager, "轉換率偏離目標", url="/kpis/conversion/")

    send_digests(MONDAY)

    (message,) = smtp_server.messages
    assert str(message["Subject"]) == "Headway：1 則新通知"
    (body,) = mails_to(smtp_server, "nora@example.com")
    assert "Headway 中與您有關的新消息" in body
    assert "轉換率偏離目標" in body
    assert f"https://headway.example.com/me/notifications/{notice.pk}/open/" in body
    assert body.endswith("https://headway.example.com/me/notifications/\n")


def test_a_long_digest_lists_the_first_ones_and_counts_the_rest(
    org: Organisation, smtp_server: MailServer
) -> None:
    for number in range(digests.MOST_LISTED + 3):
        tell(org.member, f"Notice {number}")

    send_digests(MONDAY)

    (body,) = mails_to(smtp_server, "mark@example.com")
    assert "Notice 0\n" in body
    assert f"Notice {digests.MOST_LISTED}\n" not in body
    assert "and 3 more notifications." in body
    assert not Notification.objects.filter(mailed_at__isnull=True).exists()


def test_a_digest_the_mail_server_refused_is_tried_again(
    org: Organisation, smtp_server: MailServer, settings: Any
) -> None:
    tell(org.member, "Try again")
    working_port = settings.EMAIL_PORT
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        settings.EMAIL_PORT = probe.getsockname()[1]  # nobody listens there once closed

    assert send_digests(MONDAY) == 0
    assert settings_of(org.member).last_digest_at is None
    assert Notification.objects.get().mailed_at is None

    settings.EMAIL_PORT = working_port
    assert send_digests(MONDAY + HOUR) == 1
    assert len(smtp_server.messages) == 1


def test_the_worker_sends_digests_at_most_every_ten_minutes(
    org: Organisation, smtp_server: MailServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert SCHEDULERS["notifications.digests"] == "headway.notifications.digests.run_digests"
    monkeypatch.setattr(digests, "_last_check", float("-inf"))
    tell(org.member, "From the worker")

    digests.run_digests(MONDAY)
    tell(org.viewer, "Too soon")
    digests.run_digests(MONDAY + DAY)

    assert [str(message["To"]) for message in smtp_server.messages] == ["mark@example.com"]
    assert NotificationSettings.objects.filter(last_digest_at=MONDAY).count() == 1
