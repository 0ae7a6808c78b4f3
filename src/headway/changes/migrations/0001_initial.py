from __future__ import annotations

from typing import Any

from django.db import migrations, models


def create_rows(apps: Any, schema_editor: Any) -> None:
    generation = apps.get_model("changes", "Generation")
    for name in ("data", "auth"):
        generation.objects.get_or_create(name=name)


class Migration(migrations.Migration):
    initial = True

    operations = [
        migrations.CreateModel(
            name="Generation",
            fields=[
                ("name", models.CharField(max_length=20, primary_key=True, serialize=False)),
                ("value", models.BigIntegerField(default=0)),
            ],
        ),
        migrations.RunPython(create_rows, migrations.RunPython.noop),
    ]
