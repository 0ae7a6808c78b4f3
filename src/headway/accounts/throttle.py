"""Slowing down password guessing: after HEADWAY_LOGIN_MAX_FAILURES failed sign-ins (a
wrong password or a wrong second-factor code) for one account from one address within
HEADWAY_LOGIN_WINDOW_SECONDS, that account refuses further attempts from that address,
even with the right password, until the oldest of those failures is older than the window.

Per account *and* address: someone guessing at one account is stopped, while the person
themselves (from another address) and everyone else can still sign in, so the throttle
cannot be used to lock people out from afar. A successful sign-in forgets the failures.
API tokens are not affected: they are long random secrets, not passwords.
"""

from __future__ import annotations

import datetime
import logging
import math

from django.conf import settings
from django.utils import timezone

from headway.accounts.models import SignInFailure
from headway.lib.security_log import security_event

__all__ = ["normal_username", "sign_in_blocked", "sign_in_failed", "sign_in_succeeded"]


def _window() -> datetime.timedelta:
    return datetime.timedelta(seconds=settings.HEADWAY_LOGIN_WINDOW_SECONDS)


def normal_username(username: str) -> str:
    """E-mail addresses differ only in case: ADA@example.com and ada@… share a count."""
    return username.strip().lower()[:254]


def sign_in_blocked(username: str, ip: str) -> datetime.datetime | None:
    """When attempts for this account from this address are allowed again, or None if
    they are allowed now."""
    limit = settings.HEADWAY_LOGIN_MAX_FAILURES
    if limit <= 0:
        return None
    now = timezone.now()
    recent = list(
        SignInFailure.objects.filter(
            username=normal_username(username), ip=ip, at__gte=now - _window()
        )
        .order_by("-at")
        .values_list("at", flat=True)[:limit]
    )
    if len(recent) < limit:
        return None
    return recent[-1] + _window()


def minutes_until(moment: datetime.datetime) -> int:
    """Whole minutes from now until a moment (at least one), for the message people see."""
    return max(1, math.ceil((moment - timezone.now()).total_seconds() / 60))


def sign_in_failed(username: str, ip: str, reason: str) -> None:
    """Counts a failure, and logs the moment the account becomes throttled."""
    SignInFailure.objects.create(username=normal_username(username), ip=ip)
    # Housekeeping: failures older than the window no longer count for anything.
    SignInFailure.objects.filter(at__lt=timezone.now() - _window()).delete()
    if sign_in_blocked(username, ip) is not None:
        security_event(
            "login.throttled",
            level=logging.WARNING,
            user=normal_username(username),
            ip=ip,
            reason=reason,
        )


def sign_in_succeeded(username: str, ip: str) -> None:
    SignInFailure.objects.filter(username=normal_username(username), ip=ip).delete()
