"""The KPI formula language: parsing, errors, rendering, inspection and evaluation."""

from __future__ import annotations

import ast
import inspect
import math
import operator
import pickle
from collections.abc import Callable
from fractions import Fraction

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from headway.engine import formula
from headway.engine.formula import (
    MAX_FORMULA_LENGTH,
    MAX_NESTING_DEPTH,
    MAX_PREV_PERIODS,
    MAX_TREE_DEPTH,
    BinaryOp,
    FormulaError,
    MeasureRef,
    Negate,
    Node,
    Number,
    Prev,
    evaluate,
    max_lookback,
    measure_names,
    parse_formula,
    to_text,
)

Value = int | float | None

a, b, c = MeasureRef("a"), MeasureRef("b"), MeasureRef("c")


def values_from(table: dict[tuple[str, int], Value]) -> Callable[[str, int], Value]:
    """A value_of reading (name, offset) from a table; anything missing is null."""
    return lambda name, offset: table.get((name, offset))


def current(**values: Value) -> Callable[[str, int], Value]:
    """A value_of with the given current-period values and nothing in earlier periods."""
    return values_from({(name, 0): value for name, value in values.items()})


def same_value(actual: Value, expected: Value) -> bool:
    """Equal and of the same type (so that 2 and 2.0 are told apart), or both null."""
    if actual is None or expected is None:
        return actual is None and expected is None
    return type(actual) is type(expected) and actual == expected


def parse_error(text: str) -> FormulaError:
    with pytest.raises(FormulaError) as caught:
        parse_formula(text)
    return caught.value


# --- Parsing ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "tree"),
    [
        ("a", a),
        ("a + b * c", BinaryOp("+", a, BinaryOp("*", b, c))),
        ("a * b + c", BinaryOp("+", BinaryOp("*", a, b), c)),
        ("(a + b) * c", BinaryOp("*", BinaryOp("+", a, b), c)),
        ("a - b - c", BinaryOp("-", BinaryOp("-", a, b), c)),
        ("a / b / c", BinaryOp("/", BinaryOp("/", a, b), c)),
        ("a - (b - c)", BinaryOp("-", a, BinaryOp("-", b, c))),
        ("a / b * c", BinaryOp("*", BinaryOp("/", a, b), c)),
        ("-a * b", BinaryOp("*", Negate(a), b)),
        ("a * -b", BinaryOp("*", a, Negate(b))),
        ("a - -b", BinaryOp("-", a, Negate(b))),
        ("--a", Negate(Negate(a))),
        ("-(a + b)", Negate(BinaryOp("+", a, b))),
        ("+a", a),
        ("a + +b", BinaryOp("+", a, b)),
        ("-2", Negate(Number(2))),
        ("((a))", a),
        ("prev(a)", Prev(a, 1)),
        ("prev(a, 3)", Prev(a, 3)),
        ("prev (a , 12)", Prev(a, 12)),
        (f"prev(a, {MAX_PREV_PERIODS})", Prev(a, MAX_PREV_PERIODS)),
        ("prev(a / b, 2)", Prev(BinaryOp("/", a, b), 2)),
        ("prev(prev(a), 2)", Prev(Prev(a, 1), 2)),
        ("-prev(a) * 2", BinaryOp("*", Negate(Prev(a, 1)), Number(2))),
        ("revenue_2024 / Orders", BinaryOp("/", MeasureRef("revenue_2024"), MeasureRef("Orders"))),
    ],
)
def test_it_parses_with_the_usual_precedence_and_left_associativity(text: str, tree: Node) -> None:
    assert parse_formula(text) == tree


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("12", 12),
        ("0", 0),
        ("007", 7),
        ("0.5", 0.5),
        (".5", 0.5),
        ("1e3", 1000.0),
        ("2.5E-2", 0.025),
        ("1E+2", 100.0),
        ("12345678901234567890", 12345678901234567890),
    ],
)
def test_it_reads_numbers_keeping_digit_only_literals_as_ints(
    text: str, value: int | float
) -> None:
    node = parse_formula(text)
    assert isinstance(node, Number)
    assert same_value(node.value, value)


