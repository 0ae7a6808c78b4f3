"""Pages of employees' part in the KPI system: my contribution (the line from my work to
the company's goals), the KPI glossary with its edit forms, and the participation page
for managers. The reads are `headway.participation`'s; the one write, a glossary entry,
goes through its service, which checks the right to edit and audits it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import get_language, gettext_lazy
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from headway.accounts.models import Organization, Team, User
from headway.audit.errors import ConflictError
from headway.kpis.models import Kpi
from headway.participation.contribution import my_contribution
from headway.participation.glossary import (
    MAX_TEXT,
    GlossaryItem,
    can_edit_glossary,
    glossary,
    glossary_update,
)
from headway.participation.stats import can_see_participation, participation_stats
from headway.web import queries
from headway.web.forms import VersionedForm, service_errors
from headway.web.views.common import CONFLICT_MESSAGE, require

MONTH_CHOICES = (6, 12, 24)


def _user(request: HttpRequest) -> User:
    user = request.user
    assert isinstance(user, User)
    return user


@login_required
def contribution(request: HttpRequest) -> HttpResponse:
    """The line from my KPIs through my teams' KPIs to the goals they serve, my share of
    my team's numbers, and what moved."""
    found = my_contribution(
        _user(request), today=queries.organization_today(Organization.current())
    )
    return render(request, "web/participation/contribution.html", {"contribution": found})


# -- the glossary ----------------------------------------------------------------------------


def _text_field(label: Any, language: str) -> forms.CharField:
    # The text's own language, so that screen readers and spell checkers read it right.
    return forms.CharField(
        label=label,
        required=False,
        max_length=MAX_TEXT,
        widget=forms.Textarea(attrs={"rows": 3, "lang": language}),
    )


class GlossaryForm(VersionedForm):
    meaning_en = _text_field(gettext_lazy("What it means (English)"), "en")
    meaning_zh = _text_field(gettext_lazy("What it means (Traditional Chinese)"), "zh-Hant")
    why_en = _text_field(gettext_lazy("Why it matters (English)"), "en")
    why_zh = _text_field(gettext_lazy("Why it matters (Traditional Chinese)"), "zh-Hant")


def _form_of(item: GlossaryItem) -> GlossaryForm:
    entry = item.entry
    initial = {
        "meaning_en": entry.meaning_en if entry else "",
        "meaning_zh": entry.meaning_zh if entry else "",
        "why_en": entry.why_en if entry else "",
        "why_zh": entry.why_zh if entry else "",
        "version": item.version,
    }
    return GlossaryForm(initial=initial, prefix=f"kpi{item.kpi.pk}")


@dataclass
class GlossaryRow:
    item: GlossaryItem
    form: GlossaryForm | None
    open: bool = False


def _glossary_page(
    request: HttpRequest, bound: GlossaryForm | None = None, bound_kpi: int | None = None
) -> HttpResponse:
    # Rights read once per request: the forms are shown without a query per KPI (the
    # edit view and the service check again).
    rights = queries.rights_of(request)
    items = glossary(get_language() or "en")
    rows = []
    for item in items:
        form: GlossaryForm | None = None
        if rights.can_edit(item.kpi.team_id):
            form = bound if bound is not None and bound_kpi == item.kpi.pk else _form_of(item)
        rows.append(GlossaryRow(item=item, form=form, open=bound_kpi == item.kpi.pk))
    return render(request, "web/participation/glossary.html", {"rows": rows})


@login_required
def glossary_page(request: HttpRequest) -> HttpResponse:
    """Every active KPI in plain words; an edit form for those the reader may edit."""
    return _glossary_page(request)


@require_POST
@login_required
def glossary_edit(request: HttpRequest, key: str) -> HttpResponse:
    user = _user(request)
    kpi = get_object_or_404(Kpi, key=key, is_active=True)
    require(can_edit_glossary(user, kpi))
    form = GlossaryForm(request.POST, prefix=f"kpi{kpi.pk}")
    if form.is_valid():
        data = form.cleaned_data
        try:
            glossary_update(
                kpi=kpi,
                by=user,
                meaning_en=data["meaning_en"],
                meaning_zh=data["meaning_zh"],
                why_en=data["why_en"],
                why_zh=data["why_zh"],
                expected_version=data["version"],
            )
        except ConflictError:
            form.add_error(None, CONFLICT_MESSAGE)
        except ValidationError as error:
            service_errors(form, error, {})
        else:
            messages.success(
                request, _("The glossary entry of “%(name)s” was saved.") % {"name": kpi.name}
            )
            return redirect(reverse("web:glossary") + f"#kpi-{kpi.key}")
    return _glossary_page(request, bound=form, bound_kpi=kpi.pk)


# -- participation, for managers ---------------------------------------------------------------


@login_required
def participation(request: HttpRequest) -> HttpResponse:
    """Proposals, comments, workshops, attendance and feedback per team and month, and the
    share of KPIs that came from proposals. Admins and managers only."""
    require(can_see_participation(request.user))
    team: Team | None = None
    wanted = (request.GET.get("team") or "").strip()
    if wanted:
        team = get_object_or_404(Team, key=wanted)
    try:
        months = int(request.GET.get("months") or 12)
    except ValueError:
        months = 12
    if months not in MONTH_CHOICES:
        months = 12
    stats = participation_stats(
        months=months, team=team, today=queries.organization_today(Organization.current())
    )
    context = {"stats": stats, "months": months, "month_choices": MONTH_CHOICES}
    return render(request, "web/participation/participation.html", context)
