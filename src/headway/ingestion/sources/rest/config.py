"""The configuration and the secrets of a REST/JSON source, validated field by field."""

from __future__ import annotations

import re
from typing import Annotated, Final, Literal, Self

from pydantic import AfterValidator, Field, SecretStr, StringConstraints, model_validator

from headway.ingestion.sources.base import KindConfig
from headway.ingestion.sources.rest.common import (
    BaseUrl,
    ColumnName,
    FieldPath,
    Secret,
    check_unique_columns,
)

__all__ = [
    "ApiKeyAuth",
    "BasicAuth",
    "BearerAuth",
    "CursorPaging",
    "Incremental",
    "LinkHeaderPaging",
    "NextUrlPaging",
    "NoAuth",
    "NoPaging",
    "OffsetPaging",
    "PageNumberPaging",
    "RestConfig",
    "RestSecrets",
]

ParamName = Annotated[
    str, StringConstraints(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_.:\[\]$-]+$")
]
"""A query parameter's name (`page`, `updated_since`, `page[number]`)."""

HeaderName = Annotated[
    str, StringConstraints(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9!#$%&'*+.^_`|~-]+$")
]
_CONTROL: Final = re.compile(r"[\x00-\x1f\x7f]")


def _plain_text(value: str) -> str:
    if _CONTROL.search(value):
        raise ValueError("cannot hold control characters (line breaks, tabs)")
    return value


PlainText = Annotated[str, StringConstraints(max_length=2000), AfterValidator(_plain_text)]


def _path(value: str) -> str:
    value = value.strip()
    if not value:
        return ""
    if not value.startswith("/") or value.startswith("//"):
        raise ValueError("the path starts with one / (like /v1/items)")
    if any(character in value for character in "?# ") or _CONTROL.search(value):
        raise ValueError("query parameters go in params; no spaces, ? or # in the path")
    return value


UrlPath = Annotated[str, StringConstraints(max_length=2000), AfterValidator(_path)]

# Credentials belong in the secrets; the rest are set by the HTTP client itself.
_REFUSED_HEADERS: Final = frozenset(
    {
        "authorization",
        "proxy-authorization",
        "cookie",
        "host",
        "content-length",
        "transfer-encoding",
    }
)


# --- paging -----------------------------------------------------------------------------


class NoPaging(KindConfig):
    """One request answers everything."""

    style: Literal["none"] = "none"


class PageNumberPaging(KindConfig):
    """`?page=1`, `?page=2`, ... until a page comes back empty."""

    style: Literal["page_number"]
    param: ParamName = "page"
    first: int = Field(default=1, ge=0)
    # Optional page size sent along (`per_page=100`).
    size_param: ParamName | None = None
    size: int | None = Field(default=None, ge=1, le=10_000)

    @model_validator(mode="after")
    def _size_comes_with_its_param(self) -> Self:
        if (self.size_param is None) != (self.size is None):
            raise ValueError("size_param and size go together")
        return self


class OffsetPaging(KindConfig):
    """`?offset=0&limit=100`, `?offset=100&limit=100`, ... until a page comes back empty."""

    style: Literal["offset"]
    offset_param: ParamName = "offset"
    limit_param: ParamName = "limit"
    limit: int = Field(default=100, ge=1, le=10_000)


class CursorPaging(KindConfig):
    """The answer holds a token for the next page (`meta.next_cursor`), sent back as a
    parameter (`?cursor=...`); an answer without one is the last page."""

    style: Literal["cursor"]
    cursor_path: FieldPath
    param: ParamName = "cursor"


class LinkHeaderPaging(KindConfig):
    """The `Link: <...>; rel="next"` header (RFC 8288) names the next page."""

    style: Literal["link_header"]


class NextUrlPaging(KindConfig):
    """A field of the answer (`links.next`, `@odata.nextLink`) holds the next page's URL."""

    style: Literal["next_url"]
    next_url_path: FieldPath


Paging = Annotated[
    NoPaging | PageNumberPaging | OffsetPaging | CursorPaging | LinkHeaderPaging | NextUrlPaging,
    Field(discriminator="style"),
]


class Incremental(KindConfig):
    """Later syncs ask only for records changed since the last one: the latest value of
    `field` among the records is kept and sent as the parameter `param`."""

    field: FieldPath
    param: ParamName


# --- the configuration ------------------------------------------------------------------


class RestConfig(KindConfig):
    """Where the records are, how to page through them, which of their fields to keep."""

    base_url: BaseUrl
    path: UrlPath = ""
    params: dict[ParamName, PlainText] = Field(default_factory=dict, max_length=50)
    headers: dict[HeaderName, PlainText] = Field(default_factory=dict, max_length=50)
    # Dot path to the list of records in the answer; "" when the answer is the list.
    records_path: Literal[""] | FieldPath = ""
    paging: Paging = Field(default_factory=NoPaging)
    incremental: Incremental | None = None
    # Record field (dot path) -> column; empty: every field, nested objects flattened.
    fields: dict[FieldPath, ColumnName] = Field(default_factory=dict, max_length=500)
    # Joins the names of nested fields into a column name: customer.address.city.
    separator: Literal[".", "_", "__"] = "."
    # A guard against an API that never says "last page".
    max_pages: int = Field(default=10_000, ge=1, le=1_000_000)

    @model_validator(mode="after")
    def _names_do_not_clash(self) -> Self:
        for name in self.headers:
            if name.lower() in _REFUSED_HEADERS:
                raise ValueError(
                    f"the {name} header cannot be set here (credentials go in the secrets)"
                )
        paging = self.paging
        owned: list[str] = []
        if isinstance(paging, PageNumberPaging):
            owned = [paging.param] + ([paging.size_param] if paging.size_param else [])
        elif isinstance(paging, OffsetPaging):
            owned = [paging.offset_param, paging.limit_param]
        elif isinstance(paging, CursorPaging):
            owned = [paging.param]
        if self.incremental is not None:
            owned.append(self.incremental.param)
        for name in owned:
            if name in self.params or owned.count(name) > 1:
                raise ValueError(
                    f"the parameter {name!r} is set twice (params, paging, incremental)"
                )
        check_unique_columns(list(self.fields.values()))
        return self


# --- the secrets ------------------------------------------------------------------------


class NoAuth(KindConfig):
    type: Literal["none"] = "none"


class BearerAuth(KindConfig):
    """`Authorization: Bearer <token>`."""

    type: Literal["bearer"]
    token: Secret


class ApiKeyAuth(KindConfig):
    """A key in a header (`X-API-Key: <key>`) or a query parameter (`?api_key=<key>`)."""

    type: Literal["api_key"]
    name: Annotated[
        str,
        StringConstraints(
            min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_.:\[\]$!#%&'*+^`|~-]+$"
        ),
    ]
    value: Secret
    location: Literal["header", "query"] = "header"

    @model_validator(mode="after")
    def _name_is_not_reserved(self) -> Self:
        reserved = _REFUSED_HEADERS - {"authorization", "proxy-authorization", "cookie"}
        if self.location == "header" and self.name.lower() in reserved:
            raise ValueError(f"the {self.name} header is set by the HTTP client")
        return self


class BasicAuth(KindConfig):
    """HTTP basic authentication (RFC 7617)."""

    type: Literal["basic"]
    username: Annotated[
        str, StringConstraints(min_length=1, max_length=500, pattern=r"^[^:\x00-\x1f\x7f]+$")
    ]
    password: SecretStr


Auth = Annotated[NoAuth | BearerAuth | ApiKeyAuth | BasicAuth, Field(discriminator="type")]


class RestSecrets(KindConfig):
    """How the API knows Headway: stored encrypted, never shown again."""

    auth: Auth = Field(default_factory=NoAuth)
