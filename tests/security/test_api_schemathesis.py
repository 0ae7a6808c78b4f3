"""Schemathesis against the API's own OpenAPI schema (issue 8).

Every operation of /api/v1/openapi.json is called with generated input, valid and invalid,
by each kind of caller: nobody (no token), read-only tokens (a viewer's, an admin's), and
read-and-write tokens of a member, a team's manager and an admin. Whoever calls and
whatever they send, the API never answers 5xx, answers only with status codes the schema
documents for the operation (401 and 403 included), and every body matches its documented
schema. Then the stateful phase follows the schema's OpenAPI links (a list to its first
item, a created object to reading and changing it, a KPI to its targets and values) as an
admin and as a member.

The organisation (that of tests/api, with a KPI entered by hand and a source) is made once
for the module, inside a transaction rolled back at its end. Every example, and every
stateful scenario, runs in a savepoint rolled back after it, with a fresh copy of the
warehouse: each starts from the same organisation, and Hypothesis can replay a failure as
it was. About half of the generated requests name objects that exist, and about half of
those of the writing operations are requests the services accept, so that the answers
to valid requests are checked too. Generation is derandomized: the same examples every
run. `pytest -s` prints how many requests each caller made, by status.
"""

from __future__ import annotations

import copy
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
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.signals import request_finished, request_started
from django.db import close_old_connections, transaction
from django.test import Client
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
from headway.goals.models import Goal
from headway.ingestion import sources
from headway.ingestion.syncs import source_create
from headway.kpis.models import Dataset, Kpi, TargetVersion
from headway.kpis.services import kpi_create, target_revise
from headway.kpis.workspace_io import apply_plan, plan_apply
from headway.results.choices import ManualStatus
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
# What a member, and a team's manager, may never do, whatever they send.
_TEAMS = {"POST /api/v1/teams", "PATCH /api/v1/teams/{key}"}
NEVER = {
    "manager": _TEAMS,
    "member": _TEAMS
    | {
        "POST /api/v1/goals",
        "PATCH /api/v1/goals/{key}",
        "POST /api/v1/kpis",
        "PATCH /api/v1/kpis/{key}",
        "POST /api/v1/kpis/{key}/targets",
        "POST /api/v1/datasets/{key}/rows",
        "POST /api/v1/datasets/{key}/files",
        "POST /api/v1/datasets/{key}/sync",
    },
}


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
    known: dict[str, Any] = field(default_factory=dict)
    calls: Counter[str] = field(default_factory=Counter)


# What exists, for the path parameters (filled in by the `world` fixture): about half of
# the requests name a real team, goal, KPI, dataset, target version or entry, so that they
# reach the services and not only the lookups.
KNOWN: dict[str, Any] = {}


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


@dataclass(frozen=True)
class Valid:
    """A request the services accept (for a caller allowed to make it)."""

    path: dict[str, Any]
    body: Any
    headers: dict[str, str] = field(default_factory=dict)


