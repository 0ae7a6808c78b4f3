"""Signing in and out and passwords: Django's views, with Headway's templates.

Mounted at /accounts/ by the site's URLs in place of `django.contrib.auth.urls`, with the
same URL names. Django's own names (registration/password_change_form.html...) would be
found in the admin's templates first, which come before Headway's in INSTALLED_APPS, so
these views name their templates explicitly.

Signing in is throttled and, for those who turned it on, asks for a code from an
authenticator app after the password (see headway.web.views.account).
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import views as auth_views
from django.db import transaction
from django.http import HttpResponse
from django.urls import path

from headway.accounts.models import User
from headway.accounts.services import password_changed
from headway.web.views.account import SignInView, sign_in_code, two_factor_settings


class AuditedPasswordChangeView(auth_views.PasswordChangeView):
    """Django's password change, with its audit row in the same transaction."""

    def form_valid(self, form: Any) -> HttpResponse:
        with transaction.atomic():
            response = super().form_valid(form)
            person = form.user
            assert isinstance(person, User)
            password_changed(person=person, by=person, how="change")
        return response


class AuditedPasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    """Setting a new password from an e-mailed link, audited."""

    def form_valid(self, form: Any) -> HttpResponse:
        with transaction.atomic():
            response = super().form_valid(form)
            person = form.user
            assert isinstance(person, User)
            password_changed(person=person, by=person, how="reset")
        return response


urlpatterns = [
    path("login/", SignInView.as_view(), name="login"),
    path("login/code/", sign_in_code, name="login_code"),
    path("two-step/", two_factor_settings, name="two_factor"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path(
        "password_change/",
        AuditedPasswordChangeView.as_view(template_name="registration/change_password.html"),
        name="password_change",
    ),
    path(
        "password_change/done/",
        auth_views.PasswordChangeDoneView.as_view(
            template_name="registration/change_password_done.html"
        ),
        name="password_change_done",
    ),
    path(
        "password_reset/",
        auth_views.PasswordResetView.as_view(
            template_name="registration/reset_password.html",
            email_template_name="registration/reset_password_email.txt",
            subject_template_name="registration/reset_password_subject.txt",
        ),
        name="password_reset",
    ),
    path(
        "password_reset/done/",
        auth_views.PasswordResetDoneView.as_view(
            template_name="registration/reset_password_sent.html"
        ),
        name="password_reset_done",
    ),
    path(
        "reset/<uidb64>/<token>/",
        AuditedPasswordResetConfirmView.as_view(
            template_name="registration/reset_password_confirm.html"
        ),
        name="password_reset_confirm",
    ),
    path(
        "reset/done/",
        auth_views.PasswordResetCompleteView.as_view(
            template_name="registration/reset_password_complete.html"
        ),
        name="password_reset_complete",
    ),
]
