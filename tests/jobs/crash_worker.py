"""A worker in a process of its own, for the crash tests (test_worker_crash.py).

    python -m tests.jobs.crash_worker setup FOLDER   an organisation, a source, a queued sync
    python -m tests.jobs.crash_worker work FOLDER    one worker round, then a report

With HEADWAY_FAULT_AT=N the worker's sync ends the process (os._exit(9), as a kill would)
at the N-th step of its import; N=0 lets it finish. HEADWAY_LEASE is the lease in seconds.
The report is JSON on stdout: the jobs, the import history and the source's cursor.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

FAULT_EXIT = 9


def main() -> None:
    mode, folder = sys.argv[1], Path(sys.argv[2])
    os.environ["HEADWAY_DATA_DIR"] = str(folder)
    os.environ["DATABASE_URL"] = f"sqlite:///{folder / 'app.sqlite3'}"
    os.environ["DJANGO_SETTINGS_MODULE"] = "headway.site.settings"
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    from headway.ingestion import services, sources
    from headway.ingestion.models import ImportRun, Source
    from headway.ingestion.syncs import source_create, source_sync_request
    from headway.jobs.models import Job
    from headway.jobs.worker import Worker
    from headway.kpis.models import Dataset
    from tests.ingestion.test_syncs import DEALS, ListedRows

    settings.HEADWAY_WAREHOUSE_DIR = folder / "warehouse"
    sources.KINDS["test-rows"] = ListedRows()
    if mode == "setup":
        from headway.engine.workspace import load_workspace
        from headway.kpis.workspace_io import apply_plan, plan_apply
        from tests.app.conftest import write_workspace

        call_command("migrate", verbosity=0, interactive=False)
        apply_plan(plan_apply(load_workspace(write_workspace(folder))), by=None)
        source = source_create(
            dataset=Dataset.objects.get(key="deals"),
            kind="test-rows",
            name="Test CRM",
            config={"rows": DEALS},
            secrets={"token": "good"},
            every_minutes=None,
            by=None,
        )
        source_sync_request(source=source, by=None)
        return

    fault_at = int(os.environ.get("HEADWAY_FAULT_AT", "0"))
    steps: list[str] = []

    def hook(name: str) -> None:
        steps.append(name)
        if len(steps) == fault_at:
            os._exit(FAULT_EXIT)

    services.fault_hook = hook
    worker = Worker(name=f"worker-{os.getpid()}", lease_seconds=int(os.environ["HEADWAY_LEASE"]))
    worker.run(until_idle=True)
    source = Source.objects.get()
    print(
        json.dumps(
            {
                "jobs": [
                    {"kind": job.kind, "status": job.status, "attempts": job.attempts}
                    for job in Job.objects.order_by("pk")
                ],
                "runs": [
                    {"status": run.status, "added": run.added, "source": run.source}
                    for run in ImportRun.objects.order_by("pk")
                ],
                "cursor": source.cursor,
                "steps": len(steps),
            }
        )
    )


if __name__ == "__main__":
    main()