def _valid_requests(known: dict[str, Any]) -> dict[str, list[Valid]]:
    """Per operation, valid requests on the organisation as the `world` fixture made it
    (every example starts from it). Generated bodies almost never pass the services'
    rules (a formula of existing measures, a period label, an existing parent...), yet the
    answers to valid requests must match the schema too: about half of the examples of
    these operations are one of these, sent by every caller."""
    version = known["version"]
    return {
        "POST /api/v1/teams": [Valid({}, {"key": "east", "name": "East", "parent": "north"})],
        "PATCH /api/v1/teams/{key}": [
            Valid({"key": "north"}, {"version": version["north"], "name": "North team"}),
            Valid({"key": "south"}, {"parent": "north"}, {"If-Match": f'"{version["south"]}"'}),
        ],
        "POST /api/v1/goals": [
            Valid(
                {},
                {
                    "key": "keep-customers",
                    "title": "Keep customers",
                    "horizon": "short",
                    "parent": "grow",
                    "team": "north",
                    "owner": "member@example.com",
                    "start": "2026-01-01",
                    "due": "2026-06-30",
                    "statement": "Fewer customers leave",
                },
            )
        ],
        "PATCH /api/v1/goals/{key}": [
            Valid({"key": "grow"}, {"version": version["grow"], "status": "achieved"}),
            Valid({"key": "win-more"}, {"title": "Win more"}, {"If-Match": "*"}),
        ],
        "POST /api/v1/kpis": [
            Valid(
                {},
                {
                    "key": "deals_won",
                    "name": "Deals won",
                    "formula": "won",
                    "unit": "count",
                    "grain": "month",
                    "team": "north",
                    "owner": "member@example.com",
                    "goals": [{"goal": "grow", "weight": "0.5"}],
                    "thresholds": {"green": "1", "amber": 0.8},
                },
            ),
            Valid(
                {},
                {
                    "key": "nps",
                    "name": "Net promoter score",
                    "entry": "manual",
                    "manual_approval": True,
                    "unit": "score",
                    "grain": "quarter",
                    "team": "north",
                    "owner": "member@example.com",
                },
            ),
        ],
        "PATCH /api/v1/kpis/{key}": [
            Valid(
                {"key": "north_revenue"},
                {
                    "version": version["north_revenue"],
                    "name": "Revenue of the north",
                    "thresholds": {"green": "1.1"},
                },
            ),
            Valid(
                {"key": "win_rate"},
                {"goals": [{"goal": "win-more", "weight": 2}]},
                {"If-Match": f'"{version["win_rate"]}"'},
            ),
        ],
        "POST /api/v1/kpis/{key}/targets": [
            Valid(
                {"key": "north_revenue"},
                {"effective_from": "2026-04", "value": "1200", "reason": "Spring push"},
            ),
            Valid(
                {"key": "win_rate"},
                {
                    "effective_from": "2026-Q2",
                    "value": 0.65,
                    "reason": "South catches up",
                    "where_dimension": "team",
                    "where_value": "south",
                },
            ),
        ],
        "POST /api/v1/kpis/{key}/values": [
            Valid(
                {"key": "satisfaction"},
                {
                    "values": [
                        {"period": "2026-03", "value": "79.5"},
                        {"period": "2026-02", "value": None},
                    ],
                    "comment": "March survey",
                },
            )
        ],
        "POST /api/v1/kpis/{key}/values/{entry_id}/decision": [
            Valid({"key": "satisfaction", "entry_id": known["pending"]}, {"approve": True}),
            Valid(
                {"key": "satisfaction", "entry_id": known["pending"]},
                {"approve": False, "note": "Wrong month"},
            ),
        ],
        "POST /api/v1/datasets/{key}/rows": [
            Valid(
                {"key": "deals"},
                {
                    "rows": [
                        {
                            "deal_id": "p1",
                            "closed_at": "2026-04-02",
                            "team": "north",
                            "stage": "won",
                            "amount": 500,
                        },
                        {
                            "deal_id": "p2",
                            "closed_at": "2026-04-20",
                            "team": "south",
                            "stage": "lost",
                            "amount": 12.5,
                        },
                    ]
                },
            )
        ],
    }


def _sometimes_valid(context: Any, case: schemathesis.Case) -> Any:
    def valid(request: Valid) -> schemathesis.Case:
        case.path_parameters = {**(case.path_parameters or {}), **request.path}
        case.headers = {**(case.headers or {}), **request.headers}
        case.body = copy.deepcopy(request.body)
        return case

    requests = VALID.get(case.operation.label)
    if not requests:
        return st.just(case)
    return st.one_of(st.just(case), st.sampled_from(requests).map(valid))


# Filled in by the `world` fixture.
VALID: dict[str, list[Valid]] = {}

for _schema_object in (fuzzing, coverage_and_fuzzing):
    _schema_object.hook("before_generate_path_parameters")(_with_known_objects)
    _schema_object.hook("flatmap_case")(_sometimes_valid)


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