def test_it_allows_spaces_tabs_and_newlines_anywhere_between_tokens() -> None:
    text = " \n prev(\ta ,\n 2 )\t*\r\n( b+c ) \n"
    assert parse_formula(text) == BinaryOp("*", Prev(a, 2), BinaryOp("+", b, c))


def test_it_accepts_python_keywords_and_dunders_as_plain_measure_names() -> None:
    # Whether such a measure exists is the caller's check, against the workspace's measures.
    tree = parse_formula("__class__ + import * if")
    assert measure_names(tree) == ("__class__", "import", "if")


def test_it_accepts_a_formula_at_the_length_limit() -> None:
    text = "a" * MAX_FORMULA_LENGTH
    assert parse_formula(text) == MeasureRef(text)


def test_it_accepts_nesting_up_to_the_limit() -> None:
    depth = MAX_NESTING_DEPTH
    assert parse_formula("(" * depth + "a" + ")" * depth) == a
    assert parse_formula("-" * depth + "a") is not None
    assert parse_formula("prev(" * depth + "a" + ")" * depth) is not None


def test_it_accepts_a_chain_of_operations_up_to_the_tree_depth_limit() -> None:
    tree = parse_formula(" + ".join(["1"] * (MAX_TREE_DEPTH + 1)))
    assert evaluate(tree, current()) == MAX_TREE_DEPTH + 1


