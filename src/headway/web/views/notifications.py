"""The bell's page: a person's notifications, opening one, marking them read, and how
often they are e-mailed. Everything here is the signed-in person's own."""

from __future__ import annotations

import unicodedata

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST

from headway.accounts.models import User
from headway.audit.errors import ConflictError
from headway.notifications.models import Digest
from headway.notifications.services import (
    mark_read,
    notification_open,
    recent,
    settings_of,
    settings_update,
)
from headway.web.forms import VersionedForm, service_errors
from headway.web.views.common import CONFLICT_MESSAGE

# Notifications on one page; older ones follow on the next.
PAGE_SIZE = 50


class DigestForm(VersionedForm):
    digest = forms.ChoiceField(
        label=gettext_lazy("E-mail me my unread notifications"),
        choices=Digest.choices,
        widget=forms.RadioSelect,
        help_text=gettext_lazy("Only when there is something new; the bell shows them all."),
    )


def _person(request: HttpRequest) -> User:
    user = request.user
    assert isinstance(user, User)
    return user


def local_url(url: str) -> str | None:
    """`url` when it is a path on this site, else None: a notification's link is followed
    only within Headway, never to another site (no open redirect)."""
    if not url.startswith("/") or url.startswith("//") or "\\" in url:
        return None
    if any(unicodedata.category(char)[0] in "CZ" for char in url):
        return None  # control characters and spaces, which browsers drop or rewrite
    if not url_has_allowed_host_and_scheme(url, allowed_hosts=set()):
        return None
    return url


def _before(request: HttpRequest) -> int | None:
    try:
        return int(request.GET.get("before", ""))
    except ValueError:
        return None


@login_required
def notification_list(request: HttpRequest) -> HttpResponse:
    """The person's notifications, newest first, and their choice of e-mail digest."""
    person = _person(request)
    current = settings_of(person)
    form = DigestForm(
        request.POST or None, initial={"digest": current.digest, "version": current.version}
    )
    if request.method == "POST" and form.is_valid():
        try:
            settings_update(
                person=person,
                by=person,
                digest=form.cleaned_data["digest"],
                expected_version=form.cleaned_data["version"],
            )
        except ConflictError:
            form.add_error(None, CONFLICT_MESSAGE)
        except ValidationError as error:
            service_errors(form, error, {})
        else:
            messages.success(request, _("Your choice of notification e-mails was saved."))
            return redirect("web:notifications")
    before = _before(request)
    items = recent(person, limit=PAGE_SIZE + 1, before=before)
    older = items[PAGE_SIZE - 1].pk if len(items) > PAGE_SIZE else None
    items = items[:PAGE_SIZE]
    context = {
        "items": items,
        "older": older,
        "paged": before is not None,
        "any_unread": any(item.read_at is None for item in items),
        "form": form,
    }
    return render(request, "web/notifications.html", context)


@login_required
@require_POST
def notifications_read_all(request: HttpRequest) -> HttpResponse:
    count = mark_read(person=_person(request))
    if count:
        messages.success(request, _("All your notifications are marked read."))
    return redirect("web:notifications")


@login_required
@require_http_methods(["GET", "POST"])
def notification_go(request: HttpRequest, pk: int) -> HttpResponse:
    """Marks the notification read and opens what it is about (its page in Headway)."""
    found = notification_open(person=_person(request), pk=pk)
    if found is None:
        raise Http404
    target = local_url(found.url)
    if target is None:
        return redirect("web:notifications")
    return redirect(target)
