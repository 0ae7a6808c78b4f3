"""Every runtime dependency is used by the product, and the product imports nothing it does
not depend on (issue 9: "no dependency that the product does not use").

The runtime dependencies are pyproject.toml's [project] dependencies and its optional
extras. A dependency counts as used when some module of src/headway imports one of the
import names of its distribution (importlib.metadata.packages_distributions()), outside
`if TYPE_CHECKING:` blocks. The few that are used without an import are listed in
RUNTIME_ONLY, each with a check of the place that uses it.
"""

from __future__ import annotations

import ast
import importlib
import re
import sys
import tomllib
from collections.abc import Callable, Iterable
from functools import cache
from importlib import metadata
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SOURCE = ROOT / "src" / "headway"


def normalized(name: str) -> str:
    """A distribution's name as PEP 503 compares them."""
    return re.sub(r"[-_.]+", "-", name).lower()


def requirement_name(requirement: str) -> str:
    match = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", requirement)
    assert match, f"cannot read the requirement {requirement!r}"
    return normalized(match.group(1))


@cache
def pyproject() -> dict[str, object]:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def runtime_dependencies() -> dict[str, str]:
    """Each runtime dependency's normalized name, with where pyproject.toml lists it."""
    project = pyproject()["project"]
    assert isinstance(project, dict)
    found = {requirement_name(r): "dependencies" for r in project["dependencies"]}
    for extra, requirements in project.get("optional-dependencies", {}).items():
        for requirement in requirements:
            found.setdefault(requirement_name(requirement), f"extra {extra}")
    return found


