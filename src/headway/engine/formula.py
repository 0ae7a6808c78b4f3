"""The KPI formula language: arithmetic over measure names, with ``prev`` for earlier periods.

A formula such as ``(revenue - prev(revenue)) / prev(revenue)`` is parsed into a small tree
of frozen dataclasses and evaluated by walking that tree. User text is never handed to
Python (no ``eval``, ``exec``, ``compile`` or ``ast``): a formula can only ever denote the
arithmetic below, whatever characters it contains.

Grammar (whitespace, i.e. spaces, tabs and newlines, is free between tokens)::

    expression := term (("+" | "-") term)*
    term       := unary (("*" | "/") unary)*
    unary      := ("-" | "+") unary | primary
    primary    := number | name | "(" expression ")" | "prev" "(" expression ["," periods] ")"
    number     := 12 | 0.5 | .5 | 1e3 | 2.5E-2        (digits only gives an int, else a float)
    name       := [A-Za-z_][A-Za-z0-9_]*, except the reserved word prev
    periods    := whole number from 1 to MAX_PREV_PERIODS, written as digits

``prev(x, n)`` is the value of the expression ``x`` in the period ``n`` periods before the
current one (``n`` defaults to 1).

The parser checks syntax only. Any identifier is accepted as a measure name, including
Python keywords and dunders such as ``import`` or ``__class__``: the caller checks the
names from :func:`measure_names` against the measures the workspace defines. A name
followed by ``(`` (other than ``prev``) or any ``.`` outside a number is rejected outright,
so that text shaped like a Python call or attribute access gets a clear message.
"""

from __future__ import annotations

import keyword
import math
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import Literal, TypeAlias

__all__ = [
    "MAX_FORMULA_LENGTH",
    "MAX_NESTING_DEPTH",
    "MAX_PREV_PERIODS",
    "MAX_TREE_DEPTH",
    "PREV",
    "BinaryOp",
    "BinaryOperator",
    "FormulaError",
    "MeasureRef",
    "Negate",
    "Node",
    "Number",
    "Prev",
    "evaluate",
    "max_lookback",
    "measure_names",
    "parse_formula",
    "to_text",
]

MAX_FORMULA_LENGTH = 2000
"""Longest accepted formula, in characters."""

MAX_NESTING_DEPTH = 40
"""Deepest accepted nesting of parentheses, ``prev(...)`` and unary signs, counted together."""

MAX_PREV_PERIODS = 120
"""Largest ``n`` accepted in ``prev(x, n)``."""

MAX_TREE_DEPTH = 100
"""Most operations (``+ - * /``, unary minus, ``prev``) allowed to build on one another.

A chain ``a + b + c`` is two levels deep, because ``+`` is left-associative. The limit keeps
every recursive walk over a parsed tree (including the dataclasses' own ``==``, ``hash`` and
``repr``) far below Python's recursion limit, which ``MAX_NESTING_DEPTH`` alone does not:
a 2000-character chain of additions would otherwise be about 1000 levels deep.
"""

PREV = "prev"
"""The reserved word of ``prev(x)`` and ``prev(x, n)``; it cannot name a measure."""

BinaryOperator: TypeAlias = Literal["+", "-", "*", "/"]

# Explicit ASCII sets: str.isdigit() and str.isalpha() accept characters such as "²" or
# "٣" that int() and float() would then treat inconsistently.
_DIGITS = frozenset("0123456789")
_NAME_START = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_")
_NAME_CHARS = _NAME_START | _DIGITS
_WHITESPACE = frozenset(" \t\n\r")
_COMPARISON_CHARS = frozenset("<>=!")
_NUMBER_SHAPES = "12, 0.5, .5, 1e3 or 2.5E-2"


# --- Tree -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Number:
    """A numeric literal. Digits alone give an ``int`` (``12``), anything else a ``float``."""

    value: int | float


@dataclass(frozen=True)
class MeasureRef:
    """A reference to a measure by name; whether the measure exists is for the caller to check."""

    name: str


@dataclass(frozen=True)
class Negate:
    """Unary minus. (Unary plus leaves no node: ``+x`` parses to ``x``.)"""

    operand: Node


@dataclass(frozen=True)
class BinaryOp:
    """``left op right`` for one of ``+ - * /``."""

    op: BinaryOperator
    left: Node
    right: Node


@dataclass(frozen=True)
class Prev:
    """``prev(operand, periods)``: ``operand`` evaluated ``periods`` periods earlier."""

    operand: Node
    periods: int


