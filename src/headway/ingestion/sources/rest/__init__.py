"""Any HTTP API that answers JSON as a source: the generic REST kind.

A REST source names a base URL and a path, optional query parameters and headers, where
the list of records sits in the answer (a dot path like `data.items`, or nothing when the
answer is the list), how to reach the next page (none, page number, offset and limit, a
cursor from the answer, the RFC 8288 `Link: rel="next"` header, or a next-page URL in the
answer), and optionally which record field is the cursor of incremental syncs and which
request parameter carries it. Credentials (bearer token, API key in a header or the
query, HTTP basic) live in the secrets model, stored encrypted.

Records become rows as they are: nested objects are flattened into columns named by
their path (`customer.address.city`; the separator can be `_` or `__` instead), lists stay
one column of JSON text, and a field that appears in a later record becomes a new column
(the import then reports the schema drift). With `fields` set, only the named paths are
kept, each into its column.

Why not dlt's `rest_api` source, which does much of this: it sends its requests with its
own HTTP stack (requests), which would bypass `headway.lib.http.SafeHttpClient` and with
it the vetting of every address against server-side request forgery (private networks,
the metadata service, redirects to either); and it brings a large tree of dependencies
for what is here a few hundred lines. Every request of this kind goes through
`request_with_backoff(context, ...)`, so through `context.http`, the one vetted client.

`common` holds what the HTTP kinds share (the CRM kinds use it too).
"""

from __future__ import annotations

from headway.ingestion.sources.rest.config import RestConfig, RestSecrets
from headway.ingestion.sources.rest.kind import RestKind, flatten, next_link

__all__ = ["RestConfig", "RestKind", "RestSecrets", "flatten", "next_link"]
