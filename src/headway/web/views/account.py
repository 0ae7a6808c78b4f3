"""Signing in (throttled, with a second step for those who turned it on, in the person's
own language), two-step sign-in settings, and choosing the language."""

from __future__ import annotations

import logging
import time
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login as auth_login
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views.decorators.http import require_POST
from django.views.i18n import set_language

from headway.accounts.models import User
from headway.accounts.security import client_ip
from headway.accounts.services import person_set_language
from headway.accounts.throttle import (
    minutes_until,
    normal_username,
    sign_in_blocked,
    sign_in_failed,
    sign_in_succeeded,
)
from headway.accounts.two_factor import (
    code_accepted,
    pending_secret,
    provisioning_uri,
    recovery_codes_left,
    recovery_codes_renew,
    two_factor_begin,
    two_factor_confirm,
    two_factor_disable,
    two_factor_enabled,
    two_factor_offered,
)
from headway.lib.security_log import security_event

# The session key of a sign-in whose password was right and whose second step is due.
PENDING = "headway_pending_sign_in"
PENDING_SECONDS = 5 * 60


def _throttled_message(minutes: int) -> str:
    return ngettext(
        "Too many failed attempts to sign in to this account from your address. "
        "Try again in %(minutes)d minute.",
        "Too many failed attempts to sign in to this account from your address. "
        "Try again in %(minutes)d minutes.",
        minutes,
    ) % {"minutes": minutes}


def _refused_while_throttled(request: HttpRequest, username: str, until: Any) -> int:
    security_event(
        "login.refused",
        level=logging.WARNING,
        user=normal_username(username),
        ip=client_ip(request),
        reason="throttled",
    )
    return minutes_until(until)


class SignInForm(AuthenticationForm):
    """Django's sign-in form, refused while the account is throttled for this address
    (even with the right password), counting each wrong password."""

    throttled_minutes: int | None = None

    def clean(self) -> dict[str, Any]:
        username = self.cleaned_data.get("username") or ""
        ip = client_ip(self.request) if self.request is not None else "unknown"
        if username:
            until = sign_in_blocked(username, ip)
            if until is not None and self.request is not None:
                self.throttled_minutes = _refused_while_throttled(self.request, username, until)
                raise ValidationError(_throttled_message(self.throttled_minutes), "throttled")
        try:
            return super().clean()
        except ValidationError as error:
            if username and error.code == "invalid_login":
                sign_in_failed(username, ip, reason="password")
            raise


def _remember_language(response: HttpResponse, user: Any) -> HttpResponse:
    """Switches to the language the person chose before, for this browser."""
    language = getattr(user, "language", "")
    if language in dict(settings.LANGUAGES):
        response.set_cookie(
            settings.LANGUAGE_COOKIE_NAME,
            language,
            max_age=settings.LANGUAGE_COOKIE_AGE,
            path=settings.LANGUAGE_COOKIE_PATH,
            domain=settings.LANGUAGE_COOKIE_DOMAIN,
            secure=settings.LANGUAGE_COOKIE_SECURE,
            httponly=settings.LANGUAGE_COOKIE_HTTPONLY,
            samesite=settings.LANGUAGE_COOKIE_SAMESITE,
        )
    return response


class SignInView(auth_views.LoginView):
    """Django's sign-in, throttled; then the second step for those who turned it on; then
    the language the person chose before."""

    template_name = "registration/login.html"
    authentication_form = SignInForm
    redirect_authenticated_user = True

    def form_valid(self, form: AuthenticationForm) -> HttpResponse:
        user = form.get_user()
        if two_factor_enabled(user):
            # Not signed in yet: the session only remembers whose password was right.
            self.request.session[PENDING] = {
                "user": user.pk,
                "backend": getattr(user, "backend", settings.AUTHENTICATION_BACKENDS[0]),
                "at": time.time(),
                "next": self.get_success_url(),
            }
            return redirect("login_code")
        sign_in_succeeded(user.email, client_ip(self.request))
        return _remember_language(super().form_valid(form), user)


class CodeForm(forms.Form):
    code = forms.CharField(
        label=gettext_lazy("Code"),
        max_length=40,
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "autofocus": True, "spellcheck": "false"}
        ),
    )


def _pending(request: HttpRequest) -> tuple[User, dict[str, Any]] | None:
    pending = request.session.get(PENDING)
    if not isinstance(pending, dict) or time.time() - pending.get("at", 0) > PENDING_SECONDS:
        return None
    pk = pending.get("user")
    user = User.objects.filter(pk=pk, is_active=True).first() if isinstance(pk, int) else None
    return (user, pending) if user is not None else None


