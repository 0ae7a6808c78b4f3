"""HubSpot CRM (contacts, deals) as a source: see `kind` and docs/sources.md."""

from __future__ import annotations

from headway.ingestion.sources.hubspot.kind import HubSpotConfig, HubSpotKind, HubSpotSecrets

__all__ = ["HubSpotConfig", "HubSpotKind", "HubSpotSecrets"]
