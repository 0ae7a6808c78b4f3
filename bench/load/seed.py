"""Builds the load test's organisation in the app database that DATABASE_URL names.

    DATABASE_URL=sqlite:////tmp/load/headway.sqlite3 HEADWAY_DATA_DIR=/tmp/load \\
        uv run python bench/load/seed.py --password PASSWORD

20 teams (four divisions of four teams each, plus four teams of the company itself), one
admin, a manager and four members per team, 25 goals, four datasets with a Parquet table
each, 16 measures, 500 monthly KPIs with two target versions each, and 60 months of
Results up to the current month: the organisation's totals for every KPI and, for the 100
company-wide KPIs, one Result per team as well (as a recompute stores a team breakdown).

Rows go in with bulk_create: the audit log holds none of them, but every page reads them
as it reads recomputed ones. Values are made from a seeded random walk with growth and a
yearly season, so that statuses are a mix of green, amber and red; attainment and status
come from the engine's own functions, so they agree with the thresholds and targets.
The database must be empty of KPIs (the run makes a fresh one for every run).
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import os
import random
import sys
import time
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

TEAMS = 20
KPIS = 500
MONTHS = 60
# Every fifth KPI belongs to the company, not to a team, and is broken down by team.
COMPANY_EVERY = 5
DATASETS = {
    "sales": ["amount", "won", "deals"],
    "support": ["tickets", "solved", "minutes"],
    "marketing": ["spend", "leads", "visits"],
    "operations": ["orders", "late", "cost"],
}
# (formula, unit, direction, name): cycled over the 500 KPIs, so every page sees each kind.
FORMULAS = [
    ("sales_amount", "currency", "up", "Revenue"),
    ("sales_won / sales_deals", "percent", "up", "Win rate"),
    ("support_tickets", "count", "down", "Tickets"),
    ("support_minutes / support_solved", "number", "down", "Minutes per solved ticket"),
    ("marketing_leads", "count", "up", "Leads"),
    ("marketing_spend / marketing_leads", "currency", "down", "Cost per lead"),
    ("operations_orders", "count", "up", "Orders"),
    ("operations_late / operations_orders", "percent", "down", "Late orders"),
    ("sales_amount - operations_cost", "currency", "up", "Margin"),
    ("marketing_visits", "count", "up", "Visits"),
]


@dataclass(frozen=True)
class Seeded:
    teams: int
    people: int
    goals: int
    kpis: int
    targets: int
    results: int
    seconds: float
    admin: str
    members: list[str]
    managers: list[str]
    kpi_keys: list[str]
    team_keys: list[str]
    api_token: str


def setup(data_dir: Path) -> None:
    """Configures Django for the database DATABASE_URL names and migrates it."""
    os.environ["HEADWAY_DATA_DIR"] = str(data_dir.resolve())
    os.environ.setdefault("HEADWAY_MODE", "local")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "headway.site.settings")
    data_dir.mkdir(parents=True, exist_ok=True)
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0, interactive=False)


def _month_starts(months: int, today: datetime.date) -> list[datetime.date]:
    first = (today.year * 12 + today.month - 1) - (months - 1)
    return [datetime.date((first + i) // 12, (first + i) % 12 + 1, 1) for i in range(months)]


def _write_tables(warehouse: Path, team_keys: list[str], starts: list[datetime.date]) -> None:
    """One small Parquet table per dataset (a row per month and team), so that the data
    pages, freshness and "explain" find real files."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    warehouse.mkdir(parents=True, exist_ok=True)
    rng = random.Random(7)
    for dataset, columns in DATASETS.items():
        ids, times, teams = [], [], []
        values: dict[str, list[float]] = {column: [] for column in columns}
        for start in starts:
            for team in team_keys:
                ids.append(f"{start:%Y%m}-{team}")
                times.append(datetime.datetime.combine(start, datetime.time(12)))
                teams.append(team)
                for column in columns:
                    values[column].append(round(rng.uniform(10, 1000), 2))
        table = pa.table({"id": ids, "at": times, "team": teams, **values})
        pq.write_table(table, warehouse / f"{dataset}.parquet")


