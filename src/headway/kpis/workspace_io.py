"""Workspace files in and out of the app database: `headway apply` and `headway export`.

`workspace_data` builds the workspace (as the data of a `headway.yaml`) from the
database; export writes it as YAML and recompute hands it to the engine. `plan_apply`
compares a validated workspace with the database by keys, and `apply_plan` carries the
plan out in one transaction, auditing every change. A changed target is never an edit:
it is appended as a new target version.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from django.db import transaction

from headway.accounts.models import Membership, Organization, Team, User
from headway.audit.services import audit_record, snapshot
from headway.engine.workspace import Workspace
from headway.goals.models import Goal
from headway.kpis.models import Dataset, Kpi, KpiGoal, Measure, TargetVersion


def _decimal(value: float) -> Decimal:
    # repr gives the shortest text that round-trips: 0.08, not 0.0800000000000000017.
    return Decimal(repr(float(value)))


def _number(value: Decimal) -> float | int:
    as_int = int(value)
    return as_int if value == as_int else float(value)


def workspace_data(
    base_dir: Path | None = None, *, include_retired: bool = False
) -> dict[str, Any]:
    """The database's KPI system as workspace data. File paths are relative to base_dir."""
    organization = Organization.current()
    data: dict[str, Any] = {
        "version": 1,
        "organization": {
            "name": organization.name,
            "timezone": organization.timezone,
            "currency": organization.currency,
            "fiscal_year_start": organization.fiscal_year_start,
            "language": "zh-Hant" if organization.language == "zh-hant" else "en",
        },
    }
    teams = []
    for team in Team.objects.select_related("parent").order_by("pk"):
        item: dict[str, Any] = {"key": team.key, "name": team.name}
        if team.parent is not None:
            item["parent"] = team.parent.key
        teams.append(item)
    data["teams"] = teams
    people = []
    for person in User.objects.prefetch_related("memberships__team").order_by("pk"):
        item = {"email": person.email, "name": person.display_name or person.email}
        memberships = list(person.memberships.all())
        if memberships:
            item["team"] = memberships[0].team.key
        item["role"] = person.role
        people.append(item)
    data["people"] = people
    datasets: dict[str, Any] = {}
    for dataset in Dataset.objects.order_by("key"):
        file = dataset.file
        if base_dir is not None and os.path.isabs(file):
            file = os.path.relpath(file, base_dir)
        item = {"file": file, "key": dataset.key_column}
        if dataset.time_column:
            item["time"] = dataset.time_column
        if dataset.dimensions:
            item["dimensions"] = list(dataset.dimensions)
        datasets[dataset.key] = item
    data["datasets"] = datasets
    measures: dict[str, Any] = {}
    for measure in Measure.objects.select_related("dataset").order_by("pk"):
        item = {"dataset": measure.dataset.key, "agg": measure.agg}
        if measure.column:
            item["column"] = measure.column
        if measure.filter:
            item["filter"] = measure.filter
        if measure.time_column:
            item["time"] = measure.time_column
        measures[measure.name] = item
    data["measures"] = measures
    goals = []
    for goal in Goal.objects.select_related("parent", "owner", "team").order_by("position", "pk"):
        item = {"key": goal.key, "title": goal.title, "horizon": goal.horizon}
        for name, value in (
            ("parent", goal.parent.key if goal.parent else None),
            ("start", goal.start),
            ("due", goal.due),
            ("owner", goal.owner.email if goal.owner else None),
            ("team", goal.team.key if goal.team else None),
            ("statement", goal.statement or None),
            ("description", goal.description or None),
        ):
            if value is not None:
                item[name] = value
        goals.append(item)
    data["goals"] = goals
    kpis = []
    query = Kpi.objects.select_related("team", "owner").prefetch_related(
        "goal_links__goal", "targets"
    )
    if not include_retired:
        query = query.filter(is_active=True)
    for kpi in query.order_by("position", "pk"):
        if kpi.entry != "formula":
            continue
        item = {
            "key": kpi.key,
            "name": kpi.name,
            "goals": [link.goal.key for link in kpi.goal_links.all()],
            "formula": kpi.formula,
            "unit": kpi.unit,
            "direction": kpi.direction,
            "grain": kpi.grain,
        }
        if kpi.team is not None:
            item["team"] = kpi.team.key
        if kpi.owner is not None:
            item["owner"] = kpi.owner.email
        if kpi.description:
            item["description"] = kpi.description
        item["thresholds"] = {
            "green": _number(kpi.threshold_green),
            "amber": _number(kpi.threshold_amber),
        }
        targets = []
        for target in sorted(kpi.targets.all(), key=lambda t: (t.effective_start, t.pk)):
            entry: dict[str, Any] = {"from": target.effective_from, "value": _number(target.value)}
            if target.reason:
                entry["reason"] = target.reason
            if target.where_dimension:
                entry["where"] = {target.where_dimension: target.where_value}
            targets.append(entry)
        item["targets"] = targets
        kpis.append(item)
    data["kpis"] = kpis
    return data