# --- Errors -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "words", "position"),
    [
        ("", ["empty"], None),
        (" \t\n ", ["empty"], None),
        ("a $ b", ["character", "'$'", "not allowed"], 2),
        ("a @ b", ["character", "'@'", "not allowed"], 2),
        ("a; b", ["character", "';'", "not allowed"], 1),
        ("a ` b", ["character", "not allowed"], 2),
        ("a # b", ["character", "not allowed"], 2),
        ("a\x00", ["character", "not allowed"], 1),
        ("a\u00a0+ b", ["character", "not allowed"], 1),
        ("ré", ["character", "not allowed"], 1),
        ("a + ²", ["character", "not allowed"], 4),
        ("[a]", ["character", "'['", "not allowed"], 0),
        ("x[0]", ["character", "'['", "indexing"], 1),
        ("{a}", ["character", "'{'", "not allowed"], 0),
        ("a ~ b", ["character", "not allowed"], 2),
        ("'a'", ["strings", "not allowed"], 0),
        ('a + "b"', ["strings", "not allowed"], 4),
        ("__import__('os')", ["function calls", "__import__", "prev(x)"], 0),
        ("__import__('os').system('ls')", ["function calls", "__import__"], 0),
        ("sum(x)", ["function calls", "sum", "prev(x) or prev(x, n)"], 0),
        ("1 + abs(x)", ["function calls", "abs"], 4),
        ("eval ('1')", ["function calls", "eval"], 0),
        ("Prev(a)", ["function calls", "Prev"], 0),
        ("a.b", ["attribute access", "not allowed"], 1),
        ("x.__class__", ["attribute access", "not allowed"], 1),
        ("().__class__.__bases__", ["attribute access", "not allowed"], 2),
        ("(a).real", ["attribute access"], 3),
        ("1..real", ["attribute access"], 1),
        ("a + .", ["attribute access"], 4),
        ("prev(a, 1.5)", ["prev(x, n)", "whole number", "1.5"], 8),
        ("prev(a, 2.0)", ["prev(x, n)", "whole number", "2.0"], 8),
        ("prev(a, 1e1)", ["prev(x, n)", "whole number", "1e1"], 8),
        ("prev(a, 0)", ["prev(x, n)", "positive", "not 0"], 8),
        ("prev(a, -1)", ["prev(x, n)", "positive", "-1"], 8),
        (f"prev(a, {MAX_PREV_PERIODS + 1})", ["prev(x, n)", f"1 to {MAX_PREV_PERIODS}"], 8),
        ("prev(a, b)", ["prev(x, n)", "digits", "'b'"], 8),
        ("prev(a, (2))", ["prev(x, n)", "digits"], 8),
        ("prev(a,)", ["prev(x, n)", "missing", "number of periods"], 6),
        ("prev()", ["prev needs an expression"], 0),
        ("prev(, 2)", ["prev needs an expression"], 0),
        ("prev(a, 1, 2)", ["prev takes one or two arguments"], 9),
        ("prev", ["'prev' is reserved", "name"], 0),
        ("prev + a", ["'prev' is reserved"], 0),
        ("a * prev", ["'prev' is reserved"], 4),
        ("prev(a", ["unbalanced parentheses", "never closed"], 4),
        ("prev(a, 2", ["unbalanced parentheses", "never closed"], 4),
        ("(a + b", ["unbalanced parentheses", "never closed"], 0),
        ("((a + b)", ["unbalanced parentheses", "never closed"], 0),
        ("(", ["unbalanced parentheses", "never closed"], 0),
        ("a + b)", ["unbalanced parentheses", "no matching"], 5),
        (")", ["unbalanced parentheses", "no matching"], 0),
        ("(a))", ["unbalanced parentheses", "no matching"], 3),
        ("()", ["empty parentheses"], 0),
        ("a + ()", ["empty parentheses"], 4),
        ("a +", ["operator '+'", "no operand after it"], 2),
        ("a * (b -)", ["operator '-'", "no operand after it"], 7),
        ("-", ["operator '-'", "no operand after it"], 0),
        ("* a", ["operator '*'", "no operand before it"], 0),
        ("(/ a)", ["operator '/'", "no operand before it"], 1),
        ("a + * b", ["operator '*'", "cannot follow '+'"], 4),
        ("a b", ["two operands in a row", "'a'", "'b'", "operator"], 2),
        ("2 3", ["two operands in a row", "'2'", "'3'"], 2),
        ("(a) (b)", ["two operands in a row"], 4),
        ("a prev(b)", ["two operands in a row"], 2),
        ("1.5.5", ["two operands in a row"], 3),
        ("a ** 2", ["power operator", "'**'", "not allowed"], 2),
        ("a // 2", ["floor division", "'//'", "not allowed"], 2),
        ("a % 2", ["remainder operator", "'%'", "not allowed"], 2),
        ("a < b", ["comparison", "'<'", "not allowed"], 2),
        ("a >= b", ["comparison", "'>='", "not allowed"], 2),
        ("a == b", ["comparison", "'=='", "not allowed"], 2),
        ("a != b", ["comparison", "'!='", "not allowed"], 2),
        ("a = b", ["comparison", "'='", "not allowed"], 2),
        ("lambda x: x", ["character", "':'", "not allowed"], 8),
        ("lambda: 1", ["character", "':'", "not allowed"], 6),
        ("a if b else c", ["two operands in a row", "'if'", "no keywords"], 2),
        ("not a", ["two operands in a row", "'not'", "no keywords"], 4),
        ("a and b", ["two operands in a row", "'and'", "no keywords"], 2),
        ("(a, b)", ["comma", "prev(x, n)"], 2),
        ("a, b", ["comma", "prev(x, n)"], 1),
        ("2x", ["malformed number", "'2x'"], 0),
        ("1e", ["malformed number", "'1e'"], 0),
        ("1e+", ["malformed number", "'1e'"], 0),
        ("0x1F", ["malformed number", "'0x1F'"], 0),
        ("1e999", ["number", "too large"], 0),
    ],
)
def test_it_rejects_invalid_formulas_with_a_sentence_and_the_position(
    text: str, words: list[str], position: int | None
) -> None:
    error = parse_error(text)
    for word in words:
        assert word in error.message
    assert error.position == position


def test_it_rejects_a_function_call_other_than_prev() -> None:
    error = parse_error("sum(x)")
    assert str(error) == (
        "function calls are not allowed: sum(...) is not available, only prev(x) or prev(x, n)"
        " (at character 1)"
    )


