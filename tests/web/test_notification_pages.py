"""The bell and /me/notifications/: the unread count in every page's header, the list,
opening one (only ever to a page of this site), marking all read, and the e-mail digest."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from headway.accounts.models import User
from headway.audit.models import AuditEntry
from headway.notifications.models import Kind, Notification, NotificationSettings
from headway.notifications.services import notify, settings_of, unread_count
from tests.web.conftest import Org

pytestmark = pytest.mark.django_db

PAGE = "/me/notifications/"


def tell(person: User, text: str, **more: Any) -> Notification:
    (made,) = notify(people=[person], kind=Kind.REPLY, text=lambda: text, **more)
    return made


def open_url(notice: Notification) -> str:
    return f"{PAGE}{notice.pk}/open/"


def test_the_bell_in_the_header_shows_how_many_are_unread(org: Org) -> None:
    tell(org.nora, "One")
    tell(org.nora, "Two")
    tell(org.nora, "Three")

    html = org.client(org.nora).get("/").content.decode()

    bell = re.search(
        r'<a href="/me/notifications/" class="bell bell-unread" id="bell".*?</a>', html
    )
    assert bell is not None
    assert '<span class="bell-count" aria-hidden="true">3</span>' in bell.group(0)
    assert '<span class="visually-hidden">3 unread notifications</span>' in bell.group(0)


def test_the_bell_says_so_when_nothing_is_unread(org: Org) -> None:
    tell(org.nora, "Not for Vic")

    html = org.client(org.vic).get("/").content.decode()

    assert 'id="bell"' in html
    assert "bell-count" not in html
    assert "Notifications, none unread" in html


def test_the_bell_speaks_chinese_to_a_person_reading_chinese(org: Org) -> None:
    tell(org.nora, "一")
    client = org.client(org.nora)
    client.post("/language/", {"language": "zh-hant", "next": "/"})

    html = client.get("/").content.decode()

    assert '<span class="visually-hidden">1 則未讀通知</span>' in html


def test_people_who_are_not_signed_in_have_no_bell(org: Org) -> None:
    html = org.client(None).get("/accounts/login/").content.decode()

    assert 'id="bell"' not in html


def test_the_bell_costs_one_query_however_many_notifications(org: Org) -> None:
    client = org.client(org.nora)
    for number in range(20):
        tell(org.nora, f"Notice {number}")

    with CaptureQueriesContext(connection) as context:
        assert client.get("/").status_code == 200

    counted = [
        query["sql"]
        for query in context.captured_queries
        if "notifications_notification" in query["sql"]
    ]
    assert len(counted) == 1
    assert "COUNT(" in counted[0].upper()


def test_the_page_lists_my_notifications_newest_first_with_the_unread_highlighted(
    org: Org,
) -> None:
    old = tell(org.nora, "Older and read")
    Notification.objects.filter(pk=old.pk).update(read_at=old.created_at)
    tell(org.nora, "Mo mentioned you", actor=org.mo, url="/kpis/win_rate/")
    tell(org.sam, "Only for Sam")

    html = org.client(org.nora).get(PAGE).content.decode()

    assert html.index("Mo mentioned you") < html.index("Older and read")
    assert "Only for Sam" not in html
    new = Notification.objects.get(text="Mo mentioned you")
    item = re.search(
        rf'<li class="notification notification-unread" id="notification-{new.pk}">.*?</li>',
        html,
        re.S,
    )
    assert item is not None
    assert f'<a href="{open_url(new)}">Mo mentioned you</a>' in item.group(0)
    assert "Mo Member" in item.group(0)
    assert "Replies to me" in item.group(0)
    assert f'<li class="notification" id="notification-{old.pk}">' in html


def test_the_page_pages_on_to_older_notifications(org: Org) -> None:
    for number in range(55):
        tell(org.nora, f"Notice {number:02d}")
    client = org.client(org.nora)

    first = client.get(PAGE).content.decode()
    older = re.search(r'<a href="\?before=(\d+)">Older notifications</a>', first)
    assert older is not None
    rest = client.get(f"{PAGE}?before={older.group(1)}").content.decode()

    assert first.count('class="notification notification-unread"') == 50
    assert [f"Notice {n:02d}" in first for n in (54, 5, 4)] == [True, True, False]
    assert rest.count('class="notification notification-unread"') == 5
    assert [f"Notice {n:02d}" in rest for n in (4, 0, 5)] == [True, True, False]


def test_mark_all_read_clears_the_bell(org: Org) -> None:
    tell(org.nora, "One")
    tell(org.nora, "Two")
    tell(org.sam, "Sam's")
    client = org.client(org.nora)

    response = client.post(f"{PAGE}read/", follow=True)

    assert response.redirect_chain == [(PAGE, 302)]
    assert unread_count(org.nora) == 0
    assert unread_count(org.sam) == 1
    html = response.content.decode()
    assert "All your notifications are marked read." in html
    assert "bell-count" not in html


def test_mark_all_read_takes_only_posts(org: Org) -> None:
    tell(org.nora, "One")

    assert org.client(org.nora).get(f"{PAGE}read/").status_code == 405
    assert unread_count(org.nora) == 1


def test_opening_a_notification_marks_it_read_and_goes_to_its_page(org: Org) -> None:
    notice = tell(org.nora, "Win rate is off track", url="/kpis/win_rate/?tab=chart#latest")

    response = org.client(org.nora).get(open_url(notice))

    assert response.status_code == 302
    assert response["Location"] == "/kpis/win_rate/?tab=chart#latest"
    notice.refresh_from_db()
    assert notice.read_at is not None


def test_a_notification_without_a_link_is_marked_read_with_a_post(org: Org) -> None:
    notice = tell(org.nora, "Just so you know")
    client = org.client(org.nora)
    assert "Mark read" in client.get(PAGE).content.decode()

    response = client.post(open_url(notice))

    assert response["Location"] == PAGE
    assert unread_count(org.nora) == 0


def test_someone_elses_notification_cannot_be_opened(org: Org) -> None:
    notice = tell(org.sam, "Sam's", url="/kpis/revenue/")

    assert org.client(org.nora).get(open_url(notice)).status_code == 404
    assert unread_count(org.sam) == 1


@pytest.mark.parametrize(
    "url",
    [
        "https://evil.example/steal",
        "//evil.example/steal",
        "/\\evil.example/steal",
        "\\\\evil.example",
        "/\t/evil.example",
        "/ /evil.example",
        "javascript:alert(1)",
        "http:/evil.example",
        "kpis/relative",
    ],
)
def test_a_notification_never_sends_anyone_to_another_site(org: Org, url: str) -> None:
    notice = tell(org.nora, "Suspicious", url=url)

    response = org.client(org.nora).get(open_url(notice))

    assert response.status_code == 302
    assert response["Location"] == PAGE
    assert unread_count(org.nora) == 0


def test_the_page_is_for_signed_in_people(org: Org) -> None:
    response = org.client(None).get(PAGE)

    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_a_person_chooses_a_weekly_digest(org: Org) -> None:
    version = settings_of(org.mo).version

    response = org.client(org.mo).post(PAGE, {"digest": "weekly", "version": version}, follow=True)

    assert response.redirect_chain == [(PAGE, 302)]
    assert "Your choice of notification e-mails was saved." in response.content.decode()
    assert NotificationSettings.objects.get(person=org.mo).digest == "weekly"
    assert re.search(r'value="weekly"[^>]*\bchecked', response.content.decode())
    assert AuditEntry.objects.filter(action="notifications.settings", actor=org.mo).count() == 1


def test_a_digest_choice_made_on_a_stale_page_is_a_conflict(org: Org) -> None:
    stale = settings_of(org.mo).version
    client = org.client(org.mo)
    client.post(PAGE, {"digest": "weekly", "version": stale})

    response = client.post(PAGE, {"digest": "none", "version": stale})

    assert response.status_code == 200
    assert "Someone else changed this while you were editing it." in response.content.decode()
    assert NotificationSettings.objects.get(person=org.mo).digest == "weekly"


def test_a_digest_that_does_not_exist_is_shown_next_to_the_field(org: Org) -> None:
    response = org.client(org.mo).post(
        PAGE, {"digest": "hourly", "version": settings_of(org.mo).version}
    )

    html = response.content.decode()
    assert re.search(r'<div class="field field-invalid">.*?Select a valid choice', html, re.S)
    assert NotificationSettings.objects.get(person=org.mo).digest == "daily"


def test_the_page_reads_in_chinese(org: Org) -> None:
    tell(org.nora, "你好")
    client = org.client(org.nora)
    client.post("/language/", {"language": "zh-hant", "next": "/"})

    html = client.get(PAGE).content.decode()

    assert "<h1>通知</h1>" in html
    assert "全部標為已讀" in html
    assert "每週一封電子郵件" in html
