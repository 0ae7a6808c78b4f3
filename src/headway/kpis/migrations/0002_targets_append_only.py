from __future__ import annotations

from django.db import migrations

from headway.audit.triggers import drop_append_only, make_append_only


class Migration(migrations.Migration):
    dependencies = [("kpis", "0001_initial")]

    operations = [
        migrations.RunPython(
            make_append_only("kpis_targetversion", ("UPDATE",)),
            drop_append_only("kpis_targetversion", ("UPDATE",)),
        )
    ]