def test_it_rejects_attribute_access_before_any_other_problem_further_on() -> None:
    # "()" alone would be an empty-parentheses error; the dot is what needs explaining.
    assert "attribute access" in parse_error("().__class__.__bases__[0]").message


def test_it_rejects_a_formula_that_is_too_long() -> None:
    error = parse_error("a" * (MAX_FORMULA_LENGTH + 1))
    assert "too long" in error.message
    assert str(MAX_FORMULA_LENGTH) in error.message
    assert error.position == MAX_FORMULA_LENGTH


def test_it_rejects_nesting_deeper_than_the_limit() -> None:
    depth = MAX_NESTING_DEPTH + 1
    for piece in ["(", "-", "prev("]:
        error = parse_error(piece * depth + "a" + ")" * depth * piece.count("("))
        assert "nested too deeply" in error.message
        assert error.position == len(piece) * MAX_NESTING_DEPTH


def test_it_counts_parentheses_signs_and_prev_together_towards_the_nesting_limit() -> None:
    half = MAX_NESTING_DEPTH // 2
    text = "(-" * half + "prev(a)" + ")" * half
    assert "nested too deeply" in parse_error(text).message


def test_it_rejects_a_chain_of_operations_deeper_than_the_tree_limit() -> None:
    text = "+".join(["a"] * (MAX_TREE_DEPTH + 2))
    error = parse_error(text)
    assert "too complex" in error.message
    assert error.position == 2 * (MAX_TREE_DEPTH + 1) - 1


@pytest.mark.parametrize(
    "text",
    [
        "(" * 10_000 + "a" + ")" * 10_000,
        "-" * 10_000 + "a",
        "+" * 10_000 + "a",
        "prev(" * 10_000 + "a" + ")" * 10_000,
        "a+" * 10_000 + "a",
    ],
)
def test_it_rejects_ten_thousand_levels_of_nesting_cleanly(text: str) -> None:
    # A clean FormulaError, not a RecursionError: speed is measured in bench/, not here.
    assert parse_error(text).message


@pytest.mark.parametrize(
    "text",
    [
        "(" * 10_000 + "a" + ")" * 10_000,
        "-" * 10_000 + "a",
        "+" * 10_000 + "a",
        "prev(" * 10_000 + "a" + ")" * 10_000,
    ],
)
def test_it_stops_deep_nesting_without_relying_on_the_length_limit(
    text: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(formula, "MAX_FORMULA_LENGTH", 1_000_000)
    assert "nested too deeply" in parse_error(text).message


def test_it_stops_a_long_chain_without_relying_on_the_length_limit(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(formula, "MAX_FORMULA_LENGTH", 1_000_000)
    assert "too complex" in parse_error("a+" * 100_000 + "a").message


def test_a_formula_error_is_a_value_error_with_message_and_position() -> None:
    error = FormulaError("something is wrong", 4)
    assert isinstance(error, ValueError)
    assert error.message == "something is wrong"
    assert error.position == 4
    assert str(error) == "something is wrong (at character 5)"


def test_a_formula_error_without_a_position_is_just_the_sentence() -> None:
    error = FormulaError("the formula is empty")
    assert error.position is None
    assert str(error) == "the formula is empty"


def test_a_formula_error_survives_pickling() -> None:
    error = pickle.loads(pickle.dumps(FormulaError("bad", 3)))
    assert (error.message, error.position, str(error)) == ("bad", 3, "bad (at character 4)")


def test_the_module_never_hands_text_to_python() -> None:
    tree = ast.parse(inspect.getsource(formula))
    forbidden = {"eval", "exec", "compile", "__import__", "literal_eval", "getattr"}
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")
            assert name not in forbidden
        if isinstance(node, ast.Import | ast.ImportFrom):
            modules = [alias.name for alias in node.names]
            if isinstance(node, ast.ImportFrom):
                modules.append(node.module or "")
            assert "ast" not in modules
            assert "builtins" not in modules


# --- Inspection -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ("1 + 2", ()),
        ("a", ("a",)),
        ("b + a * b - prev(c) / a", ("b", "a", "c")),
        ("prev(z, 3) + y", ("z", "y")),
        ("-(x) * prev(prev(w))", ("x", "w")),
    ],
)
def test_measure_names_lists_distinct_names_in_order_of_first_appearance(
    text: str, names: tuple[str, ...]
) -> None:
    assert measure_names(parse_formula(text)) == names


