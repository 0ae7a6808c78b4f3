"""Schemathesis against the API's own OpenAPI schema (issue 8).

Every operation of /api/v1/openapi.json is called with generated input, valid and invalid,
by each kind of caller: nobody (no token), read-only tokens (a viewer's, an admin's), and
read-and-write tokens of a member, a team's manager and an admin. Whoever calls and
whatever they send, the API never answers 5xx, answers only with status codes the schema
documents for the operation (401 and 403 included), and every body matches its documented
schema. Then the stateful phase follows the schema's OpenAPI links (a list to its first
item, a created object to reading and changing it, a KPI to its targets and values) as an
admin and as a member.

The organisation is made once for the module, inside a transaction rolled back at its end;
each test runs in a savepoint of its own (pytest-django's `db`), so whatever one test's
examples create is gone before the next, and each test has a fresh copy of the warehouse.
Generation is derandomized: the same examples every run.
"""

from __future__ import annotations

import shutil
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections, transaction
from django.test.utils import override_settings
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from headway.accounts.models import ApiToken, Team, User
from headway.accounts.services import token_create
from headway.engine.workspace import load_workspace
from headway.ingestion import sources
from headway.ingestion.syncs import source_create
from headway.kpis.models import Dataset, Kpi, TargetVersion
from headway.kpis.services import kpi_create, target_revise
from headway.kpis.workspace_io import apply_plan, plan_apply
from headway.results.manual import manual_values_submit
from headway.results.models import ManualValue
from headway.results.services import results_recompute
from headway.site.wsgi import application
from tests.api.conftest import DEALS, WORKSPACE
from tests.ingestion.test_syncs import ListedRows

CHECKS = [
    schemathesis.checks.not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]

# Who calls. A viewer's tokens can only read, so the viewer has no write token.
WITHOUT_WRITE = ("anonymous", "viewer_read", "admin_read")
WRITERS = ("member", "manager")


def _schema(*, coverage: bool) -> Any:
    """The schema as the application serves it, with its links. Every caller gets the
    fuzzing phase; the admin, whose requests reach every service, also the coverage phase
    (boundary values, each required field left out, wrong types, other methods...)."""
    config = schemathesis.Config.from_dict(
        {
            "generation": {"deterministic": True},
            "phases": {"coverage": {"enabled": coverage}},
        }
    )
    return schemathesis.openapi.from_wsgi("/api/v1/openapi.json", application, config=config)


fuzzing = _schema(coverage=False)
coverage_and_fuzzing = _schema(coverage=True)


def _settings(max_examples: int) -> settings:
    return settings(
        max_examples=max_examples,
        derandomize=True,
        deadline=None,
        database=None,
        suppress_health_check=[
            # Each example is a real request through Django, the services and the
            # database: slow by Hypothesis' standards, and that is what is tested.
            HealthCheck.too_slow,
            # The `world` and `app` fixtures are made once per test, not per example, on
            # purpose: each example undoes its own changes (`_undone`).
            HealthCheck.function_scoped_fixture,
        ],
    )


@dataclass
class World:
    """The organisation's tokens per role, real keys and ids, and its warehouse."""

    headers: dict[str, dict[str, str]]
    warehouse: Path
    known: dict[str, list[Any]] = field(default_factory=dict)
    calls: Counter[str] = field(default_factory=Counter)


# What exists, for the path parameters (filled in by the `world` fixture): about half of
# the requests name a real team, goal, KPI, dataset, target version or entry, so that they
# reach the services and not only the lookups.
KNOWN: dict[str, list[Any]] = {}


def _known_path(path: str, name: str) -> str:
    if name != "key":
        return name
    return {"teams": "team", "goals": "goal", "kpis": "kpi", "datasets": "dataset"}.get(
        path.removeprefix("/api/v1/").split("/")[0], name
    )


def _with_known_objects(context: Any, strategy: st.SearchStrategy[Any]) -> Any:
    path = context.operation.path

    def real(parameters: dict[str, Any] | None) -> st.SearchStrategy[dict[str, Any] | None]:
        if not isinstance(parameters, dict) or not parameters:
            return st.just(parameters)  # a negative case, or no parameters
        choices = {
            name: KNOWN.get(_known_path(path, name), [])
            for name in parameters
            if KNOWN.get(_known_path(path, name))
        }
        if not choices:
            return st.just(parameters)
        return st.fixed_dictionaries(
            {name: st.sampled_from(values) for name, values in choices.items()}
        ).map(lambda found: {**parameters, **found})

    return st.one_of(strategy, strategy.flatmap(real))


