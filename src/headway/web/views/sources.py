"""A dataset's source: setting it up (admins), syncing it now, and its live status.

The form is made from the kind's own configuration and credentials models, so each kind
gets its fields (a choice for a fixed set of values, a number, a password box for a
credential, JSON for a mapping) without a template of its own. Credentials are never put
back into the page: left empty on an edit, they stay as stored.
"""

from __future__ import annotations

import json
import types
import typing
from typing import Any, Literal

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST
from pydantic import BaseModel, SecretStr

from headway.accounts.models import User
from headway.accounts.permissions import can_create_anything, is_admin
from headway.audit.errors import ConflictError
from headway.engine.problems import HeadwayError
from headway.ingestion.freshness import dataset_freshness
from headway.ingestion.models import ImportRun, ImportStatus, Source
from headway.ingestion.sources import KINDS, kind_named
from headway.ingestion.syncs import (
    latest_sync_job,
    source_create,
    source_sync_request,
    source_update,
)
from headway.kpis.models import Dataset
from headway.web.forms import HeadwayForm
from headway.web.views.common import require

SCHEDULES = [
    ("", gettext_lazy("Only when someone asks")),
    ("15", gettext_lazy("Every 15 minutes")),
    ("60", gettext_lazy("Every hour")),
    ("360", gettext_lazy("Every 6 hours")),
    ("1440", gettext_lazy("Every day")),
    ("10080", gettext_lazy("Every week")),
]


def _user(request: HttpRequest) -> User:
    user = request.user
    assert isinstance(user, User)
    return user


def _plain(annotation: Any) -> Any:
    """`X | None` as X."""
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        rest = [item for item in typing.get_args(annotation) if item is not type(None)]
        if len(rest) == 1:
            return rest[0]
    return annotation


def _label(name: str) -> str:
    return name.replace("_", " ").capitalize()


def _model_fields(
    model: type[BaseModel], prefix: str, secret: bool
) -> tuple[dict[str, forms.Field], set[str]]:
    """A form field for each field of a kind's model, named `prefix + name`, and the
    names of those typed in as JSON."""
    fields: dict[str, forms.Field] = {}
    json_names: set[str] = set()
    for name, info in model.model_fields.items():
        annotation = _plain(info.annotation)
        origin = typing.get_origin(annotation)
        help_text = info.description or ""
        common: dict[str, Any] = {"label": _label(name), "help_text": help_text, "required": False}
        field: forms.Field
        if origin is Literal:
            choices = [(str(value), str(value)) for value in typing.get_args(annotation)]
            field = forms.ChoiceField(choices=choices, **common)
        elif annotation is bool:
            field = forms.BooleanField(**common)
        elif annotation is int:
            field = forms.IntegerField(**common)
        elif secret or annotation is SecretStr:
            field = forms.CharField(
                widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
                strip=False,
                **common,
            )
        elif name == "query":
            # A SQL source's SELECT: many lines, in a monospace box.
            field = forms.CharField(
                widget=forms.Textarea(attrs={"rows": 8, "class": "code", "spellcheck": "false"}),
                **common,
            )
        elif annotation is str or (isinstance(annotation, type) and issubclass(annotation, str)):
            field = forms.CharField(**common)
        else:
            common["help_text"] = (help_text + " " if help_text else "") + _("In JSON.")
            field = forms.CharField(widget=forms.Textarea(attrs={"rows": 4}), **common)
            json_names.add(prefix + name)
        fields[prefix + name] = field
    return fields, json_names


def _model_name(form_name: str) -> str:
    return form_name.removeprefix("config_").removeprefix("secret_")


