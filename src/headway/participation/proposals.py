"""Proposals and their support votes: writes, each permission-checked and audited.

A proposal moves:

    open ─┬─▶ under review ─┬─▶ accepted ─▶ applied (through the KPI services)
          │        ▲        ├─▶ declined (with a reason)
          │        └──open  └─▶ merged into another proposal
          └─▶ accepted / declined / merged (directly)

A declined or merged proposal may be reopened; an accepted one may go back under review
or be declined until it is applied, and an applied one stays as it is. Applying writes
through the KPI services, which keep the history: a new target version has origin
"proposal" and points back with `origin_reference` "proposal:<id>", a retirement names the
proposal in its audit row, and a new KPI is linked from `Proposal.applied_kpi`.

Who may do what is in `permissions`. Errors people can correct are ValidationErrors naming
the field at fault, in the reader's language.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone, translation
from django.utils.text import slugify
from django.utils.translation import gettext as _

from headway.accounts.models import Organization, Team, User
from headway.audit.errors import NotAllowed, check_version
from headway.audit.services import audit_record, snapshot
from headway.engine.model import KEY_PATTERN
from headway.goals.models import Goal
from headway.kpis.choices import Direction, EntryKind, Grain, TargetOrigin, Unit
from headway.kpis.models import Kpi
from headway.kpis.services import formula_problems, kpi_create, kpi_retire, target_revise
from headway.lib import paths
from headway.lib.periods import PeriodLabelError, parse_period_label
from headway.notifications.models import Kind
from headway.notifications.services import notify
from headway.participation.models import (
    Proposal,
    ProposalKind,
    ProposalStatus,
    Vote,
    WorkshopIdea,
)
from headway.participation.permissions import (
    can_apply,
    can_decide,
    can_edit_proposal,
    can_propose,
    can_vote,
    proposal_team_id,
)
from headway.participation.webhooks import post_team_event
from headway.results.locks import locked_problem
from headway.results.services import results_refresh_kpi

logger = logging.getLogger("headway.participation")

MAX_TITLE = 300
MAX_WHY = 5000
MAX_REASON = 2000
MAX_FORMULA = 2000

# The statuses a proposal may move to from each status (before it is applied).
TRANSITIONS: dict[str, set[str]] = {
    ProposalStatus.OPEN: {
        ProposalStatus.UNDER_REVIEW,
        ProposalStatus.ACCEPTED,
        ProposalStatus.DECLINED,
        ProposalStatus.MERGED,
    },
    ProposalStatus.UNDER_REVIEW: {
        ProposalStatus.OPEN,
        ProposalStatus.ACCEPTED,
        ProposalStatus.DECLINED,
        ProposalStatus.MERGED,
    },
    ProposalStatus.ACCEPTED: {ProposalStatus.UNDER_REVIEW, ProposalStatus.DECLINED},
    ProposalStatus.DECLINED: {ProposalStatus.OPEN},
    ProposalStatus.MERGED: {ProposalStatus.OPEN},
}

# Support is given (and withdrawn) while a proposal is still being considered.
VOTING_STATUSES = (ProposalStatus.OPEN, ProposalStatus.UNDER_REVIEW)

# What the author may change while the proposal is open (not its kind or KPI: the
# support it gathered was for those).
EDITABLE = {
    "title",
    "why",
    "goal",
    "team",
    "kpi_key",
    "kpi_name",
    "formula",
    "unit",
    "grain",
    "direction",
    "target_value",
    "effective_from",
}


def _require(allowed: bool, message: str) -> None:
    if not allowed:
        raise NotAllowed(message)


def _status_name(status: str) -> str:
    return str(ProposalStatus(status).label).lower()


# -- checking what a proposal says -------------------------------------------------------


class _Problems:
    """Every problem of a form at once, each under the field at fault."""

    def __init__(self) -> None:
        self.found: dict[str, list[str]] = {}

    def add(self, field: str, message: str) -> None:
        self.found.setdefault(field, []).append(message)

    def raise_any(self) -> None:
        if self.found:
            raise ValidationError(self.found)


def _text(problems: _Problems, field: str, value: str, limit: int, *, required: bool) -> str:
    text = (value or "").strip()
    if required and not text:
        problems.add(field, _("This field is required."))
    elif len(text) > limit:
        problems.add(
            field,
            _("Write at most %(limit)s characters (this has %(count)s).")
            % {"limit": f"{limit:,}", "count": f"{len(text):,}"},
        )
    return text


def _amount(problems: _Problems, field: str, raw: Any) -> Decimal | None:
    if raw is None or str(raw).strip() == "":
        return None
    try:
        amount = Decimal(str(raw).strip())
    except InvalidOperation:
        problems.add(field, _("%(value)s is not a number.") % {"value": raw})
        return None
    if not amount.is_finite():
        problems.add(field, _("The target must be a finite number."))
        return None
    exponent = amount.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -10:
        problems.add(field, _("Use at most 10 digits after the decimal point."))
        return None
    if abs(amount) >= Decimal(10) ** 20:
        problems.add(field, _("The target is too large."))
        return None
    return amount


def _period_label(problems: _Problems, field: str, label: str, grain: str) -> str:
    """The label of a period of `grain`, checked: it parses and is not closed."""
    label = (label or "").strip()
    if not label:
        problems.add(field, _("Say from which period the target applies."))
        return ""
    try:
        period = parse_period_label(label, Organization.current().fiscal_year_start)
    except PeriodLabelError as error:
        problems.add(field, str(error))
        return ""
    if period.grain.value != grain:
        problems.add(
            field,
            _("%(label)s is not a %(grain)s: the KPI's targets are set per %(grain)s.")
            % {"label": label, "grain": str(Grain(grain).label).lower()},
        )
        return ""
    closed = locked_problem(period.label, period.start, period.last_day)
    if closed:
        problems.add(field, closed)
        return ""
    return period.label


def _free_key(base: str) -> str:
    """`base`, or `base_2`, `base_3`... whichever no KPI has yet."""
    taken = set(Kpi.objects.filter(key__startswith=base).values_list("key", flat=True))
    if base not in taken:
        return base
    number = 2
    while f"{base}_{number}" in taken:
        number += 1
    return f"{base}_{number}"


def derived_key(name: str) -> str:
    """A KPI key made from a name ("Win rate (%)" → "win_rate"), unique among the KPIs."""
    base = slugify(name).replace("-", "_").strip("_")[:90] or "proposed_kpi"
    return _free_key(base)


def _clean(
    *,
    kind: str,
    title: str,
    why: str,
    kpi: Kpi | None,
    goal: Goal | None,
    team: Team | None,
    kpi_key: str,
    kpi_name: str,
    formula: str,
    unit: str,
    grain: str,
    direction: str,
    target_value: Any,
    effective_from: str,
    own_key: str = "",
) -> dict[str, Any]:
    """The proposal's fields, checked for its kind; raises one ValidationError with every
    problem under its field. `own_key` is the key the proposal had already (kept when
    unchanged)."""
    problems = _Problems()
    if kind not in ProposalKind.values:
        problems.add(
            "kind", _("Choose what you propose: a new KPI, a target change or a retirement.")
        )
        problems.raise_any()
    fields: dict[str, Any] = {
        "kind": kind,
        "title": _text(problems, "title", title, MAX_TITLE, required=True),
        "why": _text(problems, "why", why, MAX_WHY, required=True),
        "goal": goal,
        "kpi": None,
        "team": team,
        "kpi_key": "",
        "kpi_name": "",
        "formula": "",
        "unit": "",
        "grain": "",
        "direction": "",
        "target_value": None,
        "effective_from": "",
    }
    if kind == ProposalKind.NEW_KPI:
        if kpi is not None:
            problems.add("kpi", _("A new KPI is proposed from scratch: name no existing KPI."))
        fields["kpi_name"] = _text(problems, "kpi_name", kpi_name, 300, required=True)
        fields["formula"] = _text(problems, "formula", formula, MAX_FORMULA, required=True)
        if fields["formula"]:
            for problem in formula_problems(fields["formula"], EntryKind.FORMULA):
                problems.add("formula", problem)
        direction = (direction or "").strip() or Direction.UP
        for name, value, choices in (
            ("unit", unit, Unit),
            ("grain", grain, Grain),
            ("direction", direction, Direction),
        ):
            value = (value or "").strip()
            if value not in choices.values:
                problems.add(
                    name,
                    _("Choose one of: %(choices)s.")
                    % {"choices": ", ".join(str(label) for label in choices.labels)},
                )
            fields[name] = value
        key = (kpi_key or "").strip()
        if key:
            if len(key) > 100 or not re.fullmatch(KEY_PATTERN, key):
                problems.add(
                    "kpi_key",
                    _(
                        "Use letters, digits, _ . and - in a key, starting with a letter or "
                        "a digit (at most 100 characters)."
                    ),
                )
            elif key != own_key and Kpi.objects.filter(key=key).exists():
                problems.add(
                    "kpi_key", _("A KPI with the key %(key)s exists already.") % {"key": key}
                )
        elif fields["kpi_name"]:
            key = derived_key(fields["kpi_name"])
        fields["kpi_key"] = key
        amount = _amount(problems, "target_value", target_value)
        if amount is not None:
            fields["target_value"] = amount
            if fields["grain"] in Grain.values:
                fields["effective_from"] = _period_label(
                    problems, "effective_from", effective_from, fields["grain"]
                )
        elif (effective_from or "").strip():
            problems.add("target_value", _("Suggest a target for the period you named."))
    else:
        if kpi is None:
            problems.add("kpi", _("Choose the KPI this proposal is about."))
        elif not kpi.is_active:
            problems.add("kpi", _("The KPI %(key)s is retired.") % {"key": kpi.key})
        else:
            fields["kpi"] = kpi
            # A proposal about a KPI is decided by the KPI's team.
            fields["team"] = kpi.team
        if kind == ProposalKind.TARGET_CHANGE:
            if target_value is None or str(target_value).strip() == "":
                problems.add("target_value", _("Say what the new target should be."))
            else:
                fields["target_value"] = _amount(problems, "target_value", target_value)
            if kpi is not None and kpi.is_active:
                fields["effective_from"] = _period_label(
                    problems, "effective_from", effective_from, kpi.grain
                )
    problems.raise_any()
    return fields


# -- proposals -----------------------------------------------------------------------------


def proposal_create(
    *,
    by: User,
    kind: str,
    title: str,
    why: str,
    kpi: Kpi | None = None,
    goal: Goal | None = None,
    team: Team | None = None,
    kpi_key: str = "",
    kpi_name: str = "",
    formula: str = "",
    unit: str = "",
    grain: str = "",
    direction: str = "",
    target_value: Decimal | str | float | int | None = None,
    effective_from: str = "",
    idea: WorkshopIdea | None = None,
) -> Proposal:
    """Anyone signed in proposes a new KPI, a target change or a KPI's retirement.

    A new KPI needs a name, a formula over the known measures, a unit, a period (grain)
    and a direction (up when empty); its key is made from the name when none is given,
    and a suggested target needs the period it applies from. A target change needs an
    active KPI, the new value and the period (of the KPI's grain) it applies from. A
    retirement needs an active KPI. A proposal about a KPI belongs to the KPI's team."""
    _require(can_propose(by), _("Sign in to make a proposal."))
    fields = _clean(
        kind=kind,
        title=title,
        why=why,
        kpi=kpi,
        goal=goal,
        team=team,
        kpi_key=kpi_key,
        kpi_name=kpi_name,
        formula=formula,
        unit=unit,
        grain=grain,
        direction=direction,
        target_value=target_value,
        effective_from=effective_from,
    )
    with transaction.atomic():
        if idea is not None and Proposal.objects.filter(idea=idea).exists():
            raise ValidationError({"idea": _("This idea has been made a proposal already.")})
        proposal = Proposal.objects.create(author=by, idea=idea, **fields)
        audit_record(
            actor=by,
            action="participation.proposal.create",
            target=proposal,
            after=snapshot(proposal),
        )
        title = proposal.title
        _tell_team(
            proposal,
            lambda: _("%(person)s proposed “%(title)s”.") % {"person": by, "title": title},
        )
    return proposal


def _same(first: Any, second: Any) -> bool:
    if isinstance(first, Decimal) and isinstance(second, Decimal):
        return first == second  # 0.5000000000 from the database is 0.5
    return bool(first == second)


def _locked(proposal: Proposal) -> Proposal:
    return (
        # Only the proposal's row is locked (PostgreSQL cannot lock the nullable side of
        # the outer joins).
        Proposal.objects.select_for_update(of=("self",))
        .select_related("kpi", "author", "team", "goal")
        .get(pk=proposal.pk)
    )


def proposal_update(
    *,
    proposal: Proposal,
    by: User,
    expected_version: int | None = None,
    **fields: Any,
) -> Proposal:
    """The author changes their proposal while it is open (its kind and KPI stay)."""
    unknown = set(fields) - EDITABLE
    if unknown:
        raise ValueError(f"not editable: {', '.join(sorted(unknown))}")
    _require(
        getattr(by, "pk", None) == proposal.author_id,
        _("Only the author of a proposal may change it."),
    )
    with transaction.atomic():
        current = _locked(proposal)
        check_version(_("The proposal"), expected_version, current.version)
        if not can_edit_proposal(by, current):
            raise ValidationError(
                {
                    "status": _("Only an open proposal can be changed; this one is %(status)s.")
                    % {"status": _status_name(current.status)}
                }
            )
        before = snapshot(current)
        values: dict[str, Any] = {name: getattr(current, name) for name in EDITABLE}
        values.update(fields)
        cleaned = _clean(kind=current.kind, kpi=current.kpi, own_key=current.kpi_key, **values)
        if all(_same(getattr(current, name), value) for name, value in cleaned.items()):
            return current  # nothing changed: nothing written
        for name, value in cleaned.items():
            setattr(current, name, value)
        current.version += 1
        current.save()
        audit_record(
            actor=by,
            action="participation.proposal.update",
            target=current,
            before=before,
            after=snapshot(current),
        )
    return current


def _notify_followers(proposal: Proposal, by: User, text: Any) -> None:
    """The author and the supporters of a proposal hear of what happened to it."""
    voters = User.objects.filter(pk__in=Vote.objects.filter(proposal=proposal).values("person"))
    notify(
        people=[proposal.author, *voters],
        kind=Kind.PROPOSAL,
        text=text,
        url=paths.proposal_path(proposal.pk),
        actor=by,
    )


def _tell_team(proposal: Proposal, text: Callable[[], str]) -> None:
    """Posts to the Slack/Teams channels of the proposal's team once the change commits
    (a channel that fails is logged, never an error for the person acting)."""
    team_id = proposal_team_id(proposal)
    team = Team.objects.filter(pk=team_id).first() if team_id is not None else None
    with translation.override("en"):
        text_en = str(text())
    with translation.override("zh-hant"):
        text_zh = str(text())
    path = paths.proposal_path(proposal.pk)
    transaction.on_commit(
        lambda: post_team_event(team=team, text_en=text_en, text_zh=text_zh, url=path)
    )


def _notify_status(proposal: Proposal, by: User) -> None:
    title = proposal.title
    status = proposal.status
    reason = proposal.status_reason
    into = proposal.merged_into.title if proposal.merged_into is not None else ""

    def text() -> str:
        if status == ProposalStatus.MERGED:
            message = _("%(person)s merged the proposal “%(title)s” into “%(into)s”.") % {
                "person": by,
                "title": title,
                "into": into,
            }
        else:
            message = _("%(person)s set the proposal “%(title)s” to %(status)s.") % {
                "person": by,
                "title": title,
                "status": _status_name(status),
            }
        if reason:
            message += " " + _("Reason: %(reason)s") % {"reason": reason}
        return message

    _notify_followers(proposal, by, text)
    _tell_team(proposal, text)


def proposal_set_status(
    *,
    proposal: Proposal,
    by: User,
    status: str,
    reason: str = "",
    merged_into: Proposal | None = None,
    expected_version: int | None = None,
) -> Proposal:
    """An admin or a manager of the proposal's team (never its author) puts it under
    review, accepts, declines (saying why) or merges it into another proposal, or
    reopens it. The author and the supporters are notified."""
    _require(
        can_decide(by, proposal),
        _(
            "Only an admin or a manager of the proposal's team decides on it, and never "
            "on their own proposal."
        ),
    )
    if status not in ProposalStatus.values:
        raise ValidationError(
            {"status": _("%(status)s is not a status of proposals.") % {"status": status}}
        )
    problems = _Problems()
    reason = _text(problems, "reason", reason, MAX_REASON, required=False)
    if status == ProposalStatus.DECLINED and not reason:
        problems.add("reason", _("Say why the proposal is declined."))
    if status == ProposalStatus.MERGED:
        if merged_into is None:
            problems.add("merged_into", _("Choose the proposal this one is merged into."))
    elif merged_into is not None:
        problems.add("merged_into", _("Only a merge names another proposal."))
    problems.raise_any()
    with transaction.atomic():
        current = _locked(proposal)
        check_version(_("The proposal"), expected_version, current.version)
        if current.applied_at is not None:
            raise ValidationError(
                {"status": _("This proposal has been applied; its status stays.")}
            )
        if status == current.status:
            raise ValidationError(
                {
                    "status": _("The proposal is %(status)s already.")
                    % {"status": _status_name(status)}
                }
            )
        if status not in TRANSITIONS[current.status]:
            raise ValidationError(
                {
                    "status": _("A proposal that is %(from)s cannot be set to %(to)s.")
                    % {"from": _status_name(current.status), "to": _status_name(status)}
                }
            )
        target: Proposal | None = None
        moved: list[int] = []
        if merged_into is not None:
            target = Proposal.objects.select_for_update().get(pk=merged_into.pk)
            if target.pk == current.pk:
                raise ValidationError(
                    {"merged_into": _("A proposal cannot be merged into itself.")}
                )
            if target.status in (ProposalStatus.MERGED, ProposalStatus.DECLINED):
                raise ValidationError(
                    {
                        "merged_into": _(
                            "“%(title)s” is %(status)s: merge into a proposal still under "
                            "consideration."
                        )
                        % {"title": target.title, "status": _status_name(target.status)}
                    }
                )
            # Proposals merged into this one follow it, so that no merge points at a
            # merged proposal.
            moved = list(Proposal.objects.filter(merged_into=current).values_list("pk", flat=True))
            Proposal.objects.filter(pk__in=moved).update(merged_into=target)
        before = snapshot(current, ["status", "status_reason", "merged_into_id"])
        current.status = status
        current.status_reason = reason
        current.status_by = by
        current.status_at = timezone.now()
        current.merged_into = target
        current.version += 1
        current.save()
        after: dict[str, Any] = snapshot(current, ["status", "status_reason", "merged_into_id"])
        if moved:
            after["also_moved_to_it"] = moved
        audit_record(
            actor=by,
            action="participation.proposal.status",
            target=current,
            before=before,
            after=after,
            reason=reason,
        )
        _notify_status(current, by)
    return current


def proposal_accept(
    *, proposal: Proposal, by: User, reason: str = "", expected_version: int | None = None
) -> Proposal:
    """Accepts a proposal: it goes to the next review's agenda, or a manager applies it."""
    return proposal_set_status(
        proposal=proposal,
        by=by,
        status=ProposalStatus.ACCEPTED,
        reason=reason,
        expected_version=expected_version,
    )


def _apply_reason(proposal: Proposal) -> str:
    return proposal.status_reason.strip() or proposal.why.strip() or proposal.title


def proposal_apply(*, proposal: Proposal, by: User) -> Proposal:
    """Writes an accepted proposal through the KPI services, once: a new KPI (with its
    suggested target), a new target version, or the KPI's retirement, each pointing back
    at the proposal. Then the results of a new or changed KPI are recomputed (problems
    there are logged: the change stands, and the next recompute catches up)."""
    _require(
        can_apply(by, proposal),
        _("Only an admin or a manager of the proposal's team applies it."),
    )
    with transaction.atomic():
        current = _locked(proposal)
        if current.applied_at is not None:
            raise ValidationError({"status": _("This proposal has been applied already.")})
        if current.status != ProposalStatus.ACCEPTED:
            raise ValidationError(
                {
                    "status": _("Only an accepted proposal is applied; this one is %(status)s.")
                    % {"status": _status_name(current.status)}
                }
            )
        reason = _apply_reason(current)
        outcome: dict[str, Any] = {}
        refresh = ""
        if current.kind == ProposalKind.NEW_KPI:
            created = kpi_create(
                by=by,
                key=_free_key(current.kpi_key or derived_key(current.kpi_name)),
                name=current.kpi_name,
                formula=current.formula,
                unit=current.unit,
                grain=current.grain,
                direction=current.direction or Direction.UP,
                team=current.team,
                description=current.why,
                goals=[(current.goal, Decimal(1))] if current.goal is not None else [],
            )
            current.applied_kpi = created
            outcome["kpi"] = created.key
            if current.target_value is not None and current.effective_from:
                target = target_revise(
                    kpi=created,
                    by=by,
                    effective_from=current.effective_from,
                    value=current.target_value,
                    reason=reason,
                    origin=TargetOrigin.PROPOSAL,
                    origin_reference=current.reference,
                )
                current.applied_target = target
                outcome["target_version"] = target.pk
            refresh = created.key
        else:
            assert current.kpi_id is not None  # checked when it was proposed
            kpi = Kpi.objects.select_for_update().get(pk=current.kpi_id)
            if not kpi.is_active:
                raise ValidationError({"kpi": _("The KPI %(key)s is retired.") % {"key": kpi.key}})
            if current.kind == ProposalKind.TARGET_CHANGE:
                problems = _Problems()
                _period_label(problems, "effective_from", current.effective_from, kpi.grain)
                problems.raise_any()
                assert current.target_value is not None  # checked when it was proposed
                target = target_revise(
                    kpi=kpi,
                    by=by,
                    effective_from=current.effective_from,
                    value=current.target_value,
                    reason=reason,
                    origin=TargetOrigin.PROPOSAL,
                    origin_reference=current.reference,
                )
                current.applied_target = target
                outcome.update(kpi=kpi.key, target_version=target.pk)
                refresh = kpi.key
            else:
                kpi_retire(kpi=kpi, by=by, reason=reason, reference=current.reference)
                outcome.update(kpi=kpi.key, retired=True)
        current.applied_by = by
        current.applied_at = timezone.now()
        current.version += 1
        current.save()
        audit_record(
            actor=by,
            action="participation.proposal.apply",
            target=current,
            before={"applied_at": None},
            after={"applied_at": current.applied_at, **outcome},
            reason=reason,
        )
        title = current.title

        def text() -> str:
            return _("%(person)s applied the proposal “%(title)s”.") % {
                "person": by,
                "title": title,
            }

        _notify_followers(current, by, text)
    if refresh:
        for problem in results_refresh_kpi(key=refresh, by=by):
            logger.warning(
                "proposal %s is applied, but %s was not recomputed: %s",
                current.pk,
                refresh,
                problem,
            )
    return current


# -- support votes ---------------------------------------------------------------------------


def _require_voting(proposal: Proposal) -> None:
    if proposal.status not in VOTING_STATUSES:
        raise ValidationError(
            {
                "vote": _(
                    "Support is given while a proposal is open or under review; this one "
                    "is %(status)s."
                )
                % {"status": _status_name(proposal.status)}
            }
        )


def vote_add(*, proposal: Proposal, by: User) -> Vote:
    """Supports a proposal: one vote per person, while it is open or under review."""
    _require(can_vote(by), _("Viewers do not vote; people who work with the KPIs do."))
    with transaction.atomic():
        current = _locked(proposal)
        _require_voting(current)
        if Vote.objects.filter(proposal=current, person=by).exists():
            raise ValidationError({"vote": _("You support this proposal already.")})
        try:
            with transaction.atomic():
                vote = Vote.objects.create(proposal=current, person=by)
        except IntegrityError:
            raise ValidationError({"vote": _("You support this proposal already.")}) from None
        audit_record(
            actor=by,
            action="participation.vote.add",
            target=vote,
            object_label=str(current)[:300],
            after={"proposal": current.pk, "person": by.pk},
        )
    return vote


def vote_withdraw(*, proposal: Proposal, by: User) -> None:
    """Takes one's support back, while the proposal is open or under review."""
    _require(can_vote(by), _("Viewers do not vote; people who work with the KPIs do."))
    with transaction.atomic():
        current = _locked(proposal)
        _require_voting(current)
        vote = Vote.objects.filter(proposal=current, person=by).first()
        if vote is None:
            raise ValidationError({"vote": _("You do not support this proposal.")})
        audit_record(
            actor=by,
            action="participation.vote.withdraw",
            target=vote,
            object_label=str(current)[:300],
            before={"proposal": current.pk, "person": by.pk},
        )
        vote.delete()
