"""What the security log hears from requests: who is asking and from where, refusals
(every 403, from a page, the API or a failed CSRF check), and sign-ins and sign-outs.

The events themselves are written by `headway.lib.security_log`; see docs/security.md for
the list. Sign-ins are heard through Django's auth signals (`user_logged_in`,
`user_login_failed`, `user_logged_out`), connected in `AccountsConfig.ready`: they fire for
every way of signing in, and carry the credentials with the password already masked,
which is not logged anyway.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Callable, Mapping
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse

from headway.lib.security_log import security_context, security_event

__all__ = ["SecurityLogMiddleware", "client_ip", "connect_signals"]


def _valid_ip(text: str) -> str | None:
    try:
        return str(ipaddress.ip_address(text.strip()))
    except ValueError:
        return None


def client_ip(request: HttpRequest) -> str:
    """The address of the person's browser.

    Behind HEADWAY_PROXY_COUNT reverse proxies, each of which appends the address it was
    called from to X-Forwarded-For, the browser is that many entries from the right; the
    entries further left are whatever the client sent, and are never trusted."""
    remote = _valid_ip(request.META.get("REMOTE_ADDR", "")) or "unknown"
    proxies = int(getattr(settings, "HEADWAY_PROXY_COUNT", 0))
    if proxies <= 0:
        return remote
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")
    if len(forwarded) < proxies:
        return remote
    return _valid_ip(forwarded[-proxies]) or remote


def _who(request: HttpRequest) -> dict[str, object]:
    """The person behind a request (an API token's owner once the API has checked it)."""
    facts: dict[str, object] = {}
    caller = getattr(request, "auth", None)
    caller_user = getattr(caller, "user", None)
    if caller_user is not None:
        facts["user"] = caller_user.email
        facts["via"] = getattr(caller, "via", None)
    else:
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            facts["user"] = user.email
    facts["ip"] = client_ip(request)
    return facts


class SecurityLogMiddleware:
    """Gives each request's events its person and address, and logs every 403.

    It sits after the authentication middleware (to know the person) and wraps the views,
    the API and the CSRF check, whose refusals all come back through it as 403 responses."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        with security_context(lambda: _who(request)):
            response = self.get_response(request)
            if response.status_code == 403:
                security_event(
                    "permission.denied",
                    level=logging.WARNING,
                    method=request.method,
                    path=request.path,
                    reason=getattr(request, "_headway_denied", None),
                )
        return response

    def process_exception(self, request: HttpRequest, exception: Exception) -> None:
        # The refusal's sentence (a NotAllowed says what was refused), for the 403's line.
        if isinstance(exception, PermissionDenied) and str(exception):
            request._headway_denied = str(exception)  # type: ignore[attr-defined]


def _ip(request: HttpRequest | None) -> str | None:
    return client_ip(request) if request is not None else None


def _logged_in(sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any) -> None:
    security_event("login.success", user=user.email, ip=_ip(request))


def _login_failed(
    sender: Any, credentials: Mapping[str, Any], request: HttpRequest | None = None, **kwargs: Any
) -> None:
    # Only the name typed in: Django has masked the password, and it is not logged anyway.
    username = credentials.get("username") or credentials.get("email") or ""
    security_event(
        "login.failure",
        level=logging.WARNING,
        user=str(username),
        ip=_ip(request),
        reason="password",
    )


def _logged_out(sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any) -> None:
    security_event("logout", user=getattr(user, "email", None), ip=_ip(request))


def connect_signals() -> None:
    from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed

    user_logged_in.connect(_logged_in, dispatch_uid="headway.security.logged_in")
    user_login_failed.connect(_login_failed, dispatch_uid="headway.security.login_failed")
    user_logged_out.connect(_logged_out, dispatch_uid="headway.security.logged_out")