Node: TypeAlias = Number | MeasureRef | Negate | BinaryOp | Prev
"""Any node of a parsed formula."""


class FormulaError(ValueError):
    """A formula that is not valid text in the formula language.

    ``message`` is a sentence for people; ``position`` is the 0-based character offset in
    the formula text where the problem is, or ``None`` when it concerns the whole formula.
    ``str()`` of the error gives the message followed by the 1-based position, e.g.
    ``"unbalanced parentheses: ')' has no matching '(' (at character 4)"``.
    """

    def __init__(self, message: str, position: int | None = None) -> None:
        # Both go to args so that the error survives pickling (e.g. across processes).
        super().__init__(message, position)
        self.message = message
        self.position = position

    def __str__(self) -> str:
        if self.position is None:
            return self.message
        return f"{self.message} (at character {self.position + 1})"


# --- Tokenizer --------------------------------------------------------------------------


class _Kind(Enum):
    NUMBER = "number"
    NAME = "name"
    OPERATOR = "operator"
    LPAREN = "("
    RPAREN = ")"
    COMMA = ","
    END = "end"


@dataclass(frozen=True, slots=True)
class _Token:
    kind: _Kind
    text: str
    position: int
    value: int | float = 0


def _tokenize(text: str) -> list[_Token]:
    """Split ``text`` into tokens, rejecting anything outside the language.

    Python-shaped constructs (calls, attribute access, strings, ``**``, ``//``, comparisons)
    are reported here, at their first appearance, before any grammar error elsewhere: they
    are the likeliest mistakes of someone who expects Python, and the answer to them is the
    same wherever they stand.
    """
    tokens: list[_Token] = []
    length = len(text)
    i = 0
    while i < length:
        char = text[i]
        following = text[i + 1] if i + 1 < length else ""
        if char in _WHITESPACE:
            i += 1
        elif char in _DIGITS or (char == "." and following in _DIGITS):
            token, i = _scan_number(text, i)
            tokens.append(token)
        elif char in _NAME_START:
            end = i + 1
            while end < length and text[end] in _NAME_CHARS:
                end += 1
            tokens.append(_Token(_Kind.NAME, text[i:end], i))
            i = end
        elif char == "(":
            previous = tokens[-1] if tokens else None
            if previous is not None and previous.kind is _Kind.NAME and previous.text != PREV:
                raise FormulaError(
                    f"function calls are not allowed: {previous.text}(...) is not available, "
                    "only prev(x) or prev(x, n)",
                    previous.position,
                )
            tokens.append(_Token(_Kind.LPAREN, char, i))
            i += 1
        elif char == ")":
            tokens.append(_Token(_Kind.RPAREN, char, i))
            i += 1
        elif char == ",":
            tokens.append(_Token(_Kind.COMMA, char, i))
            i += 1
        elif char in "+-":
            tokens.append(_Token(_Kind.OPERATOR, char, i))
            i += 1
        elif char == "*":
            if following == "*":
                raise FormulaError("the power operator '**' is not allowed", i)
            tokens.append(_Token(_Kind.OPERATOR, char, i))
            i += 1
        elif char == "/":
            if following == "/":
                raise FormulaError("floor division '//' is not allowed: use '/'", i)
            tokens.append(_Token(_Kind.OPERATOR, char, i))
            i += 1
        else:
            raise _unknown_character(text, i)
    tokens.append(_Token(_Kind.END, "", length))
    return tokens


def _scan_number(text: str, start: int) -> tuple[_Token, int]:
    """Read the number starting at ``start``; return its token and the offset after it."""
    length = len(text)
    end = start
    while end < length and text[end] in _DIGITS:
        end += 1
    is_integer = True
    # A dot belongs to the number only before a digit, so "1.__class__" is attribute access.
    if end + 1 < length and text[end] == "." and text[end + 1] in _DIGITS:
        is_integer = False
        end += 1
        while end < length and text[end] in _DIGITS:
            end += 1
    if end < length and text[end] in "eE":
        exponent = end + 1
        if exponent < length and text[exponent] in "+-":
            exponent += 1
        if exponent < length and text[exponent] in _DIGITS:
            is_integer = False
            end = exponent
            while end < length and text[end] in _DIGITS:
                end += 1
    if end < length and text[end] in _NAME_CHARS:
        # "2x", "1e", "0x1F": report the whole word, not a puzzling "two operands in a row".
        word_end = end
        while word_end < length and text[word_end] in _NAME_CHARS:
            word_end += 1
        raise FormulaError(
            f"malformed number '{text[start:word_end]}': numbers look like {_NUMBER_SHAPES}",
            start,
        )
    literal = text[start:end]
    value: int | float
    if is_integer:
        try:
            value = int(literal)
        except ValueError:
            # Python refuses to convert decimal strings of more than about 4300 digits.
            raise FormulaError(f"the number has too many digits ({len(literal)})", start) from None
    else:
        value = float(literal)
        if not math.isfinite(value):
            raise FormulaError(f"the number {literal} is too large", start)
    return _Token(_Kind.NUMBER, literal, start, value), end