@dataclass(frozen=True)
class Change:
    """One line of a plan: + created, ~ changed, - removed, with what and why."""

    sign: str
    kind: str
    key: str
    detail: str = ""

    def __str__(self) -> str:
        text = f"{self.sign} {self.kind} {self.key}"
        return f"{text}: {self.detail}" if self.detail else text


@dataclass
class Plan:
    """What applying a workspace would change, and the steps that do it."""

    changes: list[Change] = field(default_factory=list)
    steps: list[Callable[[User | None], None]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def removals(self) -> list[Change]:
        return [change for change in self.changes if change.sign == "-"]

    def add(self, change: Change, step: Callable[[User | None], None]) -> None:
        self.changes.append(change)
        self.steps.append(step)


def _in_warehouse(file: str) -> bool:
    from django.conf import settings

    warehouse = Path(settings.HEADWAY_WAREHOUSE_DIR).resolve()
    return Path(file).resolve().is_relative_to(warehouse)


def _note_warehouse(plan: Plan, wanted: str | None) -> None:
    """The application's warehouse is a setting of its servers (HEADWAY_WAREHOUSE_URL),
    not of the KPI system: a workspace naming another one is told so, not obeyed."""
    from django.conf import settings

    from headway.engine.backends.url import BackendKind, mask, parse_url

    used = (settings.HEADWAY_WAREHOUSE_URL or "").strip()
    if wanted is None or wanted.strip() == used:
        return
    # The workspace's URL was checked when it was read; the setting's at first compute.
    both_duckdb = parse_url(wanted).kind is BackendKind.DUCKDB and used in ("", "duckdb")
    if both_duckdb:
        return
    shown = mask(used) if used else "the embedded DuckDB"
    plan.notes.append(
        f"the workspace's warehouse {mask(wanted)} is not applied: the application "
        f"computes on HEADWAY_WAREHOUSE_URL ({shown}), set where it runs (docs/warehouse.md)"
    )


def _removal(instance: Any, action: str, label: str) -> Callable[[User | None], None]:
    """A plan step deleting one object with its audit row; children are detached first."""

    def remove(by: User | None) -> None:
        before = snapshot(instance)
        model = type(instance)
        if any(field.name == "parent" for field in model._meta.get_fields()):
            model.objects.filter(parent=instance).update(parent=None)
        instance.delete()
        audit_record(
            actor=by,
            action=action,
            object_type=model._meta.label_lower,
            object_id=str(before["id"]),
            object_label=label,
            before=before,
        )

    return remove


def _differences(current: dict[str, Any], wanted: dict[str, Any]) -> str:
    changed = [name for name in wanted if current.get(name) != wanted[name]]
    return ", ".join(changed)


def plan_apply(workspace: Workspace) -> Plan:
    """Compares the workspace with the database, by keys, without changing anything."""
    model = workspace.model
    plan = Plan()
    base_dir = workspace.base_dir.resolve()

    organization = Organization.current()
    wanted_org = {
        "name": model.organization.name,
        "timezone": model.organization.timezone,
        "currency": model.organization.currency,
        "fiscal_year_start": model.organization.fiscal_year_start,
        "language": model.organization.language.lower(),
    }
    differences = _differences(snapshot(organization), wanted_org)
    if differences:

        def update_org(by: User | None) -> None:
            # Read again, locked: the row may have changed since the plan was made.
            current = Organization.objects.select_for_update().get(pk=organization.pk)
            before = snapshot(current)
            for name, value in wanted_org.items():
                setattr(current, name, value)
            current.version += 1
            current.save()
            audit_record(
                actor=by,
                action="organization.update",
                target=current,
                before=before,
                after=snapshot(current),
            )

        plan.add(Change("~", "organization", organization.name, differences), update_org)

    # Teams: parents before children, so create in file order and set parents after.
    existing_teams = {team.key: team for team in Team.objects.all()}
    for team_spec in model.teams:
        team = existing_teams.get(team_spec.key)
        if team is None:

            def create_team(by: User | None, spec: Any = team_spec) -> None:
                created = Team.objects.create(key=spec.key, name=spec.name)
                audit_record(
                    actor=by, action="team.create", target=created, after=snapshot(created)
                )

            plan.add(Change("+", "team", team_spec.key, team_spec.name), create_team)
        elif team.name != team_spec.name or (team.parent.key if team.parent else None) != (
            team_spec.parent
        ):

            def update_team(by: User | None, spec: Any = team_spec) -> None:
                current = Team.objects.select_for_update().get(key=spec.key)
                before = snapshot(current)
                current.name = spec.name
                current.version += 1
                current.save()
                audit_record(
                    actor=by,
                    action="team.update",
                    target=current,
                    before=before,
                    after=snapshot(current),
                )

            plan.add(Change("~", "team", team_spec.key), update_team)

    def set_team_parents(by: User | None) -> None:
        teams = {team.key: team for team in Team.objects.all()}
        for spec in model.teams:
            team = teams[spec.key]
            parent = teams.get(spec.parent) if spec.parent else None
            if team.parent_id != (parent.pk if parent else None):
                before = snapshot(team)
                team.parent = parent
                team.save()
                audit_record(
                    actor=by, action="team.update", target=team, before=before, after=snapshot(team)
                )

    plan.steps.append(set_team_parents)
    wanted_team_keys = {team.key for team in model.teams}
    for key, team in existing_teams.items():
        if key not in wanted_team_keys:
            plan.add(Change("-", "team", key, team.name), _removal(team, "team.delete", team.name))

    existing_people = {person.email: person for person in User.objects.all()}
    for person_spec in model.people:
        person = existing_people.get(person_spec.email)
        if person is None:

            def create_person(by: User | None, spec: Any = person_spec) -> None:
                created = User.objects.create_user(
                    email=spec.email, display_name=spec.name, role=spec.role
                )
                created.set_unusable_password()
                created.save()
                if spec.team:
                    Membership.objects.create(
                        user=created,
                        team=Team.objects.get(key=spec.team),
                        is_manager=spec.role == "manager",
                    )
                audit_record(
                    actor=by,
                    action="person.create",
                    target=created,
                    after={
                        "email": spec.email,
                        "name": spec.name,
                        "role": spec.role,
                        "team": spec.team,
                    },
                )

            plan.add(Change("+", "person", person_spec.email, person_spec.name), create_person)
        else:
            team_keys = set(person.memberships.values_list("team__key", flat=True))
            if (
                person.display_name != person_spec.name
                or person.role != person_spec.role
                or (person_spec.team is not None and person_spec.team not in team_keys)
            ):

                def update_person(by: User | None, spec: Any = person_spec) -> None:
                    current = User.objects.get(email=spec.email)
                    before = {"name": current.display_name, "role": current.role}
                    current.display_name = spec.name
                    current.role = spec.role
                    current.save()
                    if spec.team:
                        Membership.objects.update_or_create(
                            user=current,
                            team=Team.objects.get(key=spec.team),
                            defaults={"is_manager": spec.role == "manager"},
                        )
                    audit_record(
                        actor=by,
                        action="person.update",
                        target=current,
                        before=before,
                        after={"name": spec.name, "role": spec.role, "team": spec.team},
                    )

                plan.add(Change("~", "person", person_spec.email), update_person)
    listed = {person.email for person in model.people}
    unlisted = [email for email in existing_people if email not in listed]
    if unlisted and model.people:
        plan.notes.append(
            f"{len(unlisted)} people in the database are not in the file; apply never "
            "removes people (deactivate them in the admin)."
        )

    _note_warehouse(plan, model.warehouse)

    existing_datasets = {dataset.key: dataset for dataset in Dataset.objects.all()}
    for key, dataset_spec in model.datasets.items():
        wanted = {
            "file": str((base_dir / dataset_spec.file).resolve()),
            "key_column": dataset_spec.key,
            "time_column": dataset_spec.time or "",
            "dimensions": list(dataset_spec.dimensions),
        }
        dataset = existing_datasets.get(key)
        if dataset is not None and _in_warehouse(dataset.file):
            # Imports feed this dataset now: its table in the warehouse is its data, and
            # the file named in the workspace is not read again.
            wanted["file"] = dataset.file
            plan.notes.append(
                f"dataset {key} reads its imported table in the warehouse; the file "
                f"{dataset_spec.file} in the workspace is not used"
            )
        if dataset is None:

            def create_dataset(by: User | None, key: str = key, wanted: Any = wanted) -> None:
                created = Dataset.objects.create(key=key, **wanted)
                audit_record(
                    actor=by, action="dataset.create", target=created, after=snapshot(created)
                )

            plan.add(Change("+", "dataset", key), create_dataset)
        else:
            differences = _differences(snapshot(dataset), wanted)
            if differences:

                def update_dataset(by: User | None, key: str = key, wanted: Any = wanted) -> None:
                    current = Dataset.objects.select_for_update().get(key=key)
                    before = snapshot(current)
                    for name, value in wanted.items():
                        setattr(current, name, value)
                    current.version += 1
                    current.save()
                    audit_record(
                        actor=by,
                        action="dataset.update",
                        target=current,
                        before=before,
                        after=snapshot(current),
                    )

                plan.add(Change("~", "dataset", key, differences), update_dataset)

    existing_measures = {
        measure.name: measure for measure in Measure.objects.select_related("dataset")
    }
    for name, measure_spec in model.measures.items():
        wanted = {
            "agg": measure_spec.agg.value,
            "column": measure_spec.column or "",
            "filter": measure_spec.filter or "",
            "time_column": measure_spec.time or "",
        }
        measure = existing_measures.get(name)
        if measure is None:

            def create_measure(
                by: User | None, name: str = name, spec: Any = measure_spec, wanted: Any = wanted
            ) -> None:
                created = Measure.objects.create(
                    name=name, dataset=Dataset.objects.get(key=spec.dataset), **wanted
                )
                audit_record(
                    actor=by, action="measure.create", target=created, after=snapshot(created)
                )

            plan.add(Change("+", "measure", name), create_measure)
        else:
            current_values = snapshot(measure)
            differences = _differences(current_values, wanted)
            if measure.dataset.key != measure_spec.dataset:
                differences = ", ".join(filter(None, [differences, "dataset"]))
            if differences:

                def update_measure(
                    by: User | None,
                    name: str = name,
                    spec: Any = measure_spec,
                    wanted: Any = wanted,
                ) -> None:
                    current = Measure.objects.select_for_update().get(name=name)
                    before = snapshot(current)
                    for field_name, value in wanted.items():
                        setattr(current, field_name, value)
                    current.dataset = Dataset.objects.get(key=spec.dataset)
                    current.version += 1
                    current.save()
                    audit_record(
                        actor=by,
                        action="measure.update",
                        target=current,
                        before=before,
                        after=snapshot(current),
                    )

                plan.add(Change("~", "measure", name, differences), update_measure)
    for name, measure in existing_measures.items():
        if name not in model.measures:
            plan.add(Change("-", "measure", name), _removal(measure, "measure.delete", name))
    for key, dataset in existing_datasets.items():
        if key not in model.datasets:
            plan.add(Change("-", "dataset", key), _removal(dataset, "dataset.delete", key))

    _plan_goals(workspace, plan)
    _plan_kpis(workspace, plan)
    return plan


def _plan_goals(workspace: Workspace, plan: Plan) -> None:
    model = workspace.model
    existing = {goal.key: goal for goal in Goal.objects.select_related("parent", "owner", "team")}
    for position, spec in enumerate(model.goals):
        wanted = {
            "title": spec.title,
            "horizon": spec.horizon.value,
            "start": spec.start.isoformat() if spec.start else None,
            "due": spec.due.isoformat() if spec.due else None,
            "statement": spec.statement or "",
            "description": spec.description or "",
            "position": position,
        }
        links = {"parent": spec.parent, "owner": spec.owner, "team": spec.team}
        goal = existing.get(spec.key)
        current_links = {}
        if goal is not None:
            current_links = {
                "parent": goal.parent.key if goal.parent else None,
                "owner": goal.owner.email if goal.owner else None,
                "team": goal.team.key if goal.team else None,
            }
        differences = _differences(snapshot(goal), wanted) if goal is not None else ""
        link_differences = [name for name in links if current_links.get(name) != links[name]]
        if goal is None or differences or link_differences:
            sign = "+" if goal is None else "~"
            detail = (
                spec.title
                if goal is None
                else ", ".join(filter(None, [differences, *link_differences]))
            )

            def save_goal(by: User | None, spec: Any = spec, wanted: Any = wanted) -> None:
                current = Goal.objects.select_for_update().filter(key=spec.key).first()
                before = snapshot(current) if current is not None else None
                current = current or Goal(key=spec.key)
                for name, value in wanted.items():
                    setattr(current, name, value)
                current.owner = (
                    User.objects.filter(email=spec.owner).first() if spec.owner else None
                )
                current.team = Team.objects.filter(key=spec.team).first() if spec.team else None
                if before is not None:
                    current.version += 1
                current.save()
                audit_record(
                    actor=by,
                    action="goal.update" if before is not None else "goal.create",
                    target=current,
                    before=before,
                    after=snapshot(current),
                )

            plan.add(Change(sign, "goal", spec.key, detail), save_goal)

    def set_goal_parents(by: User | None) -> None:
        goals = {goal.key: goal for goal in Goal.objects.all()}
        for spec in model.goals:
            goal = goals[spec.key]
            parent = goals.get(spec.parent) if spec.parent else None
            if goal.parent_id != (parent.pk if parent else None):
                before = snapshot(goal)
                goal.parent = parent
                goal.save()
                audit_record(
                    actor=by, action="goal.update", target=goal, before=before, after=snapshot(goal)
                )

    plan.steps.append(set_goal_parents)
    wanted_keys = {goal.key for goal in model.goals}
    for key, goal in existing.items():
        if key not in wanted_keys:
            plan.add(
                Change("-", "goal", key, goal.title), _removal(goal, "goal.delete", goal.title)
            )


def _target_key(effective_from: str, where: dict[str, str] | None) -> tuple[str, str, str]:
    dimension, value = next(iter(where.items())) if where else ("", "")
    return (effective_from, dimension, str(value))


def _plan_kpis(workspace: Workspace, plan: Plan) -> None:
    model = workspace.model
    existing = {
        kpi.key: kpi
        for kpi in Kpi.objects.select_related("team", "owner").prefetch_related(
            "goal_links__goal", "targets"
        )
    }
    for position, spec in enumerate(model.kpis):
        resolved = workspace.kpis[spec.key]
        wanted = {
            "name": spec.name,
            "description": spec.description or "",
            "entry": "formula",
            "formula": spec.formula,
            "unit": spec.unit.value,
            "direction": spec.direction.value,
            "grain": spec.grain.value,
            "threshold_green": str(_decimal(spec.thresholds.green)),
            "threshold_amber": str(_decimal(spec.thresholds.amber)),
            "is_active": True,
            "position": position,
        }
        kpi = existing.get(spec.key)
        current: dict[str, Any] = {}
        if kpi is not None:
            current = snapshot(kpi)
            current["threshold_green"] = str(_decimal(float(kpi.threshold_green)))
            current["threshold_amber"] = str(_decimal(float(kpi.threshold_amber)))
            current_links = {
                "team": kpi.team.key if kpi.team else None,
                "owner": kpi.owner.email if kpi.owner else None,
                "goals": [link.goal.key for link in kpi.goal_links.all()],
            }
        else:
            current_links = {}
        links = {"team": spec.team, "owner": spec.owner, "goals": list(spec.goals)}
        differences = _differences(current, wanted) if kpi is not None else ""
        link_differences = [name for name in links if current_links.get(name) != links[name]]
        if kpi is None or differences or link_differences:
            sign = "+" if kpi is None else "~"
            detail = (
                spec.name
                if kpi is None
                else ", ".join(filter(None, [differences, *link_differences]))
            )

            def save_kpi(by: User | None, spec: Any = spec, wanted: Any = wanted) -> None:
                current_kpi = Kpi.objects.select_for_update().filter(key=spec.key).first()
                before = snapshot(current_kpi) if current_kpi is not None else None
                current_kpi = current_kpi or Kpi(key=spec.key)
                for name, value in wanted.items():
                    setattr(
                        current_kpi, name, Decimal(value) if name.startswith("threshold") else value
                    )
                current_kpi.team = Team.objects.filter(key=spec.team).first() if spec.team else None
                current_kpi.owner = (
                    User.objects.filter(email=spec.owner).first() if spec.owner else None
                )
                if before is not None:
                    current_kpi.version += 1
                current_kpi.save()
                KpiGoal.objects.filter(kpi=current_kpi).exclude(goal__key__in=spec.goals).delete()
                for goal_key in spec.goals:
                    KpiGoal.objects.get_or_create(
                        kpi=current_kpi, goal=Goal.objects.get(key=goal_key)
                    )
                audit_record(
                    actor=by,
                    action="kpi.update" if before is not None else "kpi.create",
                    target=current_kpi,
                    before=before,
                    after={**snapshot(current_kpi), "goals": list(spec.goals)},
                )

            plan.add(Change(sign, "KPI", spec.key, detail), save_kpi)

        # Targets: per (from, group), the versions in the database and the entries in the
        # file, each in order. When the database's versions are the file's first entries,
        # the rest are appended (so a file's own history is kept); otherwise a file whose
        # last entry differs from the latest version appends that entry. Nothing is ever
        # edited or removed.
        stored: dict[tuple[str, str, str], list[TargetVersion]] = {}
        if kpi is not None:
            for target in sorted(kpi.targets.all(), key=lambda t: t.pk):
                key = (target.effective_from, target.where_dimension, target.where_value)
                stored.setdefault(key, []).append(target)
        written: dict[tuple[str, str, str], list[Any]] = {}
        for target_spec in resolved.targets:
            written.setdefault(
                _target_key(target_spec.entry.from_, target_spec.entry.where), []
            ).append(target_spec)
        for key, entries in written.items():
            versions = stored.get(key, [])
            pairs = [(_decimal(entry.entry.value), entry.entry.reason or "") for entry in entries]
            kept = [(version.value, version.reason) for version in versions]
            if pairs[: len(kept)] == kept:
                new_entries = list(zip(entries, pairs, strict=True))[len(kept) :]
            elif kept[-1] != pairs[-1]:
                new_entries = [(entries[-1], pairs[-1])]
            else:
                new_entries = []
            previous = versions[-1].value if versions else None
            for target_spec, (value, reason) in new_entries:
                group = f" [{key[2]}]" if key[1] else ""
                detail = f"{key[0]}{group} = {_number(value)}"
                if previous is not None:
                    detail = f"{key[0]}{group}: {_number(previous)} → {_number(value)}"
                previous = value

                def add_target(
                    by: User | None,
                    kpi_key: str = spec.key,
                    target_spec: Any = target_spec,
                    key: tuple[str, str, str] = key,
                    value: Decimal = value,
                    reason: str = reason,
                ) -> None:
                    created = TargetVersion.objects.create(
                        kpi=Kpi.objects.get(key=kpi_key),
                        effective_from=key[0],
                        effective_start=target_spec.starts.start,
                        value=value,
                        where_dimension=key[1],
                        where_value=key[2],
                        reason=reason,
                        decided_by=by,
                        origin="setup",
                        origin_reference=f"workspace {workspace.path.name}",
                    )
                    audit_record(
                        actor=by,
                        action="target.create",
                        target=created,
                        after=snapshot(created),
                        reason=reason,
                    )

                plan.add(Change("+", f"target of {spec.key}", detail), add_target)
        for key in stored:
            if key not in written:
                plan.notes.append(
                    f"KPI {spec.key}: the target from {key[0]} is not in the file; target "
                    "versions are never removed (add a new one to change it)."
                )
    wanted_keys = {kpi.key for kpi in model.kpis}
    for kpi_key, kpi in existing.items():
        if kpi_key not in wanted_keys and kpi.is_active and kpi.entry == "formula":

            def retire_kpi(by: User | None, kpi: Kpi = kpi) -> None:
                current = Kpi.objects.select_for_update().get(pk=kpi.pk)
                before = snapshot(current)
                current.is_active = False
                current.version += 1
                current.save()
                audit_record(
                    actor=by,
                    action="kpi.retire",
                    target=current,
                    before=before,
                    after=snapshot(current),
                )

            plan.add(
                Change("-", "KPI", kpi_key, f"{kpi.name} (retired; its history is kept)"),
                retire_kpi,
            )


def apply_plan(plan: Plan, *, by: User | None) -> None:
    """Carries the plan out: all of it, or nothing."""
    with transaction.atomic():
        for step in plan.steps:
            step(by)