@pytest.mark.parametrize(
    ("text", "lookback"),
    [
        ("a + 1", 0),
        ("prev(a)", 1),
        ("prev(a, 12)", 12),
        ("prev(prev(a, 2)) + prev(b)", 3),
        ("prev(b) + prev(prev(a, 2))", 3),
        ("-prev(a / prev(b, 4), 2) * a", 6),
        ("prev(a - prev(b), 5)", 6),
    ],
)
def test_max_lookback_is_the_largest_total_prev_offset_along_any_path(
    text: str, lookback: int
) -> None:
    assert max_lookback(parse_formula(text)) == lookback


# --- Rendering --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("a+b*c", "a + b * c"),
        ("(a+b)*c", "(a + b) * c"),
        ("((a - b)) - c", "a - b - c"),
        ("a - (b - c)", "a - (b - c)"),
        ("a - (b + c)", "a - (b + c)"),
        ("a + (b - c)", "a + (b - c)"),
        ("a / (b * c)", "a / (b * c)"),
        ("(a * b) / c", "a * b / c"),
        ("-(a + b)", "-(a + b)"),
        ("-(-a)", "--a"),
        ("(-a) * b", "-a * b"),
        ("a * (-b)", "a * -b"),
        ("+a", "a"),
        ("prev( a ,1 )", "prev(a)"),
        ("prev(a+b,2)", "prev(a + b, 2)"),
        (".5 + 1e3 + 007", "0.5 + 1000.0 + 7"),
        ("2.5E-2", "0.025"),
    ],
)
def test_to_text_gives_canonical_text_with_minimal_parentheses(text: str, canonical: str) -> None:
    assert to_text(parse_formula(text)) == canonical


@pytest.mark.parametrize(
    "tree",
    [
        Number(math.inf),
        Number(math.nan),
        MeasureRef("prev"),
        MeasureRef("not a name"),
        MeasureRef("a.b"),
        MeasureRef(""),
        Prev(a, 0),
        Prev(a, MAX_PREV_PERIODS + 1),
        BinaryOp("+", a, MeasureRef("x(")),
    ],
)
def test_to_text_refuses_a_tree_that_no_formula_can_express(tree: Node) -> None:
    with pytest.raises(ValueError):
        to_text(tree)


def test_to_text_writes_a_negative_number_as_a_negation() -> None:
    assert to_text(BinaryOp("*", a, Number(-2))) == "a * -2"
    assert parse_formula("a * -2") == BinaryOp("*", a, Negate(Number(2)))


# --- Evaluation -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1 + 2 * 3", 7),
        ("(1 + 2) * 3", 9),
        ("7 - 10", -3),
        ("-a", -6),
        ("a * b", 24),
        ("a / b", 1.5),
        ("8 / 4", 2.0),
        ("a - b - 1", 1),
        ("a + 0.5", 6.5),
        ("a", 6),
    ],
)
def test_it_evaluates_arithmetic_keeping_ints_except_under_division(
    text: str, expected: int | float
) -> None:
    assert same_value(evaluate(parse_formula(text), current(a=6, b=4)), expected)


@pytest.mark.parametrize(
    "text", ["a + n", "n - a", "a * n", "n / a", "a / n", "-n", "prev(n)", "(a + 1) * (n - 2)"]
)
def test_any_arithmetic_with_a_null_is_null(text: str) -> None:
    assert evaluate(parse_formula(text), current(a=3, n=None)) is None


@pytest.mark.parametrize("zero", [0, 0.0, -0.0])
def test_division_by_zero_is_null(zero: int | float) -> None:
    value_of = current(a=3, z=zero)
    assert evaluate(parse_formula("a / z"), value_of) is None
    assert evaluate(parse_formula("a / (z * 5)"), value_of) is None
    assert evaluate(parse_formula("1 / 0 + a"), value_of) is None
    assert evaluate(parse_formula("z / a"), value_of) == 0