def _unknown_character(text: str, i: int) -> FormulaError:
    """The error for a character that starts no token of the language."""
    char = text[i]
    if char == ".":
        return FormulaError(
            "attribute access is not allowed: '.' may only appear inside a number such as 0.5",
            i,
        )
    if char in "'\"":
        return FormulaError(
            "strings are not allowed: a formula holds numbers, measure names, + - * /, "
            "parentheses and prev(x)",
            i,
        )
    if char in _COMPARISON_CHARS:
        end = i + 1
        while end < len(text) and text[end] in _COMPARISON_CHARS:
            end += 1
        return FormulaError(
            f"comparison and assignment operators like '{text[i:end]}' are not allowed", i
        )
    if char == "%":
        return FormulaError("the remainder operator '%' is not allowed", i)
    if char in "[]":
        return FormulaError(
            f"the character '{char}' is not allowed in a formula: "
            "there is no indexing, and measure names are written bare, like revenue",
            i,
        )
    return FormulaError(f"the character {char!r} is not allowed in a formula", i)


# --- Parser -----------------------------------------------------------------------------


def parse_formula(text: str) -> Node:
    """Parse formula ``text`` into a tree, or raise :class:`FormulaError` saying where and why.

    Only syntax is checked: every identifier other than ``prev`` is accepted as a measure
    name, and the caller must check :func:`measure_names` against the known measures.
    """
    if len(text) > MAX_FORMULA_LENGTH:
        raise FormulaError(
            f"the formula is too long: {len(text)} characters, "
            f"at most {MAX_FORMULA_LENGTH} are allowed",
            MAX_FORMULA_LENGTH,
        )
    if not text.strip(" \t\n\r"):
        raise FormulaError("the formula is empty")
    return _Parser(_tokenize(text)).parse()