class SourceForm(HeadwayForm):
    """A source of one kind: its name and schedule, then the kind's own fields."""

    name = forms.CharField(label=gettext_lazy("Name"), max_length=200)
    every_minutes = forms.ChoiceField(label=gettext_lazy("Sync"), choices=SCHEDULES, required=False)
    is_active = forms.BooleanField(label=gettext_lazy("Active"), required=False, initial=True)

    def __init__(self, *args: Any, kind: str, editing: bool, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        found = kind_named(kind)
        self.editing = editing
        config_fields, config_json = _model_fields(found.config_model, "config_", False)
        secret_fields, secret_json = _model_fields(found.secrets_model, "secret_", True)
        self.config_names = list(config_fields)
        self.secret_names = list(secret_fields)
        self.json_names = config_json | secret_json
        self.fields.update(config_fields)
        self.fields.update(secret_fields)
        if editing:
            for name in self.secret_names:
                self.fields[name].help_text = _("Stored encrypted; leave empty to keep it.")

    def _values(self, names: list[str]) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for name in names:
            field = self.fields[name]
            value = self.cleaned_data.get(name)
            if value in (None, "") and not isinstance(field, forms.BooleanField):
                continue
            if name in self.json_names:
                try:
                    value = json.loads(str(value))
                except json.JSONDecodeError as error:
                    self.add_error(name, _("This is not valid JSON: %(error)s") % {"error": error})
                    continue
            values[_model_name(name)] = value
        return values

    def config(self) -> dict[str, Any]:
        return self._values(self.config_names)

    def secrets(self) -> dict[str, Any] | None:
        """The credentials typed in; None on an edit that left them all empty (keep)."""
        values = self._values(self.secret_names)
        if self.editing and not values:
            return None
        return values

    def schedule(self) -> int | None:
        value = self.cleaned_data.get("every_minutes")
        return int(value) if value else None

    def show_problems(self, error: HeadwayError) -> None:
        """Each problem beside its field when it names one ("page_size: ...")."""
        by_model = {_model_name(name): name for name in self.config_names + self.secret_names}
        for problem in error.problems:
            head, _sep, rest = problem.message.partition(": ")
            target = by_model.get(head.split(".")[0]) if rest else None
            self.add_error(target, rest if target else problem.message)


def _initial(source: Source) -> dict[str, Any]:
    initial: dict[str, Any] = {
        "name": source.name,
        "every_minutes": str(source.every_minutes or ""),
        "is_active": source.is_active,
    }
    for name, value in source.config.items():
        initial[f"config_{name}"] = (
            json.dumps(value, ensure_ascii=False) if isinstance(value, dict | list) else value
        )
    return initial


@login_required
def source_edit(request: HttpRequest, key: str) -> HttpResponse:
    """Sets up or changes the dataset's source (admins). A new one first asks the kind."""
    require(is_admin(request.user))
    dataset = get_object_or_404(Dataset, key=key)
    source = Source.objects.filter(dataset=dataset).first()
    kinds = sorted((item for item in KINDS.values() if item.syncable), key=lambda item: item.label)
    kind = source.kind if source is not None else request.GET.get("kind", "")
    if kind not in KINDS:
        return render(request, "web/source_kinds.html", {"dataset": dataset, "kinds": kinds})
    form = SourceForm(
        request.POST or None,
        kind=kind,
        editing=source is not None,
        initial=_initial(source) if source is not None else {"name": KINDS[kind].label},
    )
    if request.method == "POST" and form.is_valid():
        config, secrets = form.config(), form.secrets()
        if form.is_valid():
            try:
                if source is None:
                    source_create(
                        dataset=dataset,
                        kind=kind,
                        name=form.cleaned_data["name"],
                        config=config,
                        secrets=secrets or {},
                        every_minutes=form.schedule(),
                        by=_user(request),
                    )
                    source = Source.objects.get(dataset=dataset)
                    source_sync_request(source=source, by=_user(request))
                    messages.success(request, _("The source is set up; its first sync is queued."))
                else:
                    # The version the form was read at; a post without one cannot say
                    # what it changes, and is refused like a stale one.
                    version = request.POST.get("version", "")
                    if not version.isdigit():
                        raise ConflictError(f"source {source.name}", -1, source.version)
                    source_update(
                        source=source,
                        version=int(version),
                        by=_user(request),
                        name=form.cleaned_data["name"],
                        config=config,
                        secrets=secrets,
                        every_minutes=form.schedule(),
                        is_active=bool(form.cleaned_data.get("is_active")),
                    )
                    messages.success(request, _("The source was saved."))
                return redirect("web:dataset", key=dataset.key)
            except HeadwayError as error:
                form.show_problems(error)
            except ConflictError:
                form.add_error(
                    None, _("Someone changed this source meanwhile; reload the page to see it.")
                )
    context = {
        "dataset": dataset,
        "source": source,
        "kind": KINDS[kind],
        "form": form,
        "config_fields": [form[name] for name in form.config_names],
        "secret_fields": [form[name] for name in form.secret_names],
    }
    return render(request, "web/source_form.html", context)


@login_required
@require_POST
def source_sync_now(request: HttpRequest, key: str) -> HttpResponse:
    source = get_object_or_404(Source.objects.select_related("dataset"), dataset__key=key)
    accept = request.POST.get("accept_schema_change") == "on"
    require(can_create_anything(request.user) and (is_admin(request.user) or not accept))
    job = source_sync_request(source=source, by=_user(request), accept_schema_change=accept)
    if job is None:
        messages.info(request, _("A sync of this source is already queued or running."))
    else:
        messages.success(request, _("The sync is queued; this page shows when it is done."))
    return redirect("web:dataset", key=key)


def status_context(dataset: Dataset, user: Any) -> dict[str, Any]:
    """What the live status shows: running imports, the source, its queued sync, and the
    data's freshness."""
    source = Source.objects.filter(dataset=dataset).first()
    job = latest_sync_job(source) if source is not None else None
    running = list(
        ImportRun.objects.filter(dataset=dataset, status=ImportStatus.RUNNING).order_by("-pk")[:3]
    )
    busy = bool(running) or (job is not None and job.status in ("queued", "running"))
    return {
        "dataset": dataset,
        "source": source,
        "job": job,
        "running": running,
        "busy": busy,
        "freshness": dataset_freshness([dataset]).get(dataset.key),
        "can_sync": can_create_anything(user),
        "can_admin": is_admin(user),
        "schema_held": source is not None and "schema" in source.last_error.lower(),
    }


@login_required
def dataset_status(request: HttpRequest, key: str) -> HttpResponse:
    """The live part of a dataset's page, polled while an import or a sync is under way."""
    dataset = get_object_or_404(Dataset, key=key)
    return render(request, "web/_dataset_status.html", status_context(dataset, request.user))
