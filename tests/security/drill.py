"""An installation in a process of its own, for the restore drill (test_backup_restore.py).

    python -m tests.security.drill setup     the organisation of tests/app, both datasets
                                             imported, a source with credentials, results
    python -m tests.security.drill older     a fresh database one migration behind
    python -m tests.security.drill verify    what a restored installation can do, as JSON

The installation is the one HEADWAY_DATA_DIR and DATABASE_URL name (the caller sets them).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

TOKEN = "s3cret-token"


def _django() -> None:
    os.environ["DJANGO_SETTINGS_MODULE"] = "headway.site.settings"
    import django

    django.setup()


def _test_kind() -> None:
    from headway.ingestion import sources
    from tests.ingestion.test_syncs import ListedRows

    sources.KINDS["test-rows"] = ListedRows()


def setup(folder: Path) -> None:
    from django.core.management import call_command

    from headway.ingestion.services import import_file
    from headway.ingestion.syncs import source_create
    from headway.kpis.models import Dataset
    from headway.results.services import results_recompute
    from tests.app.conftest import DEALS, LEADS, build_organisation

    call_command("migrate", verbosity=0, interactive=False)
    organisation = build_organisation(folder)
    for key, text in (("leads", LEADS), ("deals", DEALS)):
        path = folder / f"import-{key}.csv"
        path.write_text(text, encoding="utf-8")
        run = import_file(dataset=Dataset.objects.get(key=key), path=path, by=organisation.admin)
        assert run.status == "succeeded", run.error
    # A source whose credentials are encrypted with the key in the data folder.
    source_create(
        dataset=Dataset.objects.get(key="deals"),
        kind="test-rows",
        name="Test CRM",
        config={"rows": []},
        secrets={"token": TOKEN},
        every_minutes=None,
        by=organisation.admin,
    )
    summary = results_recompute(by=organisation.admin)
    assert summary.results > 0


def older() -> None:
    """A fresh installation whose database lacks the newest migration of results."""
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)
    call_command("migrate", "results", "0003", verbosity=0, interactive=False)


def verify() -> dict[str, object]:
    """The restored installation at work: credentials readable, datasets read from the
    warehouse here, the engine's results the same as the stored ones."""
    from django.conf import settings

    from headway.ingestion.credentials import decrypt_secrets
    from headway.ingestion.models import Source
    from headway.kpis.models import Dataset
    from headway.results.models import Result
    from headway.results.services import results_recompute

    warehouse = Path(settings.HEADWAY_WAREHOUSE_DIR).resolve()
    stored = sorted(
        (r.kpi.key, r.period, r.group_dimension, r.group_value, str(r.value), r.status)
        for r in Result.objects.select_related("kpi")
    )
    results_recompute(by=None)
    fresh = sorted(
        (r.kpi.key, r.period, r.group_dimension, r.group_value, str(r.value), r.status)
        for r in Result.objects.select_related("kpi")
    )
    return {
        "token": decrypt_secrets(Source.objects.get().secrets).get("token"),
        "datasets_in_warehouse": sorted(
            dataset.key
            for dataset in Dataset.objects.all()
            if Path(dataset.file).is_relative_to(warehouse) and Path(dataset.file).is_file()
        ),
        "results": len(stored),
        "recomputed_the_same": stored == fresh,
    }


def main() -> None:
    mode = sys.argv[1]
    _django()
    _test_kind()
    if mode == "setup":
        setup(Path(sys.argv[2]))
    elif mode == "older":
        older()
    elif mode == "verify":
        print(json.dumps(verify()))
    else:
        raise SystemExit(f"unknown mode {mode!r}")


if __name__ == "__main__":
    main()