def seed(
    *,
    password: str,
    data_dir: Path,
    kpis: int = KPIS,
    teams: int = TEAMS,
    months: int = MONTHS,
    random_seed: int = 20260101,
) -> Seeded:
    from django.contrib.auth.hashers import make_password
    from django.db import transaction
    from django.utils import timezone

    from headway.accounts.models import Membership, Organization, Team, User
    from headway.accounts.services import token_create
    from headway.engine.compute import attainment_of, status_of
    from headway.engine.model import Direction
    from headway.goals.models import Goal
    from headway.ingestion.models import ImportRun, ImportStatus
    from headway.kpis.models import Dataset, Kpi, KpiGoal, Measure, TargetVersion
    from headway.lib.periods import Grain, Period
    from headway.results.models import Result

    began = time.perf_counter()
    if Kpi.objects.exists():
        raise SystemExit("seed: the database already holds KPIs; give it an empty one")
    rng = random.Random(random_seed)
    now = timezone.now()
    starts = _month_starts(months, now.date())
    labels = [Period(Grain.MONTH, start).label for start in starts]
    _write_tables(Path(data_dir) / "warehouse", [f"t{i + 1:02d}" for i in range(teams)], starts)

    with transaction.atomic():
        organization = Organization.current()
        organization.name = "Load Test Company"
        organization.save()
        # One hash for everyone: hashing 101 passwords one by one would take a minute.
        hashed = make_password(password)
        admin = User.objects.create(
            username="admin@load.test",
            email="admin@load.test",
            display_name="Ada Admin",
            role="admin",
            is_staff=True,
            password=hashed,
        )
        team_rows: list[Team] = []
        divisions = 4
        for i in range(teams):
            parent = team_rows[i % divisions] if divisions <= i < divisions * 4 else None
            team = Team.objects.create(key=f"t{i + 1:02d}", name=f"Team {i + 1:02d}", parent=parent)
            team_rows.append(team)
        people = []
        for team in team_rows:
            for j in range(5):
                email = f"{'manager' if j == 0 else f'member{j}'}.{team.key}@load.test"
                people.append(
                    User(
                        username=email,
                        email=email,
                        display_name=f"{'Manager' if j == 0 else f'Member {j}'} {team.name}",
                        role="manager" if j == 0 else "member",
                        password=hashed,
                    )
                )
        User.objects.bulk_create(people)
        by_email = {user.email: user for user in User.objects.all()}
        Membership.objects.bulk_create(
            [
                Membership(
                    user=by_email[f"{'manager' if j == 0 else f'member{j}'}.{team.key}@load.test"],
                    team=team,
                    is_manager=j == 0,
                )
                for team in team_rows
                for j in range(5)
            ]
        )
        managers = {team.pk: by_email[f"manager.{team.key}@load.test"] for team in team_rows}

        company = Goal.objects.create(
            key="grow", title="Grow profitably", horizon="long", owner=admin, position=0
        )
        division_goals = [
            Goal.objects.create(
                key=f"division-{d + 1}",
                title=f"Division {d + 1} delivers its plan",
                horizon="long",
                parent=company,
                owner=managers[team_rows[d].pk],
                team=team_rows[d],
                position=d + 1,
            )
            for d in range(divisions)
        ]
        team_goals = {}
        for i, team in enumerate(team_rows):
            team_goals[team.pk] = Goal.objects.create(
                key=f"goal-{team.key}",
                title=f"{team.name} meets its targets",
                horizon="short",
                parent=division_goals[i % divisions],
                owner=managers[team.pk],
                team=team,
                statement=f"Every KPI of {team.name} on track by the end of the year",
                position=10 + i,
            )

        for key in DATASETS:
            Dataset.objects.create(
                key=key,
                file=f"{key}.parquet",
                key_column="id",
                time_column="at",
                dimensions=["team"],
                freshness_hours=24 * 45,
            )
        datasets = {dataset.key: dataset for dataset in Dataset.objects.all()}
        Measure.objects.bulk_create(
            [
                Measure(
                    name=f"{key}_{column}",
                    dataset=datasets[key],
                    agg="sum" if column != "deals" else "count",
                    column=column if column != "deals" else "",
                )
                for key, columns in DATASETS.items()
                for column in columns
            ]
        )
        ImportRun.objects.bulk_create(
            [
                ImportRun(
                    dataset=dataset,
                    started_at=now,
                    finished_at=now,
                    status=ImportStatus.SUCCEEDED,
                    file_name=dataset.file,
                    sha256="0" * 64,
                    rows_in_file=months * teams,
                    added=months * teams,
                    by=admin,
                )
                for dataset in datasets.values()
            ]
        )

        kpi_rows = []
        for i in range(kpis):
            formula, unit, direction, name = FORMULAS[i % len(FORMULAS)]
            # The team KPIs go round the teams in turn, 20 for each.
            company_kpi = i % COMPANY_EVERY == 0
            team = None if company_kpi else team_rows[(i - i // COMPANY_EVERY - 1) % teams]
            kpi_rows.append(
                Kpi(
                    key=f"k{i + 1:03d}",
                    name=f"{name} {i + 1:03d}" + (f" ({team.name})" if team else ""),
                    description=f"Load-test KPI number {i + 1}.",
                    formula=formula,
                    unit=unit,
                    direction=direction,
                    grain="month",
                    team=team,
                    owner=managers[team.pk] if team else admin,
                    position=i,
                )
            )
        Kpi.objects.bulk_create(kpi_rows)
        kpi_rows = list(Kpi.objects.order_by("position"))
        links = []
        for i, kpi in enumerate(kpi_rows):
            if kpi.team_id is None:
                goal = company if i % 10 == 0 else division_goals[(i // COMPANY_EVERY) % divisions]
            else:
                goal = team_goals[kpi.team_id]
            links.append(KpiGoal(kpi=kpi, goal=goal))
        KpiGoal.objects.bulk_create(links)

        targets = []
        results = []
        change = months // 2
        for kpi in kpi_rows:
            base = rng.uniform(50, 5000) if kpi.unit != "percent" else rng.uniform(0.2, 0.6)
            growth = rng.uniform(-0.005, 0.02)
            first_target = base * rng.uniform(0.95, 1.1)
            second_target = first_target * rng.uniform(1.05, 1.3)
            up = kpi.direction == "up"
            for start_index, value, reason in (
                (0, first_target, "Set when the KPI was defined"),
                (change, second_target, "Raised at the mid-term review"),
            ):
                targets.append(
                    TargetVersion(
                        kpi=kpi,
                        effective_from=labels[start_index],
                        effective_start=starts[start_index],
                        value=Decimal(f"{value:.4f}"),
                        reason=reason,
                        decided_by=kpi.owner,
                    )
                )
            level = base
            split = [rng.uniform(0.5, 1.5) for _ in range(teams)]
            weights = [weight / sum(split) for weight in split]
            for m, (label, start) in enumerate(zip(labels, starts, strict=True)):
                level *= 1 + growth + rng.gauss(0, 0.03)
                season = 1 + 0.08 * math.sin(2 * math.pi * start.month / 12)
                value = level * season if up else level / season
                target = float(first_target if m < change else second_target)
                attainment = attainment_of(value, target, Direction(kpi.direction))
                status = status_of(
                    attainment, float(kpi.threshold_green), float(kpi.threshold_amber)
                )
                results.append(
                    Result(
                        kpi=kpi,
                        period=label,
                        period_start=start,
                        value=Decimal(f"{value:.6f}"),
                        target=Decimal(f"{target:.4f}"),
                        attainment=Decimal(f"{attainment:.6f}") if attainment is not None else None,
                        status=status.value,
                        measures={},
                        computed_at=now,
                        data_as_of=now,
                    )
                )
                if kpi.team_id is None:
                    # Ratios are not split: each team gets a value near the company's.
                    additive = kpi.unit in ("currency", "count") and "/" not in kpi.formula
                    for team, weight in zip(team_rows, weights, strict=True):
                        share = value * weight if additive else value * (0.7 + 0.6 * weight * 10)
                        results.append(
                            Result(
                                kpi=kpi,
                                period=label,
                                period_start=start,
                                group_dimension="team",
                                group_value=team.key,
                                value=Decimal(f"{share:.6f}"),
                                status="none",
                                measures={},
                                computed_at=now,
                                data_as_of=now,
                            )
                        )
        TargetVersion.objects.bulk_create(targets, batch_size=2000)
        Result.objects.bulk_create(results, batch_size=5000)

    _token, raw = token_create(by=admin, name="load test")
    team_keys = [team.key for team in team_rows]
    return Seeded(
        teams=len(team_rows),
        people=User.objects.count(),
        goals=Goal.objects.count(),
        kpis=len(kpi_rows),
        targets=len(targets),
        results=len(results),
        seconds=round(time.perf_counter() - began, 1),
        admin=admin.email,
        members=[f"member{j}.{key}@load.test" for key in team_keys for j in range(1, 5)],
        managers=[f"manager.{key}@load.test" for key in team_keys],
        kpi_keys=[kpi.key for kpi in kpi_rows],
        team_keys=team_keys,
        api_token=raw,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--password", required=True, help="everyone's password")
    parser.add_argument(
        "--data-dir", type=Path, default=Path(os.environ.get("HEADWAY_DATA_DIR", ".headway-load"))
    )
    parser.add_argument("--out", type=Path, help="write what was seeded (logins, keys) as JSON")
    parser.add_argument("--kpis", type=int, default=KPIS)
    parser.add_argument("--months", type=int, default=MONTHS)
    args = parser.parse_args(argv)
    if "DATABASE_URL" not in os.environ:
        print("seed: set DATABASE_URL to the database to fill", file=sys.stderr)
        return 2
    setup(args.data_dir)
    seeded = seed(
        password=args.password, data_dir=args.data_dir, kpis=args.kpis, months=args.months
    )
    print(
        f"seeded {seeded.kpis} KPIs, {seeded.results} results, {seeded.targets} target "
        f"versions, {seeded.teams} teams, {seeded.people} people in {seeded.seconds} s"
    )
    if args.out:
        args.out.write_text(json.dumps(seeded.__dict__, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
