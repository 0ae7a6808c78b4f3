"""The kinds of source Headway can sync from, one folder each, found through `KINDS`.

A kind is registered here by name; the app's Source model stores that name, and the sync
service, the forms and the docs find the kind through `kind_named`. Adding a kind is adding
its folder and one line below.
"""

from __future__ import annotations

from headway.ingestion.sources.base import SourceKind

KINDS: dict[str, SourceKind] = {}


def register(kind: SourceKind) -> SourceKind:
    if kind.name in KINDS:
        raise ValueError(f"two source kinds are named {kind.name!r}")
    KINDS[kind.name] = kind
    return kind


def kind_named(name: str) -> SourceKind:
    """The kind of that name; KeyError names the kinds there are."""
    try:
        return KINDS[name]
    except KeyError:
        raise KeyError(
            f"no source kind is named {name!r}; there are {', '.join(sorted(KINDS))}"
        ) from None


# The kinds, one line each (imported here, after `register`, which they do not use).
from headway.ingestion.sources.hubspot import HubSpotKind  # noqa: E402
from headway.ingestion.sources.pipedrive import PipedriveKind  # noqa: E402
from headway.ingestion.sources.rest import RestKind  # noqa: E402
from headway.ingestion.sources.salesforce import SalesforceKind  # noqa: E402
from headway.ingestion.sources.sql import SqlKind  # noqa: E402

register(HubSpotKind())
register(SalesforceKind())
register(PipedriveKind())
register(RestKind())
register(SqlKind())
