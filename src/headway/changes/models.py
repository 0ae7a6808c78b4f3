"""One row per generation: `data` (everything a page shows) and `auth` (sessions and
people, which a signed-in request reads before anything else)."""

from __future__ import annotations

from django.db import models


class Generation(models.Model):
    name = models.CharField(max_length=20, primary_key=True)
    value = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.name} {self.value}"
