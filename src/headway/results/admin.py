"""The admin for computed results and values entered by hand: read-only, since
`headway recompute` and the services of `headway.results.manual` write them."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpRequest

from headway.accounts.models import User
from headway.audit.services import audit_record
from headway.ingestion.credentials import encrypt_secrets
from headway.results.alerts import alert_channel_create
from headway.results.models import AlertChannel, AlertSent, ManualValue, PeriodLock, Result


@admin.register(Result)
class ResultAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = [
        "kpi",
        "period",
        "group_dimension",
        "group_value",
        "value",
        "target",
        "attainment",
        "status",
        "computed_at",
    ]
    list_filter = ["status", "group_dimension", "kpi"]
    search_fields = ["kpi__key", "period", "group_value"]
    list_select_related = ["kpi"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(ManualValue)
class ManualValueAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """Read-only: values are entered, approved and rejected on the KPI's values page (or
    through the API), whose services keep every entry and write the audit log."""

    list_display = [
        "kpi",
        "period",
        "value",
        "status",
        "entered_by",
        "entered_at",
        "decided_by",
        "decided_at",
    ]
    list_filter = ["status", "kpi"]
    search_fields = ["kpi__key", "period", "comment", "decision_note"]
    list_select_related = ["kpi", "entered_by", "decided_by"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class AlertChannelForm(forms.ModelForm):  # type: ignore[type-arg]
    """The webhook's URL is typed in once and kept encrypted; it is never shown again."""

    url = forms.URLField(
        label="Webhook URL",
        required=False,
        help_text="Slack or Microsoft Teams incoming webhook; leave empty to keep the stored one.",
        widget=forms.PasswordInput(render_value=False),
    )

    class Meta:
        model = AlertChannel
        fields = ["kind", "label", "team", "is_active"]


@admin.register(AlertChannel)
class AlertChannelAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    form = AlertChannelForm
    list_display = ["label", "kind", "team", "is_active"]

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        url = form.cleaned_data.get("url") or ""
        user = request.user if isinstance(request.user, User) else None
        if not change:
            if not url:
                raise ValidationError("a new channel needs its webhook URL")
            created = alert_channel_create(
                kind=obj.kind, label=obj.label, url=url, team_id=obj.team_id, by=user
            )
            obj.pk = created.pk
            return
        with transaction.atomic():
            if url:
                obj.url_encrypted = encrypt_secrets({"url": url})
            obj.save()
            audit_record(
                actor=user,
                action="alert_channel.update",
                target=obj,
                after={"label": obj.label, "active": obj.is_active, "url": bool(url)},
            )


@admin.register(AlertSent)
class AlertSentAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ["kpi", "period", "reason", "sent_at"]
    readonly_fields = [field.name for field in AlertSent._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(PeriodLock)
class PeriodLockAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """Read-only: periods are closed and reopened on the Periods page, audited."""

    list_display = [
        "period",
        "start",
        "end",
        "locked_by",
        "locked_at",
        "reopened_by",
        "reopened_at",
    ]
    list_select_related = ["locked_by", "reopened_by"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
