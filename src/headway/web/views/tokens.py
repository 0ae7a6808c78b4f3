"""Personal API tokens: create (the secret is shown once), list, revoke."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from headway.accounts.models import ApiToken, User
from headway.accounts.services import token_create, token_revoke
from headway.audit.errors import NotAllowed


class TokenForm(forms.Form):
    name = forms.CharField(label=gettext_lazy("Name"), max_length=100)
    scope = forms.ChoiceField(label=gettext_lazy("Access"), choices=ApiToken.Scope.choices)


def _person(request: HttpRequest) -> User:
    user = request.user
    assert isinstance(user, User)
    return user


@login_required
def token_list(request: HttpRequest) -> HttpResponse:
    person = _person(request)
    form = TokenForm(request.POST or None)
    secret = None
    if request.method == "POST" and form.is_valid():
        try:
            _, secret = token_create(
                by=person, name=form.cleaned_data["name"], scope=form.cleaned_data["scope"]
            )
        except NotAllowed as error:
            form.add_error("scope", str(error))
        except ValueError as error:
            form.add_error("name", str(error))
        else:
            form = TokenForm()
    tokens = ApiToken.objects.filter(user=person).order_by("-created_at")
    return render(request, "web/tokens.html", {"form": form, "tokens": tokens, "secret": secret})


@login_required
@require_POST
def token_revoke_view(request: HttpRequest, pk: int) -> HttpResponse:
    person = _person(request)
    token = ApiToken.objects.filter(pk=pk, user=person).first()
    if token is None:
        raise Http404
    token_revoke(by=person, token=token)
    messages.success(request, _("The token %(name)s is revoked.") % {"name": token.name})
    return redirect("web:tokens")