def _safe_next(request: HttpRequest, url: str) -> str:
    if url and url_has_allowed_host_and_scheme(
        url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return url
    return reverse(settings.LOGIN_REDIRECT_URL)


def sign_in_code(request: HttpRequest) -> HttpResponse:
    """The second step: a code from the authenticator app, or a recovery code."""
    found = _pending(request)
    if found is None:
        request.session.pop(PENDING, None)
        messages.error(request, _("Please sign in again: the sign-in was not finished in time."))
        return redirect("login")
    user, pending = found
    form = CodeForm(request.POST or None)
    throttled = None
    if request.method == "POST" and form.is_valid():
        ip = client_ip(request)
        until = sign_in_blocked(user.email, ip)
        if until is not None:
            throttled = _refused_while_throttled(request, user.email, until)
            form.add_error(None, _throttled_message(throttled))
        else:
            how = code_accepted(user, form.cleaned_data["code"])
            if how is None:
                security_event(
                    "login.failure",
                    level=logging.WARNING,
                    user=user.email,
                    ip=ip,
                    reason="code",
                )
                sign_in_failed(user.email, ip, reason="code")
                form.add_error("code", _("That code is not right. Codes change every 30 seconds."))
            else:
                del request.session[PENDING]
                sign_in_succeeded(user.email, ip)
                auth_login(request, user, backend=pending["backend"])
                if how == "recovery":
                    left = recovery_codes_left(user)
                    messages.warning(
                        request,
                        ngettext(
                            "You signed in with a recovery code; %(left)d is left. Make new "
                            "ones on the two-step sign-in page if you lost your phone.",
                            "You signed in with a recovery code; %(left)d are left. Make new "
                            "ones on the two-step sign-in page if you lost your phone.",
                            left,
                        )
                        % {"left": left},
                    )
                response = redirect(_safe_next(request, str(pending.get("next", ""))))
                return _remember_language(response, user)
    return render(
        request,
        "registration/login_code.html",
        {"form": form, "throttled": throttled, "person": user},
    )


def admin_sign_in(request: HttpRequest) -> HttpResponse:
    """The admin's own sign-in page is replaced by Headway's, which is throttled and asks
    for the second step: the admin's pages send people here when they are not signed in."""
    user = request.user
    next_url = request.GET.get("next", "")
    if user.is_authenticated:
        if user.is_active and user.is_staff:
            return HttpResponseRedirect(
                next_url
                if url_has_allowed_host_and_scheme(next_url, allowed_hosts={request.get_host()})
                else reverse("admin:index")
            )
        raise PermissionDenied("the admin pages are for staff")
    query = request.META.get("QUERY_STRING", "")
    return HttpResponseRedirect(reverse("login") + (f"?{query}" if query else ""))


class PasswordForm(forms.Form):
    password = forms.CharField(
        label=gettext_lazy("Your password"),
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )


def _person(request: HttpRequest) -> User:
    user = request.user
    assert isinstance(user, User)
    return user


@login_required
def two_factor_settings(request: HttpRequest) -> HttpResponse:
    """Turning two-step sign-in on (scan, then confirm with a code) and off, and new
    recovery codes. Recovery codes are shown once, in the answer that made them."""
    person = _person(request)
    action = request.POST.get("action", "") if request.method == "POST" else ""
    codes: list[str] | None = None
    code_form = CodeForm(request.POST if action == "confirm" else None)
    password_form = PasswordForm(request.POST if action in {"renew", "disable"} else None)
    if action == "begin":
        two_factor_begin(by=person)
    elif action == "confirm" and code_form.is_valid():
        codes = two_factor_confirm(by=person, code=code_form.cleaned_data["code"])
        if codes is None:
            code_form.add_error("code", _("That code is not right. Codes change every 30 seconds."))
        else:
            messages.success(request, _("Two-step sign-in is on."))
    elif action in {"renew", "disable"} and password_form.is_valid():
        if not person.check_password(password_form.cleaned_data["password"]):
            password_form.add_error("password", _("That is not your password."))
        elif action == "renew":
            codes = recovery_codes_renew(by=person)
        else:
            two_factor_disable(by=person, person=person)
            messages.success(request, _("Two-step sign-in is off."))
            return redirect("two_factor")
    enabled = two_factor_enabled(person)
    secret = None if enabled else pending_secret(person)
    context = {
        "offered": two_factor_offered(person),
        "enabled": enabled,
        "secret": secret,
        "uri": provisioning_uri(person, secret) if secret else None,
        "codes": codes,
        "codes_left": recovery_codes_left(person) if enabled else 0,
        "code_form": code_form,
        "password_form": password_form,
    }
    return render(request, "registration/two_factor.html", context)


@require_POST
def language(request: HttpRequest) -> HttpResponse:
    """Django's set_language, remembering a signed-in person's choice for next time."""
    chosen = request.POST.get("language", "")
    user = request.user
    if (
        isinstance(user, User)
        and user.is_authenticated
        and chosen in dict(settings.LANGUAGES)
        and user.language != chosen
    ):
        person_set_language(by=user, language=chosen)
    return set_language(request)
