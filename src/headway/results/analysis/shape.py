"""What a KPI's formula is, for analysis: additive (its values add up across periods and
groups), a ratio of two additive measures, or neither.

- **Additive**: a single measure aggregated with ``count`` or ``sum``, or a sum or difference
  of such measures (``revenue - refunds``). Three months of it add up to the quarter, and the
  groups of a dimension add up to the total, so year-to-date totals, pacing and
  contributions of groups make sense. ``count_distinct`` is not additive (a customer counted
  in two months is one customer in the quarter), nor is anything with a number, ``*``, ``/``
  or ``prev``.
- **Ratio**: ``a / b`` of two additive measures (``won_deals / leads``). Its change splits
  into a rate effect and a mix effect across groups (see :mod:`.drivers`).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass

from headway.engine.formula import BinaryOp, FormulaError, MeasureRef, Negate, Node, parse_formula

ADDITIVE_AGGREGATIONS = frozenset({"count", "sum"})


class Shape(enum.StrEnum):
    ADDITIVE = "additive"
    RATIO = "ratio"
    OTHER = "other"


@dataclass(frozen=True)
class FormulaShape:
    """The shape of a formula; for a ratio, the names of its numerator and denominator."""

    shape: Shape
    numerator: str | None = None
    denominator: str | None = None

    @property
    def additive(self) -> bool:
        return self.shape is Shape.ADDITIVE


def _additive(node: Node, aggregations: Mapping[str, str]) -> bool:
    if isinstance(node, MeasureRef):
        return aggregations.get(node.name) in ADDITIVE_AGGREGATIONS
    if isinstance(node, Negate):
        return _additive(node.operand, aggregations)
    if isinstance(node, BinaryOp) and node.op in ("+", "-"):
        return _additive(node.left, aggregations) and _additive(node.right, aggregations)
    return False


def formula_shape(formula: str, aggregations: Mapping[str, str]) -> FormulaShape:
    """The shape of ``formula``, given each measure's aggregation (``count``, ``sum``...)."""
    try:
        node = parse_formula(formula)
    except FormulaError:
        return FormulaShape(Shape.OTHER)
    if _additive(node, aggregations):
        return FormulaShape(Shape.ADDITIVE)
    if (
        isinstance(node, BinaryOp)
        and node.op == "/"
        and isinstance(node.left, MeasureRef)
        and isinstance(node.right, MeasureRef)
        and _additive(node.left, aggregations)
        and _additive(node.right, aggregations)
    ):
        return FormulaShape(Shape.RATIO, node.left.name, node.right.name)
    return FormulaShape(Shape.OTHER)
