"""Who is calling: a personal API token (`Authorization: Bearer hw_...`) or the browser
session of a signed-in person (with Django's CSRF check, so the docs page can try things).

Each authenticator returns a `Caller`; ninja puts it on `request.auth`. What a caller may
do is decided by the services (roles, teams); a token's scope only decides whether the
request may write at all.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from django.conf import settings
from django.http import HttpRequest
from ninja.errors import HttpError
from ninja.security import APIKeyCookie, HttpBearer
from ninja.utils import check_csrf

from headway.accounts.models import ApiToken, User
from headway.accounts.permissions import is_signed_in
from headway.accounts.services import token_user
from headway.audit.errors import NotAllowed


@dataclass(frozen=True)
class Caller:
    """The person behind a request, how they signed in, and whether they may write."""

    user: User
    via: Literal["token", "session"]
    can_write: bool
    token_prefix: str = ""


class TokenAuth(HttpBearer):
    """A personal API token. Only its hash is stored; revoked tokens no longer work."""

    def authenticate(self, request: HttpRequest, token: str) -> Caller | None:
        found = token_user(token.strip())
        if found is None:
            return None
        user, api_token = found
        return Caller(
            user=user,
            via="token",
            can_write=api_token.scope == ApiToken.Scope.WRITE,
            token_prefix=api_token.prefix,
        )


class SessionAuth(APIKeyCookie):
    """The browser session of a signed-in person; writes need Django's CSRF token.

    Unlike ninja's own SessionAuth, the CSRF check runs only for a signed-in session, and a
    request that sends an Authorization header is left to the token: a wrong token is a
    401, never a CSRF failure nor a silent fall-back to the session.
    """

    param_name = settings.SESSION_COOKIE_NAME

    def __call__(self, request: HttpRequest) -> Caller | None:
        if "authorization" in request.headers:
            return None
        user = getattr(request, "user", None)
        if not is_signed_in(user):
            return None
        exempt = getattr(request, "_ninja_csrf_exempt", False)
        if self.csrf and not exempt and check_csrf(request) is not None:
            raise HttpError(
                403,
                "CSRF check failed: a browser session must send the X-CSRFToken header "
                "on writes (or use an API token instead)",
            )
        assert isinstance(user, User)
        return Caller(user=user, via="session", can_write=True)

    def authenticate(self, request: HttpRequest, key: str | None) -> Any:
        # Never reached: __call__ above does the whole check. Should it ever be called,
        # nobody is authenticated (deny by default).
        return None


def caller_of(request: HttpRequest) -> Caller:
    """The authenticated caller of a request that passed the API's authentication."""
    caller = getattr(request, "auth", None)
    assert isinstance(caller, Caller), "the operation must require authentication"
    return caller


def reader(request: HttpRequest) -> User:
    return caller_of(request).user


def writer(request: HttpRequest) -> User:
    """The person writing; refuses a token that may only read, before any service runs."""
    caller = caller_of(request)
    if not caller.can_write:
        raise NotAllowed(
            "this API token can only read; create a token with the read-and-write scope "
            "to change things"
        )
    return caller.user