class _Parser:
    """Recursive descent over the token list.

    Each parsing method returns the node with its height (operations on the longest path
    down from it), so that :data:`MAX_TREE_DEPTH` is enforced without a second walk.
    Recursion happens only on entering parentheses, ``prev`` or a unary sign, each of which
    is counted against :data:`MAX_NESTING_DEPTH` first, so the Python stack stays shallow
    whatever the input.
    """

    def __init__(self, tokens: list[_Token]) -> None:
        self._tokens = tokens
        self._index = 0
        self._depth = 0

    def parse(self) -> Node:
        node, _ = self._expression()
        token = self._peek()
        if token.kind is not _Kind.END:
            raise self._after_operand_error(token)
        return node

    # Token access.

    def _peek(self) -> _Token:
        return self._tokens[self._index]

    def _advance(self) -> _Token:
        token = self._tokens[self._index]
        if token.kind is not _Kind.END:
            self._index += 1
        return token

    def _previous(self) -> _Token | None:
        return self._tokens[self._index - 1] if self._index > 0 else None

    # Limits.

    def _enter(self, token: _Token) -> None:
        self._depth += 1
        if self._depth > MAX_NESTING_DEPTH:
            raise FormulaError(
                "the formula is nested too deeply: more than "
                f"{MAX_NESTING_DEPTH} levels of parentheses, prev or signs",
                token.position,
            )

    def _leave(self) -> None:
        self._depth -= 1

    @staticmethod
    def _checked_height(height: int, token: _Token) -> int:
        if height > MAX_TREE_DEPTH:
            raise FormulaError(
                f"the formula is too complex: more than {MAX_TREE_DEPTH} operations build "
                "on one another; split it into smaller formulas",
                token.position,
            )
        return height

    # Grammar rules.

    def _expression(self) -> tuple[Node, int]:
        left, left_height = self._term()
        while (token := self._peek()).kind is _Kind.OPERATOR and token.text in "+-":
            self._advance()
            right, right_height = self._term()
            op: BinaryOperator = "+" if token.text == "+" else "-"
            left = BinaryOp(op, left, right)
            left_height = self._checked_height(1 + max(left_height, right_height), token)
        return left, left_height

    def _term(self) -> tuple[Node, int]:
        left, left_height = self._unary()
        while (token := self._peek()).kind is _Kind.OPERATOR and token.text in "*/":
            self._advance()
            right, right_height = self._unary()
            op: BinaryOperator = "*" if token.text == "*" else "/"
            left = BinaryOp(op, left, right)
            left_height = self._checked_height(1 + max(left_height, right_height), token)
        return left, left_height

    def _unary(self) -> tuple[Node, int]:
        token = self._peek()
        if token.kind is not _Kind.OPERATOR or token.text not in "+-":
            return self._primary()
        self._advance()
        self._enter(token)
        operand, height = self._unary()
        self._leave()
        if token.text == "+":
            return operand, height
        return Negate(operand), self._checked_height(height + 1, token)

    def _primary(self) -> tuple[Node, int]:
        token = self._peek()
        if token.kind is _Kind.NUMBER:
            self._advance()
            return Number(token.value), 0
        if token.kind is _Kind.NAME:
            if token.text == PREV:
                return self._prev()
            self._advance()
            return MeasureRef(token.text), 0
        if token.kind is _Kind.LPAREN:
            self._advance()
            self._enter(token)
            if self._peek().kind is _Kind.RPAREN:
                raise FormulaError(
                    "empty parentheses: '()' must contain an expression", token.position
                )
            node, height = self._expression()
            closing = self._peek()
            if closing.kind is not _Kind.RPAREN:
                raise self._unclosed_error(token, closing)
            self._advance()
            self._leave()
            return node, height
        raise self._missing_operand_error(token)

    def _prev(self) -> tuple[Node, int]:
        name = self._advance()
        opening = self._peek()
        if opening.kind is not _Kind.LPAREN:
            raise FormulaError(
                "'prev' is reserved for prev(x) or prev(x, n) and cannot be used as a name",
                name.position,
            )
        self._advance()
        self._enter(name)
        if self._peek().kind in (_Kind.RPAREN, _Kind.COMMA):
            raise FormulaError(
                "prev needs an expression: write prev(x) or prev(x, n)", name.position
            )
        operand, height = self._expression()
        periods = 1
        if self._peek().kind is _Kind.COMMA:
            periods = self._periods(self._advance())
        closing = self._peek()
        if closing.kind is _Kind.COMMA:
            raise FormulaError(
                "prev takes one or two arguments: prev(x) or prev(x, n)", closing.position
            )
        if closing.kind is not _Kind.RPAREN:
            raise self._unclosed_error(opening, closing)
        self._advance()
        self._leave()
        return Prev(operand, periods), self._checked_height(height + 1, name)

    def _periods(self, comma: _Token) -> int:
        token = self._peek()
        if token.kind in (_Kind.RPAREN, _Kind.END):
            raise FormulaError(
                "prev(x, n) is missing the number of periods n after ','", comma.position
            )
        shown = f"'{token.text}'"
        if token.kind is _Kind.NUMBER:
            self._advance()
            value = token.value
            if isinstance(value, int) and 1 <= value <= MAX_PREV_PERIODS:
                return value
            shown = token.text
        elif token.kind is _Kind.OPERATOR and token.text == "-":
            following = self._tokens[self._index + 1]
            if following.kind is _Kind.NUMBER:
                shown = f"-{following.text}"
        raise FormulaError(
            "the number of periods n in prev(x, n) must be a positive whole number "
            f"from 1 to {MAX_PREV_PERIODS}, written as digits, not {shown}",
            token.position,
        )

    # Errors that depend on context.

    def _unclosed_error(self, opening: _Token, found: _Token) -> FormulaError:
        """The error when ``found`` stands where the ``)`` matching ``opening`` should."""
        if found.kind is _Kind.END:
            return FormulaError("unbalanced parentheses: '(' is never closed", opening.position)
        return self._after_operand_error(found)

    def _after_operand_error(self, token: _Token) -> FormulaError:
        """The error for ``token`` following a complete operand where it cannot."""
        if token.kind is _Kind.RPAREN:
            return FormulaError("unbalanced parentheses: ')' has no matching '('", token.position)
        if token.kind is _Kind.COMMA:
            return FormulaError(
                "a comma is only allowed between the arguments of prev(x, n)", token.position
            )
        if token.kind in (_Kind.NUMBER, _Kind.NAME, _Kind.LPAREN):
            previous = self._previous()
            before = previous.text if previous is not None else ""
            message = (
                f"two operands in a row: '{before}' and '{token.text}' "
                "need an operator (+ - * /) between them"
            )
            keywords = [word for word in (before, token.text) if keyword.iskeyword(word)]
            if keywords:
                message += f" ('{keywords[0]}' is not an operator: formulas have no keywords)"
            return FormulaError(message, token.position)
        return FormulaError(f"unexpected {_describe(token)}", token.position)

    def _missing_operand_error(self, token: _Token) -> FormulaError:
        """The error for ``token`` standing where an operand should start."""
        previous = self._previous()
        if previous is not None and previous.kind is _Kind.OPERATOR:
            if token.kind is _Kind.OPERATOR:
                return FormulaError(
                    f"the operator '{token.text}' cannot follow '{previous.text}': "
                    "an operand is missing between them",
                    token.position,
                )
            return FormulaError(
                f"the operator '{previous.text}' has no operand after it", previous.position
            )
        if token.kind is _Kind.OPERATOR:
            return FormulaError(
                f"the operator '{token.text}' has no operand before it", token.position
            )
        if token.kind is _Kind.RPAREN and previous is None:
            return FormulaError("unbalanced parentheses: ')' has no matching '('", token.position)
        if token.kind is _Kind.END and previous is not None and previous.kind is _Kind.LPAREN:
            return FormulaError("unbalanced parentheses: '(' is never closed", previous.position)
        if token.kind is _Kind.COMMA:
            return FormulaError(
                "a comma is only allowed between the arguments of prev(x, n)", token.position
            )
        return FormulaError(
            f"expected a number, a measure name or '(' but found {_describe(token)}",
            token.position,
        )