@pytest.mark.parametrize(
    ("text", "values"),
    [
        ("a * a", {"a": 1e200}),
        ("a + a", {"a": 1.7e308}),
        ("-a * a", {"a": 1e200}),
        ("a / b", {"a": 1e300, "b": 1e-300}),
        ("a + 0.5", {"a": 10**400}),
        ("a / 3", {"a": 10**400}),
        ("a * 1e-300", {"a": 10**400}),
        ("a", {"a": math.inf}),
        ("a", {"a": -math.inf}),
        ("a", {"a": math.nan}),
        ("a * 0", {"a": math.inf}),
        ("1 / a", {"a": math.inf}),
        ("a - a", {"a": math.nan}),
    ],
)
def test_results_that_overflow_or_are_not_finite_are_null(
    text: str, values: dict[str, Value]
) -> None:
    assert evaluate(parse_formula(text), current(**values)) is None


def test_huge_ints_stay_exact_ints() -> None:
    result = evaluate(parse_formula("a * a - 1"), current(a=10**400))
    assert result == 10**800 - 1
    assert isinstance(result, int)


def test_prev_evaluates_its_operand_that_many_periods_earlier() -> None:
    asked: list[tuple[str, int]] = []

    def value_of(name: str, offset: int) -> Value:
        asked.append((name, offset))
        return 100 - offset

    tree = parse_formula("a + prev(b) + prev(prev(c, 2) * a, 3) - prev(a, 12)")
    assert evaluate(tree, value_of) == 100 + 99 + (95 * 97) - 88
    assert asked == [("a", 0), ("b", 1), ("c", 5), ("a", 3), ("a", 12)]


def test_prev_of_a_constant_is_the_constant() -> None:
    assert evaluate(parse_formula("prev(2, 5) * 3"), current()) == 6


def test_growth_over_the_previous_period() -> None:
    table: dict[tuple[str, int], Value] = {("revenue", 0): 120, ("revenue", 1): 100}
    tree = parse_formula("(revenue - prev(revenue)) / prev(revenue)")
    assert evaluate(tree, values_from(table)) == pytest.approx(0.2)
    table[("revenue", 1)] = 0
    assert evaluate(tree, values_from(table)) is None
    del table[("revenue", 1)]
    assert evaluate(tree, values_from(table)) is None


# --- Properties -------------------------------------------------------------------------

NAMES = ("a", "b", "revenue", "__class__", "import")
OPERATORS = ("+", "-", "*", "/")
FEW_PERIODS = st.integers(1, 3)


def tree_height(node: Node) -> int:
    """Nodes on the longest path from ``node`` down; bounds the nesting of its text too."""
    if isinstance(node, Number | MeasureRef):
        return 1
    if isinstance(node, BinaryOp):
        return 1 + max(tree_height(node.left), tree_height(node.right))
    return 1 + tree_height(node.operand)


def trees(
    numbers: st.SearchStrategy[int | float],
    operators: tuple[str, ...] = OPERATORS,
    negation: bool = True,
    periods: st.SearchStrategy[int] = FEW_PERIODS,
    names: tuple[str, ...] = NAMES,
) -> st.SearchStrategy[Node]:
    """Random expression trees of the kind the parser produces."""
    leaves: st.SearchStrategy[Node] = st.one_of(
        st.builds(Number, numbers), st.builds(MeasureRef, st.sampled_from(names))
    )

    def extend(children: st.SearchStrategy[Node]) -> st.SearchStrategy[Node]:
        options: list[st.SearchStrategy[Node]] = [
            st.builds(BinaryOp, st.sampled_from(operators), children, children),
            st.builds(Prev, children, periods),
        ]
        if negation:
            options.append(st.builds(Negate, children))
        return st.one_of(options)

    return st.recursive(leaves, extend, max_leaves=20)


