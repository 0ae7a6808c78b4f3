"""Period close, for admins: the closed periods (in force and reopened, with who, when and
why), a form to close one, and for each closed period a form to reopen it, saying why.
Everything is decided and saved by `headway.results.locks`; only admins see these pages,
everyone else gets 403, and the services refuse once more.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from headway.accounts.models import User
from headway.accounts.permissions import is_admin
from headway.reports.formatting import period_name
from headway.results.locks import MAX_REASON, period_lock, period_reopen
from headway.results.models import PeriodLock
from headway.web.forms import service_errors
from headway.web.views.common import require


class LockForm(forms.Form):
    period = forms.CharField(
        label=gettext_lazy("Period"),
        max_length=20,
        help_text=gettext_lazy(
            "A month like 2026-03, a quarter like 2026-Q1, a year like 2026 or a week like "
            "2026-W05. Only a period that is over can be closed."
        ),
    )
    reason = forms.CharField(
        label=gettext_lazy("Reason (optional)"),
        max_length=MAX_REASON,
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
    )


class ReopenForm(forms.Form):
    reason = forms.CharField(
        label=gettext_lazy("Why reopen it?"),
        max_length=MAX_REASON,
        error_messages={"required": gettext_lazy("Say why the period is reopened.")},
    )


def _admin(request: HttpRequest) -> User:
    """The signed-in admin; 403 for everyone else."""
    user = request.user
    assert isinstance(user, User)
    require(is_admin(user))
    return user


def _page(
    request: HttpRequest,
    form: LockForm,
    *,
    reopening: PeriodLock | None = None,
    reopen_form: ReopenForm | None = None,
    status: int = 200,
) -> HttpResponse:
    locks = list(PeriodLock.objects.select_related("locked_by", "reopened_by"))
    context: dict[str, Any] = {
        "form": form,
        "active": [lock for lock in locks if lock.is_active],
        "reopened": [lock for lock in locks if not lock.is_active],
        "names": {lock.pk: period_name(lock.period, lock.start) for lock in locks},
        "reopening": reopening.pk if reopening is not None else None,
        "reopen_form": reopen_form,
    }
    return render(request, "web/periods.html", context, status=status)


@login_required
def period_list(request: HttpRequest) -> HttpResponse:
    """The closed periods, and the form that closes one."""
    user = _admin(request)
    form = LockForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            lock = period_lock(
                period=form.cleaned_data["period"], by=user, reason=form.cleaned_data["reason"]
            )
        except ValidationError as error:
            service_errors(form, error, {})
        else:
            messages.success(
                request,
                _(
                    "%(period)s is closed: its results and values stay as they are until an "
                    "admin reopens it."
                )
                % {"period": period_name(lock.period, lock.start)},
            )
            return redirect("web:periods")
    return _page(request, form)


@login_required
@require_POST
def period_reopen_view(request: HttpRequest, pk: int) -> HttpResponse:
    """Reopens a closed period. A missing reason is shown beside the lock's form; a
    refusal of the service (someone reopened it meanwhile) on the reloaded page."""
    user = _admin(request)
    lock = get_object_or_404(PeriodLock, pk=pk)
    form = ReopenForm(request.POST)
    if not form.is_valid():
        return _page(request, LockForm(), reopening=lock, reopen_form=form)
    try:
        period_reopen(lock=lock, by=user, reason=form.cleaned_data["reason"])
    except ValidationError as error:
        for message in error.messages:
            messages.error(request, message)
    else:
        messages.success(
            request,
            _("%(period)s is reopened: its results and values may change again.")
            % {"period": period_name(lock.period, lock.start)},
        )
    return redirect("web:periods")