def _describe(token: _Token) -> str:
    if token.kind is _Kind.END:
        return "the end of the formula"
    return f"'{token.text}'"


# --- Inspection -------------------------------------------------------------------------


def measure_names(node: Node) -> tuple[str, ...]:
    """The distinct measure names in ``node``, in order of first appearance in the text."""
    seen: dict[str, None] = {}
    _collect_names(node, seen)
    return tuple(seen)


def _collect_names(node: Node, seen: dict[str, None]) -> None:
    if isinstance(node, MeasureRef):
        seen.setdefault(node.name, None)
    elif isinstance(node, Negate | Prev):
        _collect_names(node.operand, seen)
    elif isinstance(node, BinaryOp):
        _collect_names(node.left, seen)
        _collect_names(node.right, seen)


def measure_inputs(node: Node) -> tuple[tuple[str, int], ...]:
    """Every (measure, periods back) the formula reads, in order of first appearance:
    `a / prev(a, 2)` reads (a, 0) and (a, 2)."""
    found: dict[tuple[str, int], None] = {}

    def walk(current: Node, offset: int) -> None:
        if isinstance(current, MeasureRef):
            found[(current.name, offset)] = None
        elif isinstance(current, Negate):
            walk(current.operand, offset)
        elif isinstance(current, BinaryOp):
            walk(current.left, offset)
            walk(current.right, offset)
        elif isinstance(current, Prev):
            walk(current.operand, offset + current.periods)

    walk(node, 0)
    return tuple(found)


def max_lookback(node: Node) -> int:
    """The largest total ``prev`` offset along any path from the root to a leaf.

    ``prev(prev(a, 2)) + prev(b)`` gives 3: evaluating it needs data from up to three
    periods before the current one. Constants count like measures (``prev(1)`` gives 1),
    which can only over-estimate what is needed.
    """
    if isinstance(node, Number | MeasureRef):
        return 0
    if isinstance(node, Negate):
        return max_lookback(node.operand)
    if isinstance(node, Prev):
        return node.periods + max_lookback(node.operand)
    return max(max_lookback(node.left), max_lookback(node.right))


# --- Rendering --------------------------------------------------------------------------

# Binding strength of what a node renders to; a child binding more loosely than its
# context needs must be parenthesised.
_ADDITIVE = 1
_MULTIPLICATIVE = 2
_UNARY = 3
_ATOM = 4


