"""The admin for the organisation, teams, people, API tokens and sign-in safeguards.

`AuditedModelAdmin` makes the admin's writes follow Headway's rules: each save or delete
writes its audit row in the same transaction, and a saved object's `version` moves on, so
that a web form opened before the admin's change is refused as a conflict. Its change
form carries the version it was read at the other way round too: saving over a change
made meanwhile (on a web page, through the API, on another admin page) is refused.
"""

from __future__ import annotations

import functools
from typing import Any

from django import forms
from django.contrib import admin
from django.contrib.auth.admin import UserAdmin
from django.db import models, transaction
from django.forms import ModelForm
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from headway.accounts.models import (
    ApiToken,
    Membership,
    Organization,
    RecoveryCode,
    SignInFailure,
    Team,
    TwoFactor,
    User,
)
from headway.accounts.two_factor import two_factor_disable
from headway.audit.services import audit_record, snapshot


def _actor(request: HttpRequest) -> User | None:
    user = request.user
    return user if isinstance(user, User) else None


def _inline_rows(formsets: list[Any], instance: Any) -> dict[str, list[dict[str, Any]]]:
    rows: dict[str, list[dict[str, Any]]] = {}
    for formset in formsets:
        model = formset.model
        related = model.objects.filter(**{formset.fk.name: instance}).order_by("pk")
        rows[model._meta.label_lower] = [snapshot(row) for row in related]
    return rows


class AuditRelatedMixin:
    """Inline rows (memberships, goal links) are audited too: they carry rights and weights.

    The admin saves an object and its inlines in one transaction, so this row commits with
    them or not at all."""

    def save_related(
        self, request: HttpRequest, form: ModelForm[Any], formsets: Any, change: bool
    ) -> None:
        before = _inline_rows(formsets, form.instance) if change else {}
        super().save_related(request, form, formsets, change)  # type: ignore[misc]
        after = _inline_rows(formsets, form.instance)
        if before != after:
            audit_record(
                actor=_actor(request),
                action=f"{form.instance._meta.model_name}.related_update",
                target=form.instance,
                before=before,
                after=after,
                reason="admin",
            )


