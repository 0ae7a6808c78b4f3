"""Notifying people: each in their own language, once per key, never the one who acted,
never someone who has left; marking read; and each person's choice of e-mail digest."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from headway.accounts.models import Organization
from headway.audit.errors import ConflictError, NotAllowed
from headway.audit.models import AuditEntry
from headway.notifications.models import Kind, Notification, NotificationSettings
from headway.notifications.services import (
    mark_read,
    notification_open,
    notify,
    recent,
    settings_of,
    settings_update,
    unread_count,
)
from tests.app.conftest import Organisation

pytestmark = pytest.mark.django_db


def test_each_person_is_notified_in_their_own_language(org: Organisation) -> None:
    org.manager.language = "zh-hant"
    org.manager.save()

    made = notify(
        people=[org.manager, org.member],
        kind=Kind.WORKSHOP,
        text=lambda: _("Mark all read"),
        url="/me/",
    )

    texts = {notification.person.email: notification.text for notification in made}
    assert texts == {"nora@example.com": "全部標為已讀", "mark@example.com": "Mark all read"}


def test_people_without_a_language_read_the_organisations(org: Organisation) -> None:
    organization = Organization.current()
    organization.language = "zh-hant"
    organization.save()

    (made,) = notify(people=[org.member], kind=Kind.REVIEW, text=lambda: _("Mark all read"))

    assert made.text == "全部標為已讀"


def test_a_dedupe_key_notifies_each_person_only_once(org: Organisation) -> None:
    first = notify(
        people=[org.manager, org.member], kind=Kind.KPI_RED, text=lambda: "Red", dedupe_key="k"
    )
    again = notify(
        people=[org.manager, org.member, org.viewer],
        kind=Kind.KPI_RED,
        text=lambda: "Red",
        dedupe_key="k",
    )

    assert len(first) == 2
    assert [notification.person for notification in again] == [org.viewer]
    assert Notification.objects.filter(dedupe_key="k").count() == 3


def test_without_a_key_every_call_notifies_again(org: Organisation) -> None:
    for _round in range(2):
        notify(people=[org.member], kind=Kind.REPLY, text=lambda: "A reply")

    assert unread_count(org.member) == 2


def test_the_person_who_acted_is_not_notified_of_their_own_act(org: Organisation) -> None:
    made = notify(
        people=[org.manager, org.member, org.member],
        kind=Kind.MENTION,
        text=lambda: "Mentioned",
        actor=org.member,
    )

    assert [(item.person, item.actor) for item in made] == [(org.manager, org.member)]


def test_people_who_left_are_not_notified(org: Organisation) -> None:
    org.member.is_active = False
    org.member.save()

    made = notify(people=[org.member, org.manager], kind=Kind.PROPOSAL, text=lambda: "Moved")

    assert [item.person for item in made] == [org.manager]


def test_an_unknown_kind_is_a_mistake_of_the_caller(org: Organisation) -> None:
    with pytest.raises(ValueError, match="unknown notification kind"):
        notify(people=[org.member], kind="gossip", text=lambda: "Psst")


def test_a_person_marks_only_their_own_notifications_read(org: Organisation) -> None:
    (mine,) = notify(people=[org.member], kind=Kind.REPLY, text=lambda: "Mine")
    (theirs,) = notify(people=[org.manager], kind=Kind.REPLY, text=lambda: "Theirs")

    assert mark_read(person=org.member, ids=[mine.pk, theirs.pk]) == 1
    assert unread_count(org.member) == 0
    assert unread_count(org.manager) == 1
    assert notification_open(person=org.member, pk=theirs.pk) is None
    assert unread_count(org.manager) == 1


def test_recent_lists_the_newest_first_and_pages_on(org: Organisation) -> None:
    for number in range(5):
        notify(people=[org.member], kind=Kind.REPLY, text=lambda number=number: f"n{number}")

    first = recent(org.member, limit=3)
    rest = recent(org.member, limit=3, before=first[-1].pk)

    assert [item.text for item in first] == ["n4", "n3", "n2"]
    assert [item.text for item in rest] == ["n1", "n0"]


def test_a_person_chooses_their_digest_and_it_is_audited(org: Organisation) -> None:
    version = settings_of(org.member).version

    chosen = settings_update(
        person=org.member, by=org.member, digest="weekly", expected_version=version
    )

    assert (chosen.digest, chosen.version) == ("weekly", version + 1)
    entry = AuditEntry.objects.get(action="notifications.settings")
    assert (entry.before, entry.after) == ({"digest": "daily"}, {"digest": "weekly"})


def test_a_stale_version_of_the_settings_is_a_conflict(org: Organisation) -> None:
    version = settings_of(org.member).version
    settings_update(person=org.member, by=org.member, digest="weekly", expected_version=version)

    with pytest.raises(ConflictError):
        settings_update(person=org.member, by=org.member, digest="none", expected_version=version)
    assert NotificationSettings.objects.get(person=org.member).digest == "weekly"


def test_nobody_chooses_the_digest_of_someone_else(org: Organisation) -> None:
    with pytest.raises(NotAllowed):
        settings_update(person=org.member, by=org.admin, digest="none")


def test_a_digest_that_does_not_exist_is_refused_on_its_field(org: Organisation) -> None:
    with pytest.raises(ValidationError) as raised:
        settings_update(person=org.member, by=org.member, digest="hourly")
    assert "digest" in raised.value.message_dict
