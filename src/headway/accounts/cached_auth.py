"""Sessions and signed-in people, kept in each web process between requests.

A signed-in request used to cost two queries before its view ran (the session, then the
person), about two milliseconds on PostgreSQL: as much as a cached page itself. Both are
kept here under the database's generations (`headway.changes.generations`), read once per
request: a session under `auth` (which moves when any session or person is written: a
sign-in, a sign-out, a new password, a deactivation), a person under both `auth` and
`data` (so what hangs on a person, such as a team, is never older than the data). When a
generation moves, everything kept under the older one is dropped.

Nothing is kept when the generations cannot be read or changes are not tracked (tests
unless they ask, see `HEADWAY_TRACK_CHANGES`).
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from django.contrib import auth
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.middleware import AuthenticationMiddleware
from django.contrib.auth.models import AnonymousUser
from django.contrib.sessions.backends import db
from django.contrib.sessions.base_session import AbstractBaseSession
from django.http import HttpRequest
from django.utils import timezone
from django.utils.functional import SimpleLazyObject

from headway.changes.generations import GenerationBox, current

_SESSIONS: GenerationBox[int, AbstractBaseSession] = GenerationBox()
_PEOPLE: GenerationBox[tuple[int, int], AbstractBaseUser] = GenerationBox()


def forget_all() -> None:
    """For tests: this process keeps nothing from before."""
    _SESSIONS.clear()
    _PEOPLE.clear()


class SessionStore(db.SessionStore):
    """Django's database sessions, with the row kept while `auth` does not move. The row
    is decoded (and its signature checked) on every request, as before."""

    def _get_session_from_db(self) -> AbstractBaseSession | None:
        # (Django's stubs do not know the method this overrides.)
        from_db: Callable[[], AbstractBaseSession | None] = super()._get_session_from_db  # type: ignore[misc]
        generations = current()
        key = self.session_key
        if generations is None or not key:
            return from_db()
        kept = _SESSIONS.get(generations.auth, key)
        if kept is not None and kept.expire_date > timezone.now():
            return kept
        found = from_db()
        if found is not None:
            _SESSIONS.put(generations.auth, key, found)
        return found


def _person(request: HttpRequest) -> AbstractBaseUser | AnonymousUser:
    generations = current()
    session = request.session
    user_id = session.get(SESSION_KEY)
    if generations is None or user_id is None:
        return auth.get_user(request)
    # The session's hash of the password is part of the key: Django checked it against
    # the person when the entry was made, and checks a session with another hash anew.
    key = (str(user_id), session.get(BACKEND_SESSION_KEY), session.get(HASH_SESSION_KEY))
    stamp = (generations.auth, generations.data)
    kept = _PEOPLE.get(stamp, key)
    if kept is not None:
        return copy.copy(kept)
    user = auth.get_user(request)
    if user.is_authenticated:
        clean = copy.copy(user)
        # Related rows (a team, say) are read afresh by each request that asks.
        clean._state.fields_cache = {}
        _PEOPLE.put(stamp, key, clean)
    return user


class CachedAuthenticationMiddleware(AuthenticationMiddleware):
    """Django's authentication middleware, taking the person from `_PEOPLE` when it can."""

    def process_request(self, request: HttpRequest) -> None:
        super().process_request(request)
        request.user = SimpleLazyObject(lambda: _cached_person(request))  # type: ignore[assignment]


def _cached_person(request: HttpRequest) -> Any:
    if not hasattr(request, "_cached_user"):
        request._cached_user = _person(request)  # type: ignore[attr-defined]
    return request._cached_user  # type: ignore[attr-defined]
