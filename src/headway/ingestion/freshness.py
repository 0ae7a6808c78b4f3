"""How old each dataset's data is, which KPIs that makes stale, and telling their owners.

A dataset's data is as fresh as its last successful import or sync (a sync that found
nothing new counts: it confirmed the data). A dataset with a freshness limit whose data
is older than the limit is stale, and so is every active KPI whose formula reads it.
"""

from __future__ import annotations

import datetime
import logging
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.db.models import OuterRef, Subquery
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from headway.accounts.models import Organization, User
from headway.audit.services import audit_record
from headway.engine.formula import FormulaError, measure_names, parse_formula
from headway.ingestion.models import ImportRun, ImportStatus, Source, StaleNotice
from headway.kpis.choices import EntryKind
from headway.kpis.models import Dataset, Kpi, Measure

logger = logging.getLogger("headway.ingestion")


@dataclass(frozen=True)
class Freshness:
    """When a dataset's data was last refreshed, from where, and whether it is too old."""

    dataset: str
    refreshed_at: datetime.datetime | None
    source: str
    limit_hours: int | None
    now: datetime.datetime

    @property
    def age(self) -> datetime.timedelta | None:
        return None if self.refreshed_at is None else self.now - self.refreshed_at

    @property
    def stale(self) -> bool:
        if self.limit_hours is None:
            return False
        age = self.age
        return age is None or age > datetime.timedelta(hours=self.limit_hours)

    @property
    def age_days(self) -> int | None:
        age = self.age
        return None if age is None else age.days


def dataset_freshness(
    datasets: list[Dataset] | None = None,
    now: datetime.datetime | None = None,
    keys: list[str] | None = None,
) -> dict[str, Freshness]:
    """The freshness of each dataset (those given, those of `keys`, or all), by key."""
    now = now or timezone.now()
    last = ImportRun.objects.filter(dataset=OuterRef("pk"), status=ImportStatus.SUCCEEDED).order_by(
        "-finished_at", "-pk"
    )
    query = Dataset.objects.all()
    if datasets is not None:
        query = query.filter(pk__in=[dataset.pk for dataset in datasets])
    if keys is not None:
        query = query.filter(key__in=keys)
    rows = query.annotate(
        last_at=Subquery(last.values("finished_at")[:1]),
        last_source=Subquery(last.values("source")[:1]),
        last_name=Subquery(last.values("file_name")[:1]),
    ).values("key", "file", "freshness_hours", "last_at", "last_source", "last_name")
    found = {}
    for row in rows:
        source = row["last_source"] or ""
        refreshed_at = row["last_at"]
        if source == "upload" and row["last_name"]:
            source = f"upload ({row['last_name']})"
        if refreshed_at is None:
            # Never imported: the data is the file a workspace named, as of its last change.
            path = Path(row["file"])
            if not path.is_absolute():
                path = Path(settings.HEADWAY_WAREHOUSE_DIR) / path
            try:
                refreshed_at = datetime.datetime.fromtimestamp(
                    path.stat().st_mtime, tz=datetime.UTC
                )
                source = f"file {path.name}"
            except OSError:
                pass
        found[row["key"]] = Freshness(
            dataset=row["key"],
            refreshed_at=refreshed_at,
            source=source,
            limit_hours=row["freshness_hours"],
            now=now,
        )
    return found


def kpi_datasets() -> dict[str, set[str]]:
    """The datasets each active formula KPI reads, by KPI key."""
    measure_datasets = dict(Measure.objects.values_list("name", "dataset__key"))
    reads: dict[str, set[str]] = {}
    kpis = Kpi.objects.filter(is_active=True, entry=EntryKind.FORMULA).exclude(formula="")
    for key, formula in kpis.values_list("key", "formula"):
        try:
            names = measure_names(parse_formula(formula))
        except FormulaError:
            continue
        reads[key] = {measure_datasets[name] for name in names if name in measure_datasets}
    return reads


