"""Writes for the organisation, people's settings and API tokens."""

from __future__ import annotations

import hashlib
import re
import secrets
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from headway.accounts.models import ApiToken, Organization, Team, User
from headway.accounts.permissions import is_admin, is_signed_in
from headway.audit.errors import NotAllowed, check_version
from headway.audit.services import audit_record, snapshot
from headway.engine.model import KEY_PATTERN

TOKEN_PREFIX = "hw_"  # noqa: S105 (a marker that starts every token, not a secret)


def token_digest(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def organization_update(
    *, by: User, expected_version: int | None = None, **fields: Any
) -> Organization:
    if not is_admin(by):
        raise NotAllowed("only an admin may change the organisation's settings")
    allowed = {"name", "timezone", "currency", "fiscal_year_start", "language"}
    unknown = set(fields) - allowed
    if unknown:
        raise ValueError(f"not organisation settings: {', '.join(sorted(unknown))}")
    with transaction.atomic():
        organization = Organization.objects.select_for_update().get(pk=Organization.current().pk)
        check_version("the organisation", expected_version, organization.version)
        before = snapshot(organization)
        for name, value in fields.items():
            setattr(organization, name, value)
        organization.version += 1
        organization.full_clean()
        organization.save()
        audit_record(
            actor=by,
            action="organization.update",
            target=organization,
            before=before,
            after=snapshot(organization),
        )
    return organization


def token_create(*, by: User, name: str, scope: str = ApiToken.Scope.READ) -> tuple[ApiToken, str]:
    """Creates a personal API token; returns it and the secret, which is never shown again."""
    if not is_signed_in(by):
        raise NotAllowed("sign in to create a token")
    if scope not in ApiToken.Scope.values:
        raise ValueError(f"unknown scope {scope!r}")
    if scope == ApiToken.Scope.WRITE and by.role == "viewer":
        raise NotAllowed("a viewer's tokens can only read")
    name = name.strip()
    if not name:
        raise ValueError("a token needs a name")
    raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
    with transaction.atomic():
        token = ApiToken.objects.create(
            user=by, name=name[:100], prefix=raw[:10], digest=token_digest(raw), scope=scope
        )
        audit_record(
            actor=by,
            action="token.create",
            target=token,
            after={"name": token.name, "scope": scope, "prefix": token.prefix},
        )
    return token, raw


def token_revoke(*, by: User, token: ApiToken) -> ApiToken:
    if token.user_id != by.pk and not is_admin(by):
        raise NotAllowed("you may only revoke your own tokens")
    with transaction.atomic():
        token = ApiToken.objects.select_for_update().get(pk=token.pk)
        if token.revoked_at is None:
            token.revoked_at = timezone.now()
            token.save(update_fields=["revoked_at"])
            audit_record(
                actor=by, action="token.revoke", target=token, after={"prefix": token.prefix}
            )
    return token


def token_user(raw: str) -> tuple[User, ApiToken] | None:
    """The person and token behind a raw token, if it is valid and not revoked."""
    if not raw.startswith(TOKEN_PREFIX):
        return None
    token = (
        ApiToken.objects.select_related("user")
        .filter(digest=token_digest(raw), revoked_at__isnull=True)
        .first()
    )
    if token is None or not token.user.is_active:
        return None
    # Last use is informational; it is not worth an audit row per request.
    ApiToken.objects.filter(pk=token.pk).update(last_used_at=timezone.now())
    return token.user, token


def person_set_language(*, by: User, language: str) -> User:
    with transaction.atomic():
        before = {"language": by.language}
        by.language = language
        by.save(update_fields=["language"])
        audit_record(
            actor=by,
            action="person.language",
            target=by,
            before=before,
            after={"language": language},
        )
    return by


# Teams: created and changed by admins (the REST API and the web UI call these). The


TEAM_EDITABLE = {"name", "parent"}


def _team_check(team: Team) -> None:
    # A team key is also a workspace key (`headway export` writes it, the engine checks
    # it): a slug that starts with a letter or digit.
    if not re.match(KEY_PATTERN, team.key or ""):
        raise ValidationError(
            {"key": "a team key is letters, digits, '-' and '_', starting with a letter or digit"}
        )
    seen = {team.pk}
    parent = team.parent
    while parent is not None:
        if parent.pk in seen:
            raise ValidationError({"parent": "a team cannot be inside itself"})
        seen.add(parent.pk)
        parent = parent.parent
    team.full_clean()


def team_create(*, by: User, key: str, name: str, parent: Team | None = None) -> Team:
    if not is_admin(by):
        raise NotAllowed("only an admin may create teams")
    team = Team(key=key, name=name.strip(), parent=parent)
    _team_check(team)
    with transaction.atomic():
        team.save()
        audit_record(actor=by, action="team.create", target=team, after=snapshot(team))
    return team


def team_update(
    *, team: Team, by: User, expected_version: int | None = None, **fields: Any
) -> Team:
    unknown = set(fields) - TEAM_EDITABLE
    if unknown:
        raise ValueError(f"not editable: {', '.join(sorted(unknown))}")
    if not is_admin(by):
        raise NotAllowed("only an admin may change teams")
    with transaction.atomic():
        current = Team.objects.select_for_update().get(pk=team.pk)
        check_version(f"team {current.key}", expected_version, current.version)
        before = snapshot(current)
        for name, value in fields.items():
            setattr(current, name, value.strip() if name == "name" else value)
        _team_check(current)
        current.version += 1
        current.save()
        audit_record(
            actor=by, action="team.update", target=current, before=before, after=snapshot(current)
        )
    return current


def password_changed(*, person: User, by: User | None, how: str) -> None:
    """Records that a password was set (never the password), in the caller's transaction.

    `how` is change (by the person), reset (by e-mail link) or demo (by `headway demo`)."""
    audit_record(actor=by, action=f"person.password_{how}", target=person)
