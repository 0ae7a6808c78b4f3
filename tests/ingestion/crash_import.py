"""An import in a process of its own, for the fault tests (test_faults.py).

    python -m tests.ingestion.crash_import setup FOLDER    an organisation and a first import
    python -m tests.ingestion.crash_import import FOLDER   imports new.csv, then reports

With HEADWAY_FAULT_AT=N the import ends the process (os._exit(9), as a kill would: no
clean-up, no rollback by Python) at its N-th step. The report is JSON on stdout: the
steps the import went through and the dataset's import history.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

FAULT_EXIT = 9


def _django(folder: Path) -> None:
    os.environ["HEADWAY_DATA_DIR"] = str(folder)
    os.environ["DATABASE_URL"] = f"sqlite:///{folder / 'app.sqlite3'}"
    os.environ["DJANGO_SETTINGS_MODULE"] = "headway.site.settings"
    import django

    django.setup()


def main() -> None:
    mode, folder = sys.argv[1], Path(sys.argv[2])
    _django(folder)
    from django.core.management import call_command

    from headway.ingestion import services
    from headway.ingestion.models import ImportRun
    from headway.kpis.models import Dataset

    if mode == "setup":
        from headway.engine.workspace import load_workspace
        from headway.kpis.workspace_io import apply_plan, plan_apply
        from tests.app.conftest import write_workspace

        call_command("migrate", verbosity=0, interactive=False)
        apply_plan(plan_apply(load_workspace(write_workspace(folder))), by=None)
        run = services.import_file(
            dataset=Dataset.objects.get(key="deals"), path=folder / "old.csv", by=None
        )
        assert run.status == "succeeded", run.error
        return

    steps: list[str] = []
    fault_at = int(os.environ.get("HEADWAY_FAULT_AT", "0"))

    def hook(name: str) -> None:
        steps.append(name)
        if len(steps) == fault_at:
            os._exit(FAULT_EXIT)

    services.fault_hook = hook
    run = services.import_file(
        dataset=Dataset.objects.get(key="deals"), path=folder / "new.csv", by=None
    )
    history = [
        {"status": item.status, "added": item.added, "updated": item.updated}
        for item in ImportRun.objects.order_by("pk")
    ]
    print(json.dumps({"status": run.status, "error": run.error, "steps": steps, "runs": history}))


if __name__ == "__main__":
    main()