def kpi_data_freshness(kpi: Kpi) -> list[Freshness]:
    """The freshness of each dataset a KPI's formula reads, by dataset key (two queries)."""
    if kpi.entry != EntryKind.FORMULA or not kpi.formula:
        return []
    try:
        names = measure_names(parse_formula(kpi.formula))
    except FormulaError:
        return []
    keys = sorted(
        set(Measure.objects.filter(name__in=names).values_list("dataset__key", flat=True))
    )
    found = dataset_freshness(keys=keys)
    return [found[key] for key in keys if key in found]


def stale_kpis(now: datetime.datetime | None = None) -> dict[str, list[Freshness]]:
    """The stale datasets of each KPI that reads at least one, by KPI key."""
    freshness = dataset_freshness(now=now)
    stale = {key: item for key, item in freshness.items() if item.stale}
    if not stale:
        return {}
    found: dict[str, list[Freshness]] = {}
    for kpi, datasets in kpi_datasets().items():
        late = [stale[name] for name in sorted(datasets) if name in stale]
        if late:
            found[kpi] = late
    return found


def _language(user: User) -> str:
    if user.language:
        return user.language
    organization = Organization.objects.first()
    return organization.language if organization else settings.LANGUAGE_CODE


def _message(user: User, item: Freshness, kpis: list[Kpi]) -> tuple[str, str]:
    with translation.override(_language(user)):
        if item.refreshed_at is None:
            age = _("no data has been imported yet")
        else:
            age = _("its data is %(days)s days old (last refreshed %(when)s from %(source)s)") % {
                "days": item.age_days,
                "when": timezone.localtime(item.refreshed_at).strftime("%Y-%m-%d %H:%M"),
                "source": item.source,
            }
        subject = _("Headway: the data of %(dataset)s is stale") % {"dataset": item.dataset}
        lines = [
            _("The dataset %(dataset)s should be refreshed every %(hours)s hours, but %(age)s.")
            % {"dataset": item.dataset, "hours": item.limit_hours, "age": age},
            "",
            _("These KPIs are marked stale until new data arrives:"),
            *[f"- {kpi.name} ({kpi.key})" for kpi in kpis],
        ]
        return subject, "\n".join(lines)


def notify_stale(now: datetime.datetime | None = None) -> int:
    """Tells the owners of the KPIs of each stale dataset (and whoever set up its source),
    once per refresh the data is stuck at; returns how many datasets were reported."""
    now = now or timezone.now()
    stale = [item for item in dataset_freshness(now=now).values() if item.stale]
    if not stale:
        return 0
    reads = kpi_datasets()
    reported = 0
    for item in stale:
        if StaleNotice.objects.filter(
            dataset__key=item.dataset, refreshed_at=item.refreshed_at
        ).exists():
            continue
        keys = sorted(key for key, datasets in reads.items() if item.dataset in datasets)
        kpis = list(Kpi.objects.filter(key__in=keys).select_related("owner"))
        people: dict[int, User] = {kpi.owner.pk: kpi.owner for kpi in kpis if kpi.owner is not None}
        source = (
            Source.objects.filter(dataset__key=item.dataset).select_related("created_by").first()
        )
        if source is not None and source.created_by is not None:
            people.setdefault(source.created_by.pk, source.created_by)
        recipients = [person for person in people.values() if person.email and person.is_active]
        dataset = Dataset.objects.get(key=item.dataset)
        try:
            with transaction.atomic():
                notice = StaleNotice.objects.create(
                    dataset=dataset,
                    refreshed_at=item.refreshed_at,
                    notified_at=now,
                    recipients=[person.email for person in recipients],
                )
                audit_record(
                    actor=None,
                    action="dataset.stale",
                    target=dataset,
                    after={
                        "refreshed_at": item.refreshed_at.isoformat()
                        if item.refreshed_at
                        else None,
                        "limit_hours": item.limit_hours,
                        "kpis": keys,
                        "told": notice.recipients,
                    },
                )
        except IntegrityError:
            continue  # another worker reported it at the same moment
        for person in recipients:
            subject, body = _message(
                person, item, [kpi for kpi in kpis if kpi.owner == person] or kpis
            )
            try:
                send_mail(subject, body, None, [person.email])
            except OSError:
                # The notice stands (it is on every page); the mail server is for the log.
                logger.exception(
                    "could not e-mail %s about stale dataset %s", person.email, item.dataset
                )
        reported += 1
    return reported