def _known() -> dict[str, Any]:
    versions = {
        **dict(Team.objects.values_list("key", "version")),
        **dict(Goal.objects.values_list("key", "version")),
        **dict(Kpi.objects.values_list("key", "version")),
    }
    pending = ManualValue.objects.get(kpi__key="satisfaction", status=ManualStatus.PENDING)
    return {
        "version": versions,
        "pending": pending.pk,
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
            VALID.update(_valid_requests(made.known))
            yield made
            _summary(made.calls)
        finally:
            KNOWN.clear()
            VALID.clear()
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
    without a token, a read-only token never changes anything, and members and managers
    never do what only admins (or managers) may."""
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
    elif case.operation.label in NEVER.get(role, ()):
        assert status >= 400, text


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
            _check_role(role, case, response.status_code, response.text)

    Scenarios.run(settings=settings(_settings(max_examples=30), stateful_step_count=8))


# What the fuzzing found, kept as plain examples: it may not draw them again every run.
UNSTORABLE = [
    pytest.param("post", "teams", '{"key": "x1", "name": "a\\u0000b"}', "name", id="NUL in a body"),
    pytest.param(
        "patch",
        "kpis/north_revenue",
        '{"version": 1, "owner": "\\u0000@example.com"}',
        "owner",
        id="NUL in a change",
    ),
    pytest.param("get", "teams/a%00b", None, "key", id="NUL in a path"),
    pytest.param(
        "get",
        "kpis/north_revenue/results?group_dimension=team&group_value=%00",
        None,
        "group_value",
        id="NUL in a query",
    ),
    pytest.param(
        "post",
        "datasets/deals/rows",
        '{"rows": [{"deal_id\\u0000": "p1", "closed_at": "2026-04-02"}]}',
        "rows.0",
        id="NUL in a pushed column's name",
    ),
    pytest.param(
        "post",
        "kpis/satisfaction/values",
        '{"values": [{"period": "2026-03", "value": 1}], "comment": "\\ud800"}',
        "comment",
        id="a lone surrogate",
    ),
]


@pytest.mark.parametrize(("method", "path", "body", "field_name"), UNSTORABLE)
def test_text_no_database_can_store_is_invalid_input_not_a_server_error(
    method: str, path: str, body: str | None, field_name: str, world: World, app: Path
) -> None:
    client = Client(raise_request_exception=False, headers=world.headers["admin"])
    with _undone(world, app):
        if body is None:
            response = client.get(f"/api/v1/{path}")
        else:
            send = getattr(client, method)
            response = send(f"/api/v1/{path}", body, content_type="application/json")

    assert response.status_code == 422, response.content
    assert [error["field"] for error in response.json()["errors"]] == [field_name]


def test_a_file_with_a_nul_in_a_cell_is_refused_and_the_value_shown(
    world: World, app: Path
) -> None:
    content = b"deal_id,closed_at,team,stage,amount\nf1,2026-04-02,nor\x00th,won,500\n"
    client = Client(raise_request_exception=False, headers=world.headers["admin"])
    with _undone(world, app):
        response = client.post(
            "/api/v1/datasets/deals/files", {"file": SimpleUploadedFile("april.csv", content)}
        )

    assert response.status_code == 422, response.content
    [error] = response.json()["errors"]
    assert (error["field"], error["value"]) == ("team", "nor\\x00th")


def test_numbers_too_large_to_store_leave_the_results_as_they_were(world: World, app: Path) -> None:
    row = {"deal_id": "big", "closed_at": "2026-03-02", "team": "north", "stage": "won"}
    client = Client(raise_request_exception=False, headers=world.headers["admin"])
    with _undone(world, app):
        before = client.get("/api/v1/kpis/north_revenue/results/2026-03").json()
        pushed = client.post(
            "/api/v1/datasets/deals/rows",
            {"rows": [{**row, "amount": 10**30}]},
            content_type="application/json",
        )
        after = client.get("/api/v1/kpis/north_revenue/results/2026-03").json()

    assert pushed.status_code == 200, pushed.content
    assert pushed.json()["added"] == 1
    # The stored numbers stay as they were, and the result now says they are from before a
    # refused recompute, and why.
    refusal = after.pop("recompute_refused")
    assert before.pop("recompute_refused") is None
    assert after == before
    assert "cannot be stored" in refusal["reason"], refusal


def test_an_attainment_too_large_to_store_is_left_out(world: World, app: Path) -> None:
    client = Client(raise_request_exception=False, headers=world.headers["admin"])
    with _undone(world, app):
        target = client.post(
            "/api/v1/kpis/satisfaction/targets",
            {"effective_from": "2026-03", "value": "0.0000000001", "reason": "A minute target"},
            content_type="application/json",
        )
        entered = client.post(
            "/api/v1/kpis/satisfaction/values",
            {"values": [{"period": "2026-03", "value": "9999999999999999999"}]},
            content_type="application/json",
        )
        result = client.get("/api/v1/kpis/satisfaction/results/2026-03").json()

    assert (target.status_code, entered.status_code) == (201, 201), entered.content
    assert (result["attainment"], result["status"]) == (None, "none")


def test_a_value_of_twenty_digits_is_invalid_input(world: World, app: Path) -> None:
    client = Client(raise_request_exception=False, headers=world.headers["admin"])
    with _undone(world, app):
        response = client.post(
            "/api/v1/kpis/north_revenue/targets",
            {"effective_from": "2026-04", "value": "99999999999999999999", "reason": "Big"},
            content_type="application/json",
        )

    assert response.status_code == 422, response.content
    assert [error["field"] for error in response.json()["errors"]] == ["value"]