class VersionCheck(forms.ModelForm):  # type: ignore[type-arg]
    """The version an admin change form was read at, checked when it is saved.

    The admin validates and saves a form in one transaction, so the row locked here stays
    locked until the save: two saves from the same version cannot both pass."""

    edited_version = forms.IntegerField(widget=forms.HiddenInput, required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["edited_version"].initial = self.instance.version

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        expected = data.get("edited_version")
        if expected is None or self.instance.pk is None:
            return data
        rows = type(self.instance).objects.filter(pk=self.instance.pk)
        if transaction.get_connection().in_atomic_block:
            rows = rows.select_for_update()
        current = rows.values_list("version", flat=True).first()
        if current is not None and current != expected:
            raise forms.ValidationError(
                _(
                    "Someone else changed this while you were editing it. Reload the page "
                    "to see their change, then make yours again."
                ),
                code="conflict",
            )
        if current is not None:
            self.instance.version = current
        return data


@functools.cache
def _version_checked(form: type[ModelForm[Any]]) -> type[ModelForm[Any]]:
    return type(form.__name__, (VersionCheck, form), {})


def _versioned(model: type[models.Model]) -> bool:
    return any(field.name == "version" for field in model._meta.concrete_fields)


class AuditedModelAdmin(AuditRelatedMixin, admin.ModelAdmin):  # type: ignore[type-arg]
    """Saves and deletes audited, in one transaction, with the version moved on (and,
    for a change, checked against the version the form was read at)."""

    def get_form(
        self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any
    ) -> Any:
        if obj is not None and "form" not in kwargs and _versioned(self.model):
            kwargs["form"] = _version_checked(self.form)
        return super().get_form(request, obj, change=change, **kwargs)

    def save_model(
        self, request: HttpRequest, obj: Any, form: ModelForm[Any], change: bool
    ) -> None:
        label = obj._meta.model_name
        with transaction.atomic():
            before = None
            if change:
                current = type(obj).objects.filter(pk=obj.pk).first()
                before = snapshot(current) if current is not None else None
                if hasattr(obj, "version"):
                    obj.version += 1
            super().save_model(request, obj, form, change)
            audit_record(
                actor=_actor(request),
                action=f"{label}.{'update' if change else 'create'}",
                target=obj,
                before=before,
                after=snapshot(obj),
                reason="admin",
            )

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        with transaction.atomic():
            before = snapshot(obj)
            label = str(obj)
            pk = obj.pk
            super().delete_model(request, obj)
            audit_record(
                actor=_actor(request),
                action=f"{obj._meta.model_name}.delete",
                object_type=obj._meta.label_lower,
                object_id=str(pk),
                object_label=label,
                before=before,
                reason="admin",
            )

    def delete_queryset(self, request: HttpRequest, queryset: models.QuerySet[Any]) -> None:
        # One by one, so that each deletion has its audit row.
        for obj in queryset:
            self.delete_model(request, obj)


class MembershipInline(admin.TabularInline):  # type: ignore[type-arg]
    model = Membership
    extra = 0
    autocomplete_fields = ["user", "team"]


@admin.register(Organization)
class OrganizationAdmin(AuditedModelAdmin):
    list_display = ["name", "timezone", "currency", "fiscal_year_start", "language"]
    readonly_fields = ["version"]


@admin.register(Team)
class TeamAdmin(AuditedModelAdmin):
    list_display = ["name", "key", "parent"]
    search_fields = ["name", "key"]
    autocomplete_fields = ["parent"]
    readonly_fields = ["version"]
    inlines = [MembershipInline]


@admin.register(User)
class PersonAdmin(AuditRelatedMixin, UserAdmin):  # type: ignore[type-arg]
    """People sign in with their e-mail address; the username is kept equal to it."""

    list_display = ["email", "display_name", "role", "is_active", "last_login"]
    list_filter = ["role", "is_active", "is_staff"]
    search_fields = ["email", "display_name"]
    ordering = ["display_name", "email"]
    inlines = [MembershipInline]
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        (_("Person"), {"fields": ("display_name", "role", "language")}),
        (
            _("Permissions"),
            {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")},
        ),
        (_("Dates"), {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = (
        (
            None,
            {
                "classes": ("wide",),
                "fields": ("email", "display_name", "role", "password1", "password2"),
            },
        ),
    )

    def save_model(
        self, request: HttpRequest, obj: Any, form: ModelForm[Any], change: bool
    ) -> None:
        obj.username = obj.email
        with transaction.atomic():
            before = None
            if change:
                current = User.objects.filter(pk=obj.pk).first()
                before = _person_facts(current) if current is not None else None
            super().save_model(request, obj, form, change)
            audit_record(
                actor=_actor(request),
                action=f"person.{'update' if change else 'create'}",
                target=obj,
                before=before,
                after=_person_facts(obj),
                reason="admin",
            )

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        with transaction.atomic():
            before = _person_facts(obj)
            pk, label = obj.pk, str(obj)
            super().delete_model(request, obj)
            audit_record(
                actor=_actor(request),
                action="person.delete",
                object_type="accounts.user",
                object_id=str(pk),
                object_label=label,
                before=before,
                reason="admin",
            )

    def delete_queryset(self, request: HttpRequest, queryset: models.QuerySet[Any]) -> None:
        for obj in queryset:
            self.delete_model(request, obj)


def _person_facts(person: Any) -> dict[str, Any]:
    """What matters of a person for the audit log: never the password hash."""
    return {
        "email": person.email,
        "name": person.display_name,
        "role": person.role,
        "active": person.is_active,
        "staff": person.is_staff,
        "superuser": person.is_superuser,
    }


@admin.register(Membership)
class MembershipAdmin(AuditedModelAdmin):
    list_display = ["user", "team", "is_manager"]
    list_filter = ["is_manager", "team"]
    autocomplete_fields = ["user", "team"]


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """Tokens are made by their owners (only the hash is stored); the admin only looks."""

    list_display = ["name", "prefix", "user", "scope", "created_at", "last_used_at", "revoked_at"]
    list_filter = ["scope"]
    search_fields = ["name", "prefix", "user__email"]
    readonly_fields = [
        "user",
        "name",
        "prefix",
        "scope",
        "created_at",
        "last_used_at",
        "revoked_at",
    ]
    exclude = ["digest"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(SignInFailure)
class SignInFailureAdmin(AuditedModelAdmin):
    """Failed sign-ins that count toward the throttle; deleting them lets the account in
    from that address again at once."""

    list_display = ["username", "ip", "at"]
    search_fields = ["username", "ip"]
    readonly_fields = ["username", "ip", "at"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(TwoFactor)
class TwoFactorAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """Who has two-step sign-in on. Deleting one turns it off for a person who lost both
    their phone and their recovery codes; the secret itself is never shown."""

    list_display = ["user", "confirmed_at"]
    search_fields = ["user__email"]
    readonly_fields = ["user", "created_at", "confirmed_at"]
    exclude = ["secret", "last_step"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        actor = _actor(request)
        assert actor is not None
        two_factor_disable(by=actor, person=obj.user)

    def delete_queryset(self, request: HttpRequest, queryset: models.QuerySet[Any]) -> None:
        for obj in queryset:
            self.delete_model(request, obj)


@admin.register(RecoveryCode)
class RecoveryCodeAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """Whether people's recovery codes were used; only their hashes are stored."""

    list_display = ["user", "used_at"]
    search_fields = ["user__email"]
    readonly_fields = ["user", "used_at"]
    exclude = ["digest"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
