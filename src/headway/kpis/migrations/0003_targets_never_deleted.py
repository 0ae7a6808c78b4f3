from __future__ import annotations

from django.db import migrations

from headway.audit.triggers import drop_append_only, make_append_only


class Migration(migrations.Migration):
    """Target versions are never deleted either, not only never updated."""

    dependencies = [("kpis", "0002_targets_append_only")]

    operations = [
        migrations.RunPython(
            make_append_only("kpis_targetversion", ("DELETE",)),
            drop_append_only("kpis_targetversion", ("DELETE",)),
        )
    ]
