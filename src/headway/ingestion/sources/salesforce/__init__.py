"""Salesforce (Lead, Opportunity, any sObject) as a source: see `kind` and docs/sources.md."""

from __future__ import annotations

from headway.ingestion.sources.salesforce.kind import (
    SalesforceConfig,
    SalesforceKind,
    SalesforceSecrets,
    soql,
)

__all__ = ["SalesforceConfig", "SalesforceKind", "SalesforceSecrets", "soql"]
