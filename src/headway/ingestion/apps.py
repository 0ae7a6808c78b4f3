from __future__ import annotations

from django.apps import AppConfig


class IngestionConfig(AppConfig):
    name = "headway.ingestion"
    label = "ingestion"
    verbose_name = "Ingestion"
