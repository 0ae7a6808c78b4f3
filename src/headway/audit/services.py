"""Writing the audit log. Every service that writes calls `audit_record` in its own
transaction, so the change and its audit row commit or fail together."""

from __future__ import annotations

import datetime
import decimal
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from django.db import models, transaction

from headway.audit.models import AuditEntry
from headway.lib.security_log import security_event

if TYPE_CHECKING:
    from headway.accounts.models import User


def _jsonable(value: Any) -> Any:
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, datetime.date | datetime.datetime):
        return value.isoformat()
    if isinstance(value, models.Model):
        return value.pk
    if isinstance(value, Mapping):
        return {str(key): _jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple | set):
        return [_jsonable(item) for item in value]
    return value


def snapshot(instance: models.Model, fields: Iterable[str] | None = None) -> dict[str, Any]:
    """The concrete field values of a model instance, ready for JSON."""
    names = fields or [field.attname for field in instance._meta.concrete_fields]
    return {name: _jsonable(getattr(instance, name)) for name in names}


def audit_record(
    *,
    actor: User | None,
    action: str,
    target: models.Model | None = None,
    object_type: str | None = None,
    object_id: str = "",
    object_label: str = "",
    before: Mapping[str, Any] | None = None,
    after: Mapping[str, Any] | None = None,
    reason: str = "",
) -> AuditEntry:
    """Appends one audit row. Must run inside the caller's transaction."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("audit_record must be called inside the writing transaction")
    if target is not None:
        object_type = object_type or target._meta.label_lower
        object_id = object_id or str(target.pk)
        object_label = object_label or str(target)[:300]
    label = "system" if actor is None else actor.email or str(actor)
    entry = AuditEntry.objects.create(
        actor=actor,
        actor_label=label,
        action=action,
        object_type=object_type or "",
        object_id=object_id,
        object_label=object_label[:300],
        before=_jsonable(dict(before)) if before is not None else None,
        after=_jsonable(dict(after)) if after is not None else None,
        reason=reason,
    )
    rights = _rights_changed(entry)
    if rights:
        # Also a line in the security log, once the change is committed.
        transaction.on_commit(
            lambda: security_event(
                "rights.change",
                by=label,
                action=action,
                person=entry.object_label,
                changes=rights,
            )
        )
    return entry


# What decides what a person may do: their role, whether they may sign in or use the
# admin, the teams they manage, and how they sign in (second factor, tokens). A person
# created with no more than a member's rights is not a change of rights.
_RIGHTS_DEFAULTS: dict[str, Any] = {
    "role": "member",
    "is_staff": False,
    "staff": False,
    "is_superuser": False,
    "superuser": False,
    "is_active": True,
    "active": True,
}
_RIGHTS_ACTIONS = frozenset(
    {
        "person.two_factor_on",
        "person.two_factor_off",
        "person.recovery_codes_renew",
        "token.create",
        "token.revoke",
    }
)


def _rights_changed(entry: AuditEntry) -> str:
    """The changes of rights an audit row records, as `field:before>after` (or empty)."""
    if entry.action in _RIGHTS_ACTIONS:
        return entry.action.split(".", 1)[1]
    before = entry.before if isinstance(entry.before, dict) else None
    after = entry.after if isinstance(entry.after, dict) else {}
    if entry.object_type == "accounts.membership" or "accounts.membership" in (
        set(before or {}) | set(after)
    ):
        return "memberships"
    if entry.object_type != "accounts.user":
        return ""
    if before is None:
        # Created: compared with a plain member's rights (a viewer has fewer).
        before = {field: _RIGHTS_DEFAULTS[field] for field in after if field in _RIGHTS_DEFAULTS}
        if after.get("role") == "viewer":
            before["role"] = "viewer"
    changes = [
        f"{field}:{before.get(field)}>{after.get(field)}"
        for field in sorted(set(_RIGHTS_DEFAULTS) & (set(before) | set(after)))
        if before.get(field) != after.get(field)
    ]
    return ",".join(changes)