any_number = st.one_of(
    st.integers(0, 10**30),
    st.floats(min_value=0, allow_nan=False, allow_infinity=False).map(abs),
)


@given(trees(any_number, periods=st.integers(1, MAX_PREV_PERIODS)))
@settings(max_examples=300)
def test_to_text_parses_back_to_an_equal_tree(tree: Node) -> None:
    assume(tree_height(tree) <= MAX_NESTING_DEPTH)
    parsed = parse_formula(to_text(tree))
    assert parsed == tree
    # repr tells Number(1) from Number(1.0), which == does not.
    assert repr(parsed) == repr(tree)
    assert to_text(parsed) == to_text(tree)


def fraction_value(
    node: Node, table: dict[tuple[str, int], Value], offset: int = 0
) -> Fraction | None:
    """Reference: exact rational arithmetic over the tree, with explicit null and zero rules."""
    if isinstance(node, Number):
        return Fraction(node.value)
    if isinstance(node, MeasureRef):
        value = table.get((node.name, offset))
        return None if value is None else Fraction(value)
    if isinstance(node, Negate):
        operand = fraction_value(node.operand, table, offset)
        return None if operand is None else -operand
    if isinstance(node, Prev):
        return fraction_value(node.operand, table, offset + node.periods)
    left = fraction_value(node.left, table, offset)
    right = fraction_value(node.right, table, offset)
    if left is None or right is None:
        return None
    if node.op == "+":
        return left + right
    if node.op == "-":
        return left - right
    if node.op == "*":
        return left * right
    return None if right == 0 else left / right


def value_tables(
    values: st.SearchStrategy[Value],
) -> st.SearchStrategy[dict[tuple[str, int], Value]]:
    keys = st.tuples(st.sampled_from(NAMES), st.integers(0, 9))
    return st.dictionaries(keys, values, max_size=30)


@given(
    trees(st.integers(0, 1000), operators=("+", "-", "*")),
    value_tables(st.one_of(st.none(), st.just(0), st.integers(-(10**6), 10**6))),
)
@settings(max_examples=300)
def test_int_arithmetic_matches_exact_rationals_and_stays_int(
    tree: Node, table: dict[tuple[str, int], Value]
) -> None:
    assume(tree_height(tree) <= MAX_NESTING_DEPTH)
    result = evaluate(parse_formula(to_text(tree)), values_from(table))
    expected = fraction_value(tree, table)
    if expected is None:
        assert result is None
    else:
        assert type(result) is int
        assert result == expected


positive = st.one_of(st.integers(1, 1000), st.floats(min_value=0.5, max_value=1000))


@given(
    trees(positive, operators=("+", "*", "/"), negation=False),
    st.dictionaries(st.sampled_from(NAMES), positive),
)
@settings(max_examples=300)
def test_division_matches_exact_rationals_within_rounding(
    tree: Node, current_values: dict[str, int | float]
) -> None:
    # Positive operands and no subtraction: no cancellation, so floats stay within a few
    # ulps of the exact result and a relative tolerance is a fair comparison.
    assume(tree_height(tree) <= MAX_NESTING_DEPTH)
    table: dict[tuple[str, int], Value] = {
        (name, offset): current_values.get(name, 1) for name in NAMES for offset in range(64)
    }
    result = evaluate(parse_formula(to_text(tree)), values_from(table))
    expected = fraction_value(tree, table)
    assert expected is not None
    assert result is not None
    assert math.isclose(result, expected, rel_tol=1e-9)