for _schema_object in (fuzzing, coverage_and_fuzzing):
    _schema_object.hook("before_generate_path_parameters")(_with_known_objects)


def _bearer(raw: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {raw}"}


def _build(folder: Path) -> dict[str, dict[str, str]]:
    (folder / "deals.csv").write_text(DEALS, encoding="utf-8")
    (folder / "headway.yaml").write_text(WORKSPACE, encoding="utf-8")
    apply_plan(plan_apply(load_workspace(folder / "headway.yaml")), by=None)
    results_recompute(by=None)
    people = {person.email: person for person in User.objects.all()}
    admin, member = people["admin@example.com"], people["member@example.com"]
    manager, viewer = people["north.manager@example.com"], people["viewer@example.com"]
    # A KPI entered by hand, owned by the member, whose entries wait for approval: the
    # member's approved value, and one of the manager's waiting for the member.
    satisfaction = kpi_create(
        by=admin,
        key="satisfaction",
        name="Customer satisfaction",
        formula="",
        entry="manual",
        unit="score",
        grain="month",
        team=Team.objects.get(key="north"),
        owner=member,
        manual_approval=True,
    )
    target_revise(kpi=satisfaction, by=admin, effective_from="2026-01", value=80, reason="Plan")
    manual_values_submit(kpi=satisfaction, values={"2026-01": Decimal("81.5")}, by=member)
    manual_values_submit(kpi=satisfaction, values={"2026-02": Decimal(77)}, by=manager)
    # A source for the deals, so that its state can be read and a sync queued.
    source_create(
        dataset=Dataset.objects.get(key="deals"),
        kind="test-rows",
        name="Test CRM",
        config={"rows": []},
        secrets={"token": "a-secret-token"},
        every_minutes=None,
        by=admin,
    )

    def token(person: User, scope: str) -> dict[str, str]:
        return _bearer(token_create(by=person, name="schemathesis", scope=scope)[1])

    return {
        "anonymous": {},
        "viewer_read": token(viewer, ApiToken.Scope.READ),
        "admin_read": token(admin, ApiToken.Scope.READ),
        "member": token(member, ApiToken.Scope.WRITE),
        "manager": token(manager, ApiToken.Scope.WRITE),
        "admin": token(admin, ApiToken.Scope.WRITE),
    }


def _known() -> dict[str, list[Any]]:
    return {
        "team": list(Team.objects.order_by("key").values_list("key", flat=True)),
        "goal": ["grow", "win-more"],
        "kpi": list(Kpi.objects.order_by("key").values_list("key", flat=True)),
        "dataset": ["deals"],
        "target_id": list(TargetVersion.objects.order_by("pk").values_list("pk", flat=True)),
        "entry_id": list(ManualValue.objects.order_by("pk").values_list("pk", flat=True)),
        "period": ["2026-01", "2026-02", "2026-03"],
    }


@pytest.fixture(scope="module")
def world(
    django_db_setup: None, django_db_blocker: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    """The organisation of tests/api, a manual KPI with values, a source, and tokens."""
    folder = tmp_path_factory.mktemp("schemathesis")
    warehouse = folder / "warehouse"
    with (
        pytest.MonkeyPatch.context() as patch,
        override_settings(HEADWAY_WAREHOUSE_DIR=warehouse),
        django_db_blocker.unblock(),
    ):
        patch.setenv("HEADWAY_CACHE_DIR", str(folder / "cache"))
        patch.setitem(sources.KINDS, "test-rows", ListedRows())
        atomic = transaction.atomic()
        atomic.__enter__()
        try:
            made = World(headers=_build(folder), warehouse=warehouse, known=_known())
            KNOWN.update(made.known)
            yield made
            _summary(made.calls)
        finally:
            KNOWN.clear()
            transaction.set_rollback(True)
            atomic.__exit__(None, None, None)


def _summary(calls: Counter[str]) -> None:
    """Requests per caller and status (shown with `pytest -s`; one process's share under
    xdist)."""
    if not calls:
        return
    per_role: dict[str, Counter[str]] = {}
    for name, count in calls.items():
        *who, _method, _path, status = name.split(" ")
        per_role.setdefault(" ".join(who), Counter())[status] += count
    print(f"\nschemathesis: {calls.total()} requests")
    for who, statuses in sorted(per_role.items()):
        shown = ", ".join(f"{status}: {count}" for status, count in sorted(statuses.items()))
        print(f"  {who}: {statuses.total()} ({shown})")


@pytest.fixture
def app(world: World, db: None, settings: Any, tmp_path: Path) -> Iterator[Path]:
    """Requests go through the WSGI application, as in production; as in Django's test
    client, the end of a request does not close the database connection, which holds the
    test's transaction. Each test has a warehouse of its own."""
    settings.HEADWAY_WAREHOUSE_DIR = tmp_path / "warehouse"
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield tmp_path / "warehouse"
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


@contextmanager
def _undone(world: World, warehouse: Path) -> Iterator[None]:
    """Whatever one example (or one scenario) changes is undone after it: the database
    in a savepoint rolled back, the warehouse copied afresh. So every example starts from
    the same organisation, and Hypothesis can replay a failing one as it was."""
    if warehouse.exists():
        shutil.rmtree(warehouse)
    if world.warehouse.exists():
        shutil.copytree(world.warehouse, warehouse)
    with transaction.atomic():
        yield
        transaction.set_rollback(True)


def _call(case: schemathesis.Case, role: str, world: World, warehouse: Path) -> None:
    with _undone(world, warehouse):
        response = case.call_and_validate(headers=world.headers[role], checks=CHECKS)
    world.calls[f"{role} {case.operation.label} {response.status_code}"] += 1
    _check_role(role, case, response.status_code, response.text)


def _check_role(role: str, case: schemathesis.Case, status: int, text: str) -> None:
    """What each caller may get, beyond the schema: nobody gets past authentication
    without a token, and a read-only token never changes anything."""
    if case.method.upper() != case.operation.method.upper():
        return  # another method on the path (coverage phase): 405, checked by schemathesis
    if any("/" in str(value) for value in (case.path_parameters or {}).values()):
        # A key holding a "/" names no operation's path: the API's 404, for anybody.
        assert status == 404, text
    elif role == "anonymous":
        assert status == 401, text
    elif role.endswith("_read") and case.operation.method.upper() != "GET":
        # Refused by scope (403), unless the request was unreadable (400) or invalid
        # (422) before the view could refuse it.
        assert status in (400, 403, 422), text


@pytest.mark.parametrize("role", WITHOUT_WRITE)
@fuzzing.parametrize()
@_settings(max_examples=15)
def test_every_operation_refuses_callers_without_a_token_or_a_write_scope(
    case: schemathesis.Case, role: str, world: World, app: Path
) -> None:
    _call(case, role, world, app)


@pytest.mark.parametrize("role", WRITERS)
@fuzzing.parametrize()
@_settings(max_examples=25)
def test_every_operation_answers_members_and_managers_as_documented(
    case: schemathesis.Case, role: str, world: World, app: Path
) -> None:
    _call(case, role, world, app)


@coverage_and_fuzzing.parametrize()
@_settings(max_examples=25)
def test_every_operation_answers_an_admin_as_documented(
    case: schemathesis.Case, world: World, app: Path
) -> None:
    _call(case, "admin", world, app)


@pytest.mark.parametrize("role", ["admin", "member"])
def test_linked_operations_in_sequence_answer_as_documented(
    role: str, world: World, app: Path
) -> None:
    headers = world.headers[role]

    class Scenarios(fuzzing.as_state_machine()):  # type: ignore[misc]
        def setup(self) -> None:
            self.undo = ExitStack()
            self.undo.enter_context(_undone(world, app))

        def teardown(self) -> None:
            self.undo.close()

        def get_call_kwargs(self, case: schemathesis.Case) -> dict[str, Any]:
            return {"headers": headers}

        def after_call(self, response: Any, case: schemathesis.Case) -> None:
            world.calls[f"stateful {role} {case.operation.label} {response.status_code}"] += 1
            super().after_call(response, case)

        def validate_response(self, response: Any, case: schemathesis.Case, **kwargs: Any) -> None:
            case.validate_response(response, checks=CHECKS, headers=headers)

    Scenarios.run(settings=settings(_settings(max_examples=30), stateful_step_count=8))
