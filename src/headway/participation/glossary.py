"""The KPI glossary: what each KPI means, why it matters and how it is computed, in plain
words, in English and Traditional Chinese.

What a KPI means and why it matters are written by people (a :class:`GlossaryEntry`,
edited by admins and the managers of the KPI's team). A reader gets them in their
language; where that text is empty, the other language's, and for the meaning, then the
KPI's description. How it is computed is never written by hand: it is read from the
formula and its measures, so it cannot drift from what the engine does.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from headway.accounts.models import Organization, User
from headway.accounts.permissions import can_edit_team_things, is_signed_in
from headway.audit.errors import NotAllowed, check_version
from headway.audit.services import audit_record, snapshot
from headway.engine.formula import (
    BinaryOp,
    FormulaError,
    MeasureRef,
    Negate,
    Node,
    Number,
    Prev,
    parse_formula,
)
from headway.goals.models import Goal
from headway.kpis.choices import Aggregation, Direction, EntryKind, Unit
from headway.kpis.models import Kpi, Measure
from headway.participation.models import GlossaryEntry

ENGLISH = "en"
CHINESE = "zh-hant"
TEXT_FIELDS = ("meaning_en", "meaning_zh", "why_en", "why_zh")
MAX_TEXT = 4000


def is_chinese(language: str | None) -> bool:
    return (language or "").lower().startswith("zh")


@dataclass(frozen=True)
class MeasureWords:
    """A measure of the formula and what it adds up, in words."""

    name: str
    words: str


@dataclass(frozen=True)
class GlossaryItem:
    """One KPI of the glossary, in one language.

    ``meaning_source`` and ``why_source`` say where the text came from: ``entry`` (written
    in this language), ``other`` (written only in the other language), ``description``
    (the KPI's description) or ``""`` (nothing written yet)."""

    kpi: Kpi
    entry: GlossaryEntry | None
    meaning: str
    meaning_source: str
    why: str
    why_source: str
    how: str
    measures: tuple[MeasureWords, ...]
    nature: str
    goals: tuple[Goal, ...]

    @property
    def version(self) -> int:
        """The entry's version, 0 while the KPI has none (what an edit must start from)."""
        return self.entry.version if self.entry is not None else 0


# -- how it is computed, in words ----------------------------------------------------------

_STRENGTH = {"+": 1, "-": 1, "*": 2, "/": 2}


def _grain_phrase(grain: str) -> str:
    return {
        "week": _("per week"),
        "month": _("per month"),
        "quarter": _("per quarter"),
        "year": _("per year"),
    }.get(grain, grain)


def _expression(node: Node) -> str:
    """A formula read out: ``won / leads`` is "won divided by leads"."""
    if isinstance(node, Number):
        return str(node.value)
    if isinstance(node, MeasureRef):
        return node.name
    if isinstance(node, Negate):
        return _("minus %(value)s") % {"value": _wrapped(node.operand, lambda child: True)}
    if isinstance(node, Prev):
        inner = _wrapped(node.operand, lambda child: True)
        if node.periods == 1:
            return _("%(value)s of the period before") % {"value": inner}
        return _("%(value)s of %(count)s periods before") % {"value": inner, "count": node.periods}
    # Brackets wherever words alone could be read two ways: around a left side of another
    # strength ("(a divided by b) minus 1") and around any compound right side.
    strength = _STRENGTH[node.op]
    left = _wrapped(node.left, lambda child: _STRENGTH[child.op] != strength)
    right = _wrapped(node.right, lambda child: True)
    words = {
        "+": _("%(left)s plus %(right)s"),
        "-": _("%(left)s minus %(right)s"),
        "*": _("%(left)s times %(right)s"),
        "/": _("%(left)s divided by %(right)s"),
    }[node.op]
    return words % {"left": left, "right": right}


def _wrapped(node: Node, needs_brackets: Callable[[BinaryOp], bool]) -> str:
    text = _expression(node)
    if isinstance(node, BinaryOp) and needs_brackets(node):
        return f"({text})"
    return text


def _measure_words(measure: Measure) -> str:
    column = measure.column
    if measure.agg == Aggregation.COUNT and column:
        what = _("the number of rows with a value in %(column)s") % {"column": column}
    else:
        what = {
            Aggregation.COUNT: _("the number of rows"),
            Aggregation.COUNT_DISTINCT: _("the number of distinct values of %(column)s"),
            Aggregation.SUM: _("the sum of %(column)s"),
            Aggregation.AVG: _("the average of %(column)s"),
            Aggregation.MIN: _("the smallest %(column)s"),
            Aggregation.MAX: _("the largest %(column)s"),
        }.get(Aggregation(measure.agg), measure.agg) % {"column": column}
    values = {"what": what, "dataset": measure.dataset.key, "filter": measure.filter}
    if measure.filter:
        return _("%(what)s of %(dataset)s where %(filter)s") % values
    return _("%(what)s of %(dataset)s") % values


def _unit_words(unit: str, currency: str) -> str:
    return {
        Unit.COUNT: _("It is a count"),
        Unit.NUMBER: _("It is a number"),
        Unit.PERCENT: _("It is a percentage"),
        Unit.CURRENCY: _("It is an amount in %(currency)s") % {"currency": currency},
        Unit.SCORE: _("It is a score"),
    }.get(Unit(unit), unit)


def _nature(kpi: Kpi, currency: str) -> str:
    better = _("higher is better") if kpi.direction == Direction.UP else _("lower is better")
    return _("%(unit)s; %(better)s.") % {"unit": _unit_words(kpi.unit, currency), "better": better}


def how_computed(kpi: Kpi, measures: dict[str, Measure]) -> tuple[str, tuple[MeasureWords, ...]]:
    """How the KPI's value is worked out, in the active language: a sentence, and what
    each measure the formula names adds up."""
    grain = _grain_phrase(kpi.grain)
    if kpi.entry == EntryKind.MANUAL:
        if kpi.manual_approval:
            text = _(
                "Entered by hand %(grain)s; a value counts once the KPI's owner approves it."
            ) % {"grain": grain}
        else:
            text = _("Entered by hand %(grain)s.") % {"grain": grain}
        return text, ()
    try:
        tree = parse_formula(kpi.formula)
    except FormulaError:
        return _("%(formula)s, %(grain)s.") % {"formula": kpi.formula, "grain": grain}, ()
    text = _("%(name)s is %(expression)s, worked out %(grain)s from the totals of the period.") % {
        "name": kpi.name,
        "expression": _expression(tree),
        "grain": grain,
    }
    names = []
    for name in _names(tree):
        if name not in names:
            names.append(name)
    words = tuple(
        MeasureWords(name=name, words=_measure_words(measures[name]))
        for name in names
        if name in measures
    )
    return text, words


def _names(node: Node) -> list[str]:
    if isinstance(node, MeasureRef):
        return [node.name]
    if isinstance(node, Negate | Prev):
        return _names(node.operand)
    if isinstance(node, BinaryOp):
        return _names(node.left) + _names(node.right)
    return []


# -- the glossary --------------------------------------------------------------------------


def _pick(own: str, other: str, fallback: str = "") -> tuple[str, str]:
    if own.strip():
        return own.strip(), "entry"
    if other.strip():
        return other.strip(), "other"
    if fallback.strip():
        return fallback.strip(), "description"
    return "", ""


def glossary(language: str) -> list[GlossaryItem]:
    """Every active KPI in plain words, in ``language`` (``en`` or ``zh-hant``)."""
    chinese = is_chinese(language)
    currency = Organization.current().currency
    measures = {
        measure.name: measure for measure in Measure.objects.select_related("dataset").all()
    }
    kpis = (
        Kpi.objects.filter(is_active=True)
        .select_related("team", "owner", "glossary")
        .prefetch_related("goal_links__goal")
        .order_by("position", "key")
    )
    items = []
    with translation.override(CHINESE if chinese else ENGLISH):
        for kpi in kpis:
            entry = getattr(kpi, "glossary", None)
            texts = {name: getattr(entry, name, "") or "" for name in TEXT_FIELDS}
            own, other = ("zh", "en") if chinese else ("en", "zh")
            meaning, meaning_source = _pick(
                texts[f"meaning_{own}"], texts[f"meaning_{other}"], kpi.description
            )
            why, why_source = _pick(texts[f"why_{own}"], texts[f"why_{other}"])
            how, words = how_computed(kpi, measures)
            goals = sorted(
                (link.goal for link in kpi.goal_links.all()),
                key=lambda goal: (goal.position, goal.key),
            )
            items.append(
                GlossaryItem(
                    kpi=kpi,
                    entry=entry,
                    meaning=meaning,
                    meaning_source=meaning_source,
                    why=why,
                    why_source=why_source,
                    how=how,
                    measures=words,
                    nature=_nature(kpi, currency),
                    goals=tuple(goals),
                )
            )
    return items


# -- editing -------------------------------------------------------------------------------


def can_edit_glossary(user: Any, kpi: Kpi) -> bool:
    """Admins, and the managers of the KPI's team, write its glossary entry."""
    return is_signed_in(user) and can_edit_team_things(user, kpi.team_id)


def glossary_update(
    *,
    kpi: Kpi,
    by: User,
    meaning_en: str,
    meaning_zh: str,
    why_en: str,
    why_zh: str,
    expected_version: int | None,
) -> GlossaryEntry:
    """Writes the KPI's glossary entry (made at the first edit, at version 1).

    ``expected_version`` is the version the editor started from (0: there was no entry
    yet); another edit in between raises ConflictError. Saving the same texts again
    changes nothing and records nothing."""
    if not can_edit_glossary(by, kpi):
        raise NotAllowed("only an admin or a manager of the KPI's team may edit its glossary")
    texts = {
        "meaning_en": meaning_en.strip(),
        "meaning_zh": meaning_zh.strip(),
        "why_en": why_en.strip(),
        "why_zh": why_zh.strip(),
    }
    too_long = {
        name: ngettext(
            "Keep it under %(count)s character.", "Keep it under %(count)s characters.", MAX_TEXT
        )
        % {"count": MAX_TEXT}
        for name, text in texts.items()
        if len(text) > MAX_TEXT
    }
    if too_long:
        raise ValidationError(too_long)
    with transaction.atomic():
        # The KPI's row is the lock: two first edits cannot both make an entry.
        Kpi.objects.select_for_update().filter(pk=kpi.pk).first()
        entry = GlossaryEntry.objects.filter(kpi=kpi).first()
        check_version(
            f"The glossary entry of {kpi.key}",
            expected_version,
            entry.version if entry is not None else 0,
        )
        if entry is not None and all(getattr(entry, name) == texts[name] for name in texts):
            return entry
        before = (
            {**snapshot(entry, TEXT_FIELDS), "version": entry.version}
            if entry is not None
            else None
        )
        if entry is None:
            entry = GlossaryEntry(kpi=kpi, version=1, updated_by=by, **texts)
        else:
            for name, text in texts.items():
                setattr(entry, name, text)
            entry.version += 1
            entry.updated_by = by
        entry.save()
        audit_record(
            actor=by,
            action="participation.glossary.update",
            target=entry,
            object_label=f"{kpi.key}: {kpi.name}",
            before=before,
            after={**snapshot(entry, TEXT_FIELDS), "version": entry.version},
        )
    return entry