def postfix_value(node: Node, table: dict[tuple[str, int], Value]) -> Value:
    """Reference: flatten to postfix code, then run it on a stack machine with float semantics.

    Measure values that are NaN or infinite count as null, as do results that are.
    """
    code: list[tuple[str, object]] = []
    pending: list[tuple[Node, int] | tuple[str, object]] = [(node, 0)]
    while pending:
        item = pending.pop()
        if isinstance(item[0], str):
            code.append((item[0], item[1]))
            continue
        current_node, offset = item
        assert isinstance(offset, int)
        if isinstance(current_node, Number):
            code.append(("push", current_node.value))
        elif isinstance(current_node, MeasureRef):
            code.append(("push", table.get((current_node.name, offset))))
        elif isinstance(current_node, Negate):
            pending.append(("neg", None))
            pending.append((current_node.operand, offset))
        elif isinstance(current_node, Prev):
            pending.append((current_node.operand, offset + current_node.periods))
        else:
            pending.append(("op", current_node.op))
            pending.append((current_node.right, offset))
            pending.append((current_node.left, offset))

    def clean(value: object) -> Value:
        if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
            return None
        assert value is None or isinstance(value, int | float)
        return value

    functions = {"+": operator.add, "-": operator.sub, "*": operator.mul, "/": operator.truediv}
    stack: list[Value] = []
    for instruction, argument in code:
        if instruction == "push":
            stack.append(clean(argument))
        elif instruction == "neg":
            operand = stack.pop()
            stack.append(None if operand is None else clean(-operand))
        else:
            right, left = stack.pop(), stack.pop()
            if left is None or right is None or (argument == "/" and right == 0):
                stack.append(None)
                continue
            try:
                stack.append(clean(functions[str(argument)](left, right)))
            except OverflowError:
                stack.append(None)
    [result] = stack
    return result


hostile_values = st.one_of(
    st.none(),
    st.just(0),
    st.just(0.0),
    st.just(-0.0),
    st.integers(),
    st.integers(min_value=10**300, max_value=10**320),
    st.floats(),
)


@given(trees(any_number), value_tables(hostile_values))
@settings(max_examples=500)
def test_the_evaluator_agrees_with_a_stack_machine_reference(
    tree: Node, table: dict[tuple[str, int], Value]
) -> None:
    assume(tree_height(tree) <= MAX_NESTING_DEPTH)
    result = evaluate(parse_formula(to_text(tree)), values_from(table))
    assert same_value(result, postfix_value(tree, table))


# --- Fuzzing ----------------------------------------------------------------------------

HOSTILE_PIECES = [
    "a", "b", "x1", "_", "__", "__class__", "__import__", "import", "lambda", "if", "prev",
    "prev(", "0", "1", "12", "0.5", ".5", "1e3", "2.5E-2", "e", "E", "+", "-", "*", "/", "**",
    "//", "%", "(", ")", ",", ".", "'", '"', "[", "]", "{", "}", ":", ";", "=", "==", "<", "$",
    "@", " ", "\t", "\n", "\\", "\x00", "é", "٣",
]  # fmt: skip

formula_like_text = st.one_of(
    st.text(),
    st.text(alphabet="ab_prev0123456789.eE+-*/(),' \t\n"),
    st.lists(st.sampled_from(HOSTILE_PIECES), max_size=60).map("".join),
    st.lists(st.sampled_from(HOSTILE_PIECES[:30]), max_size=60).map("".join),
)


def parse_or_refuse(text: str) -> Node | None:
    tree: Node | None = None
    error: FormulaError | None = None
    try:
        tree = parse_formula(text)
    except FormulaError as raised:
        error = raised
    if error is not None:
        assert error.message
        assert str(error)
        assert error.position is None or 0 <= error.position <= len(text)
    return tree


@given(formula_like_text, value_tables(hostile_values))
@settings(max_examples=1000)
def test_any_text_parses_or_raises_a_formula_error_and_never_anything_else(
    text: str, table: dict[tuple[str, int], Value]
) -> None:
    tree = parse_or_refuse(text)
    if tree is not None:
        assert parse_formula(to_text(tree)) == tree
        measure_names(tree)
        assert max_lookback(tree) >= 0
        evaluate(tree, values_from(table))


@given(st.integers(1, 1000), st.sampled_from(["(", "-", "+", "prev(", "(-", "a+", "a*("]))
@settings(max_examples=100)
def test_any_amount_of_repetition_is_handled_quickly(count: int, piece: str) -> None:
    parse_or_refuse(piece * count + "a" + ")" * count)
    parse_or_refuse(piece * count + "a")
