"""Making notifications, reading them, and the settings of their e-mail digest."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils import timezone, translation

from headway.accounts.models import Organization, User
from headway.audit.errors import NotAllowed, check_version
from headway.audit.services import audit_record
from headway.notifications.models import Digest, Kind, Notification, NotificationSettings


def language_of(person: User) -> str:
    return person.language or Organization.current().language or "en"


def notify(
    *,
    people: Iterable[User],
    kind: str,
    text: Callable[[], str],
    url: str = "",
    actor: User | None = None,
    dedupe_key: str = "",
) -> list[Notification]:
    """Notifies each person (not the actor themself), with `text()` called in each
    person's language; with a `dedupe_key`, at most once per person. Notifications are
    not audited: they record nothing that is not already in the audit log."""
    if kind not in Kind.values:
        raise ValueError(f"unknown notification kind {kind!r}")
    made = []
    seen: set[int] = set()
    for person in people:
        if person.pk in seen or not person.is_active:
            continue
        seen.add(person.pk)
        if actor is not None and person.pk == actor.pk:
            continue
        with translation.override(language_of(person)):
            message = str(text())[:500]
        try:
            with transaction.atomic():
                made.append(
                    Notification.objects.create(
                        person=person,
                        kind=kind,
                        text=message,
                        url=url,
                        actor=actor,
                        dedupe_key=dedupe_key,
                    )
                )
        except IntegrityError:
            continue  # already notified under this key
    return made


def unread(person: User) -> QuerySet[Notification]:
    return Notification.objects.filter(person=person, read_at__isnull=True)


def unread_count(person: User) -> int:
    return unread(person).count()


def recent(person: User, limit: int = 50, before: int | None = None) -> list[Notification]:
    """The person's notifications, newest first (those older than `before`, an id, when
    given: the next page)."""
    query = Notification.objects.filter(person=person).select_related("actor")
    if before is not None:
        query = query.filter(pk__lt=before)
    return list(query[:limit])


def notification_open(*, person: User, pk: int) -> Notification | None:
    """The person's notification `pk`, marked read (None when it is not theirs)."""
    found = Notification.objects.filter(person=person, pk=pk).first()
    if found is not None and found.read_at is None:
        mark_read(person=person, ids=[found.pk])
        found.read_at = timezone.now()
    return found


def mark_read(*, person: User, ids: Iterable[int] | None = None) -> int:
    """Marks the person's notifications read (all unread ones when `ids` is None)."""
    query = unread(person)
    if ids is not None:
        query = query.filter(pk__in=list(ids))
    return query.update(read_at=timezone.now())


def settings_of(person: User) -> NotificationSettings:
    found, _ = NotificationSettings.objects.get_or_create(person=person)
    return found


def settings_update(
    *, person: User, by: User, digest: str, expected_version: int | None = None
) -> NotificationSettings:
    """A person chooses their digest; only for themself."""
    if by.pk != person.pk:
        raise NotAllowed("people choose their own notification e-mails")
    if digest not in Digest.values:
        raise ValidationError({"digest": f"{digest!r} is not one of {', '.join(Digest.values)}"})
    with transaction.atomic():
        current = NotificationSettings.objects.select_for_update().get(pk=settings_of(person).pk)
        check_version("Your notification settings", expected_version, current.version)
        before = current.digest
        current.digest = digest
        current.version += 1
        current.save()
        audit_record(
            actor=by,
            action="notifications.settings",
            target=current,
            before={"digest": before},
            after={"digest": digest},
        )
    return current
