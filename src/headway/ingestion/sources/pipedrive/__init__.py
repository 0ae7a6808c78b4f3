"""Pipedrive (persons, deals) as a source: see `kind` and docs/sources.md."""

from __future__ import annotations

from headway.ingestion.sources.pipedrive.kind import (
    PipedriveConfig,
    PipedriveKind,
    PipedriveSecrets,
)

__all__ = ["PipedriveConfig", "PipedriveKind", "PipedriveSecrets"]