def _type_checking_only(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def imported_modules(files: Iterable[Path]) -> dict[str, set[str]]:
    """Top-level names of the modules imported at run time, with the files importing them
    (lazy imports inside functions count; imports for type checkers only do not)."""
    found: dict[str, set[str]] = {}

    def visit(node: ast.AST, file: str) -> None:
        if isinstance(node, ast.If) and _type_checking_only(node):
            for statement in node.orelse:
                visit(statement, file)
            return
        if isinstance(node, ast.Import):
            for alias in node.names:
                found.setdefault(alias.name.split(".")[0], set()).add(file)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.setdefault(node.module.split(".")[0], set()).add(file)
        for child in ast.iter_child_nodes(node):
            visit(child, file)

    for path in files:
        visit(ast.parse(path.read_text(encoding="utf-8"), str(path)), str(path))
    return found


@cache
def product_imports() -> dict[str, set[str]]:
    return imported_modules(sorted(SOURCE.rglob("*.py")))


@cache
def import_names() -> dict[str, set[str]]:
    """Each installed distribution's import names (normalized distribution name -> names)."""
    names: dict[str, set[str]] = {}
    for module, distributions in metadata.packages_distributions().items():
        for distribution in distributions:
            names.setdefault(normalized(distribution), set()).add(module)
    return names


def unused(
    dependencies: Iterable[str], imported: Iterable[str], runtime_only: Iterable[str]
) -> list[str]:
    """The dependencies none of whose import names is imported, and not runtime-only."""
    modules = set(imported)
    exempt = set(runtime_only)
    return sorted(
        name
        for name in dependencies
        if name not in exempt and not import_names().get(name, set()) & modules
    )


def _string_constants(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return {
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str)
    }


def _gunicorn_is_run_by_serve() -> None:
    # `headway serve` and `headway demo` start gunicorn as a program: its name is the
    # module run by `python -m` in the command line they build.
    assert "gunicorn" in _string_constants(SOURCE / "cli" / "app.py")


def _whitenoise_is_named_in_settings() -> None:
    # Django imports the middleware and the static files storage by their dotted paths.
    paths = {s for s in _string_constants(SOURCE / "site" / "settings.py") if "whitenoise." in s}
    assert paths, "settings.py names nothing of whitenoise"
    for dotted in paths:
        module, _, attribute = dotted.rpartition(".")
        assert hasattr(importlib.import_module(module), attribute), dotted


def _defusedxml_guards_openpyxl() -> None:
    # openpyxl parses XLSX files through defusedxml when it is installed, and only then.
    assert "openpyxl" in product_imports()
    from openpyxl.xml import DEFUSEDXML

    assert DEFUSEDXML is True


# Dependencies used without an import of their own, each with the check that finds the
# place that uses them: remove the use and the check fails, so the exemption goes too.
RUNTIME_ONLY: dict[str, Callable[[], None]] = {
    "gunicorn": _gunicorn_is_run_by_serve,
    "whitenoise": _whitenoise_is_named_in_settings,
    "defusedxml": _defusedxml_guards_openpyxl,
}

# Modules the product imports that come with a dependency rather than being one, with the
# dependency that requires them (checked against that dependency's metadata).
COMES_WITH = {
    "pydantic_core": "pydantic",  # the error type of custom validation messages
}


def test_it_finds_the_runtime_dependencies_of_pyproject() -> None:
    dependencies = runtime_dependencies()
    assert dependencies["django"] == "dependencies"
    assert dependencies["duckdb"] == "dependencies"
    assert dependencies["pyspark"] == "extra spark"
    # The dev group is not the product's: pytest never counts.
    assert "pytest" not in dependencies


def test_it_can_map_every_runtime_dependency_to_its_import_names() -> None:
    missing = [name for name in runtime_dependencies() if not import_names().get(name)]
    assert missing == [], f"not installed here, so their imports cannot be checked: {missing}"


def test_it_finds_that_every_runtime_dependency_is_used() -> None:
    dependencies = runtime_dependencies()
    left = unused(dependencies, product_imports(), RUNTIME_ONLY)
    assert left == [], (
        f"runtime dependencies that no module of src/headway imports: {left}. Remove them "
        "from pyproject.toml, or, if they are used without an import, add them to "
        "RUNTIME_ONLY with a check of where."
    )


@pytest.mark.parametrize("name", sorted(RUNTIME_ONLY))
def test_it_checks_where_each_runtime_only_dependency_is_used(name: str) -> None:
    assert name in runtime_dependencies(), f"{name} is exempt but no longer a dependency"
    assert not import_names()[name] & set(product_imports()), (
        f"{name} is imported now: it needs no exemption"
    )
    RUNTIME_ONLY[name]()


def test_it_would_flag_a_dependency_that_nothing_imports() -> None:
    # pandas is installed (the benchmarks' dev dependency) and imported nowhere in the
    # product: added to the runtime dependencies, it must be reported.
    assert "pandas" not in product_imports()
    dependencies = [*runtime_dependencies(), "pandas"]
    assert unused(dependencies, product_imports(), RUNTIME_ONLY) == ["pandas"]


def test_it_would_flag_a_dependency_that_is_not_installed() -> None:
    dependencies = [*runtime_dependencies(), normalized("no-such-distribution-here")]
    flagged = unused(dependencies, product_imports(), RUNTIME_ONLY)
    assert flagged == ["no-such-distribution-here"]


def test_it_ignores_imports_made_for_type_checkers_only(tmp_path: Path) -> None:
    module = tmp_path / "module.py"
    module.write_text(
        "from typing import TYPE_CHECKING\n"
        "import json\n"
        "if TYPE_CHECKING:\n"
        "    import pandas\n"
        "else:\n"
        "    import csv\n"
        "def later():\n"
        "    from duckdb import connect\n",
        encoding="utf-8",
    )
    assert set(imported_modules([module])) == {"typing", "json", "csv", "duckdb"}


def test_it_finds_every_third_party_import_of_the_product_declared() -> None:
    declared = set(runtime_dependencies())
    undeclared = {}
    for module, files in product_imports().items():
        if module in sys.stdlib_module_names or module in {"headway", "__future__"}:
            continue
        owners = {normalized(d) for d in metadata.packages_distributions().get(module, [])}
        if owners & declared:
            continue
        if module in COMES_WITH:
            required = metadata.requires(COMES_WITH[module]) or []
            assert any(requirement_name(r) in owners for r in required), (
                f"{module} no longer comes with {COMES_WITH[module]}: declare it"
            )
            continue
        undeclared[module] = sorted(files)
    assert undeclared == {}, f"imported but not a runtime dependency: {undeclared}"