def to_text(node: Node) -> str:
    """Canonical formula text for ``node``, with as few parentheses as the tree needs.

    ``parse_formula(to_text(tree)) == tree`` for every tree ``parse_formula`` returns, and
    for any hand-built tree whose numbers are finite and non-negative, whose names are valid
    measure names, and whose ``prev`` periods are within limits. (A negative ``Number``
    renders with a minus sign, so it parses back as a ``Negate`` of the same value.)

    Raises ``ValueError`` for a tree no formula text can express: a non-finite number, an
    invalid measure name or an out-of-range number of periods.
    """
    return _render(node)


def _render(node: Node) -> str:
    if isinstance(node, Number):
        return _render_number(node.value)
    if isinstance(node, MeasureRef):
        if not _is_measure_name(node.name):
            raise ValueError(f"{node.name!r} is not a valid measure name in a formula")
        return node.name
    if isinstance(node, Negate):
        return "-" + _render_within(node.operand, _UNARY)
    if isinstance(node, Prev):
        periods = node.periods
        if isinstance(periods, bool) or not 1 <= periods <= MAX_PREV_PERIODS:
            raise ValueError(f"prev periods must be from 1 to {MAX_PREV_PERIODS}, not {periods}")
        inner = _render(node.operand)
        return f"{PREV}({inner})" if periods == 1 else f"{PREV}({inner}, {periods})"
    strength = _binding(node)
    # Left-associative: a right operand of equal strength needs parentheses, a left one not.
    left = _render_within(node.left, strength)
    right = _render_within(node.right, strength + 1)
    return f"{left} {node.op} {right}"


def _is_measure_name(name: str) -> bool:
    return name != PREV and name[:1] in _NAME_START and all(char in _NAME_CHARS for char in name)


def _render_within(node: Node, required: int) -> str:
    text = _render(node)
    return f"({text})" if _binding(node) < required else text


def _binding(node: Node) -> int:
    if isinstance(node, BinaryOp):
        return _ADDITIVE if node.op in ("+", "-") else _MULTIPLICATIVE
    if isinstance(node, Negate):
        return _UNARY
    if isinstance(node, Number) and math.copysign(1, node.value) < 0:
        return _UNARY
    return _ATOM


def _render_number(value: int | float) -> str:
    if isinstance(value, bool):
        value = int(value)
    if isinstance(value, int):
        return str(value)
    if not math.isfinite(value):
        raise ValueError(f"{value} cannot be written in a formula")
    # repr() is the shortest text that reads back as the same float, and always shows a
    # '.' or an exponent, so the value comes back as a float rather than an int.
    return repr(value)


# --- Evaluation -------------------------------------------------------------------------


def evaluate(node: Node, value_of: Callable[[str, int], int | float | None]) -> int | float | None:
    """The value of ``node`` for the current period, or ``None`` when it has none.

    ``value_of(name, offset)`` gives the measure's aggregate ``offset`` periods back
    (0 is the current period) or ``None``; ``prev(x, n)`` evaluates ``x`` with the offset
    increased by ``n``.

    Arithmetic involving ``None`` gives ``None``, as does division by zero. ``/`` is true
    division; ``+ - *`` keep ints as ints. A float result that is NaN or infinite, including
    on overflow, becomes ``None``. No input number makes this raise.
    """
    return _evaluate(node, value_of, 0)


def _evaluate(
    node: Node, value_of: Callable[[str, int], int | float | None], offset: int
) -> int | float | None:
    if isinstance(node, Number):
        return _finite_or_none(node.value)
    if isinstance(node, MeasureRef):
        return _finite_or_none(value_of(node.name, offset))
    if isinstance(node, Negate):
        value = _evaluate(node.operand, value_of, offset)
        return None if value is None else _finite_or_none(-value)
    if isinstance(node, Prev):
        return _evaluate(node.operand, value_of, offset + node.periods)
    # Both sides are always evaluated, so value_of sees the same requests whatever the data.
    left = _evaluate(node.left, value_of, offset)
    right = _evaluate(node.right, value_of, offset)
    return _apply(node.op, left, right)


def _apply(
    op: BinaryOperator, left: int | float | None, right: int | float | None
) -> int | float | None:
    if left is None or right is None:
        return None
    try:
        if op == "+":
            result = left + right
        elif op == "-":
            result = left - right
        elif op == "*":
            result = left * right
        elif right == 0:
            return None
        else:
            result = left / right
    except OverflowError:
        # An int too large for a float met a float, or an int quotient overflowed a float.
        return None
    return _finite_or_none(result)


def _finite_or_none(value: int | float | None) -> int | float | None:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
