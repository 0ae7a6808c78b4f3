"""Finding objects by the keys the API uses, pages of lists, versions and ETags.

An object in the URL that does not exist is a 404; a key or e-mail address in a request
body that names nothing is invalid input (422, naming the field).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

from django.core.exceptions import ValidationError
from django.db.models import Model, QuerySet
from django.http import Http404

from headway.accounts.models import Team, User
from headway.api.errors import PreconditionFailed, PreconditionRequired
from headway.api.schemas import PageParams
from headway.audit.errors import ConflictError
from headway.goals.models import Goal
from headway.kpis.models import Kpi

M = TypeVar("M", bound=Model)
T = TypeVar("T")


def teams() -> QuerySet[Team]:
    return Team.objects.select_related("parent").order_by("name", "key")


def goals() -> QuerySet[Goal]:
    return Goal.objects.select_related("parent", "team", "owner").order_by("position", "key")


def kpis() -> QuerySet[Kpi]:
    return (
        Kpi.objects.select_related("team", "owner")
        .prefetch_related("goal_links__goal")
        .order_by("position", "key")
    )


def team_by_key(key: str) -> Team:
    found = teams().filter(key=key).first()
    if found is None:
        raise Http404(f"no team with key {key!r}")
    return found


def goal_by_key(key: str) -> Goal:
    found = goals().filter(key=key).first()
    if found is None:
        raise Http404(f"no goal with key {key!r}")
    return found


def kpi_by_key(key: str) -> Kpi:
    found = kpis().filter(key=key).first()
    if found is None:
        raise Http404(f"no KPI with key {key!r}")
    return found


def team_ref(key: str | None, field: str = "team") -> Team | None:
    if key is None:
        return None
    found = Team.objects.filter(key=key).first()
    if found is None:
        raise ValidationError({field: f"no team with key {key!r}"})
    return found


def goal_ref(key: str | None, field: str = "parent") -> Goal | None:
    if key is None:
        return None
    found = Goal.objects.filter(key=key).first()
    if found is None:
        raise ValidationError({field: f"no goal with key {key!r}"})
    return found


def person_ref(email: str | None, field: str = "owner") -> User | None:
    """The person with this e-mail address; case does not matter unless two differ by it."""
    if email is None:
        return None
    found = list(User.objects.filter(email__iexact=email)[:2])
    if len(found) > 1:
        found = [person for person in found if person.email == email]
    if len(found) != 1:
        raise ValidationError({field: f"no person with e-mail address {email!r}"})
    return found[0]


def page(query: QuerySet[M], params: PageParams, present: Callable[[M], T]) -> tuple[list[T], int]:
    """One page of a query, presented, and how many items there are in all."""
    items = [present(item) for item in query[params.offset : params.offset + params.limit]]
    if params.offset == 0 and len(items) < params.limit:
        return items, len(items)
    return items, query.count()


# Optimistic concurrency ---------------------------------------------------------------

_ETAG = re.compile(r'^(?:W/)?"?(\d{1,10})"?$')


def etag(version: int) -> str:
    return f'"{version}"'


def expected_version(body_version: int | None, if_match: str | None) -> int | None:
    """The version an update was made against, from the body or the If-Match header.

    `If-Match: *` says "whatever the current version is" and skips the check.
    """
    header = (if_match or "").strip()
    from_header: int | None = None
    if header and header != "*":
        match = _ETAG.match(header)
        if match is None:
            raise ValidationError({"If-Match": f'{header!r} is not an ETag of this API (e.g. "3")'})
        from_header = int(match.group(1))
    if body_version is not None and from_header is not None and body_version != from_header:
        raise ValidationError(
            {"version": f"version {body_version} and If-Match {header} disagree; send one"}
        )
    if body_version is None and from_header is None and header != "*":
        raise PreconditionRequired(
            "say which version you edited: a `version` field in the body, or an If-Match "
            "header with the ETag that GET returned"
        )
    return body_version if body_version is not None else from_header


@contextmanager
def if_match_checked(if_match: str | None) -> Iterator[None]:
    """A stale version named by an If-Match header fails the precondition: 412, as HTTP
    says (RFC 9110, 13.1.1); one named by the body's `version` stays a 409 conflict."""
    try:
        yield
    except ConflictError as error:
        if (if_match or "").strip() in ("", "*"):
            raise
        failed = PreconditionFailed("", error.expected, error.current)
        failed.args = error.args
        raise failed from error
