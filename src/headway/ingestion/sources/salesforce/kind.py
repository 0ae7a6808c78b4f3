"""Salesforce records (Lead, Opportunity or any sObject) through the REST query API.

Authentication is OAuth 2.0 against `{login_url}/services/oauth2/token` with a connected
app: the refresh-token flow when a refresh token is saved, else the client-credentials
flow (which needs the org's My Domain URL as login URL and a run-as user on the app). The
token answer names the `instance_url` that the queries then go to.

The query is built here from validated names only (letters, digits, underscores, dots
for relationship fields), never from text a person typed as SOQL:

    SELECT Id, <fields>, SystemModstamp FROM <object>
    [WHERE SystemModstamp > <cursor>] ORDER BY SystemModstamp ASC

and its pages are followed through `nextRecordsUrl` until `done`. A session that expired
(401 INVALID_SESSION_ID) is renewed once per request.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Mapping
from typing import Annotated, Any, ClassVar, Final, Self
from urllib.parse import urlencode, urlsplit

from pydantic import Field, SecretStr, StringConstraints, model_validator

from headway.ingestion.sources.base import (
    FetchContext,
    KindConfig,
    RowSink,
    SourceError,
    SourceKind,
    request_with_backoff,
)
from headway.ingestion.sources.rest.common import (
    BaseUrl,
    ColumnName,
    Identifier,
    Secret,
    check_unique_columns,
    excerpt,
    http_url,
    load_model,
    parse_instant,
    read_json,
)
from headway.lib.http import Response

SYSTEM: Final = "Salesforce"
DEFAULT_LOGIN_URL: Final = "https://login.salesforce.com"

# How far before the start of a sync its cursor stays at most (see `fetch`), with room for
# this machine's clock running a little ahead of Salesforce's.
CLOCK_MARGIN: Final = datetime.timedelta(minutes=1)

FieldName = Annotated[
    str,
    StringConstraints(
        min_length=1, max_length=255, pattern=r"^[A-Za-z][A-Za-z0-9_]*(\.[A-Za-z][A-Za-z0-9_]*)*$"
    ),
]
"""A field's API name (`Status`, `Amount__c`), or a relationship path (`Owner.Email`)."""


class SalesforceConfig(KindConfig):
    """Where to log in, which object, which fields into which columns."""

    login_url: BaseUrl = DEFAULT_LOGIN_URL
    object: Identifier
    # Salesforce field (API name) -> dataset column.
    fields: dict[FieldName, ColumnName] = Field(default_factory=dict, max_length=500)
    id_column: ColumnName = "id"
    updated_column: ColumnName = "updated_at"
    # The field the cursor follows; SystemModstamp also moves on system changes.
    updated_field: Identifier = "SystemModstamp"
    api_version: Annotated[str, StringConstraints(pattern=r"^[1-9][0-9]{1,2}\.0$")] = "60.0"
    page_size: int = Field(default=2000, ge=200, le=2000)

    @model_validator(mode="after")
    def _columns_are_unique(self) -> Self:
        check_unique_columns([self.id_column, *self.fields.values(), self.updated_column])
        return self


class SalesforceSecrets(KindConfig):
    """A connected app's consumer key and secret, and a refresh token unless the app uses
    the client-credentials flow."""

    client_id: Secret
    client_secret: Secret
    refresh_token: SecretStr | None = None


def soql(config: SalesforceConfig, since: datetime.datetime | None) -> str:
    """The query, from validated names only. The cursor is cut to whole seconds (a few
    records may come twice, none is missed)."""
    names: dict[str, str] = {}
    for name in ["Id", *config.fields, config.updated_field]:
        names.setdefault(name.lower(), name)  # SOQL refuses a field selected twice
    # Every name matched an identifier pattern and the timestamp is formatted here.
    query = f"SELECT {', '.join(names.values())} FROM {config.object}"  # noqa: S608
    if since is not None:
        stamp = since.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        query += f" WHERE {config.updated_field} > {stamp}"
    return f"{query} ORDER BY {config.updated_field} ASC"


def _field(record: Mapping[str, Any], path: str) -> Any:
    """A field of a record by API name, case-insensitively (Salesforce answers with the
    field's own spelling), following relationship paths; None where a step is null."""
    value: Any = record
    for step in path.split("."):
        if not isinstance(value, Mapping):
            return None
        key = step if step in value else next((k for k in value if k.lower() == step.lower()), None)
        if key is None:
            return None
        value = value[key]
    return _without_attributes(value)


def _without_attributes(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            key: _without_attributes(item) for key, item in value.items() if key != "attributes"
        }
    if isinstance(value, list):
        return [_without_attributes(item) for item in value]
    return value


def _errors(response: Response) -> list[tuple[str, str]]:
    """(errorCode, message) pairs of a Salesforce error answer ([{message, errorCode}])."""
    try:
        body = response.json()
    except ValueError:
        return []
    items = body if isinstance(body, list) else [body]
    return [
        (str(item.get("errorCode", "")), str(item.get("message", "")))
        for item in items
        if isinstance(item, dict)
    ]


class _Session:
    """One fetch: the token, the instance, the queries and what their errors mean."""

    def __init__(
        self, config: SalesforceConfig, secrets: SalesforceSecrets, context: FetchContext
    ) -> None:
        self.config = config
        self.secrets = secrets
        self.context = context
        self.token: str | None = None
        self.instance_url = ""

    def authenticate(self) -> None:
        secrets = self.secrets
        form = {
            "client_id": secrets.client_id.get_secret_value(),
            "client_secret": secrets.client_secret.get_secret_value(),
        }
        if secrets.refresh_token is not None:
            form |= {
                "grant_type": "refresh_token",
                "refresh_token": secrets.refresh_token.get_secret_value(),
            }
        else:
            form["grant_type"] = "client_credentials"
        response = request_with_backoff(
            self.context,
            SYSTEM,
            "POST",
            f"{self.config.login_url}/services/oauth2/token",
            headers={
                "Content-Type": "application/x-www-form-urlencoded",
                "Accept": "application/json",
            },
            data=urlencode(form).encode(),
        )
        name = self.context.source_name
        if response.status != 200:
            raise self._token_error(response)
        body = read_json(response, self.context, SYSTEM)
        token = body.get("access_token") if isinstance(body, dict) else None
        instance = body.get("instance_url") if isinstance(body, dict) else None
        if not isinstance(token, str) or not token or not isinstance(instance, str):
            raise SourceError(
                f"{name}: Salesforce's token answer has no access_token and instance_url; "
                f"check the login URL ({self.config.login_url})"
            )
        try:
            instance = http_url(instance)
        except ValueError as error:
            raise SourceError(
                f"{name}: Salesforce named an instance URL that cannot be used: {error}"
            ) from None
        if urlsplit(self.config.login_url).scheme == "https" and not instance.startswith(
            "https://"
        ):
            raise SourceError(f"{name}: Salesforce named an instance URL that is not https")
        self.token, self.instance_url = token, instance

    def _token_error(self, response: Response) -> SourceError:
        name = self.context.source_name
        try:
            body = response.json()
        except ValueError:
            body = {}
        body = body if isinstance(body, dict) else {}
        code = str(body.get("error", ""))
        description = str(body.get("error_description", "")) or excerpt(response)
        if code == "invalid_grant":
            return SourceError(
                f"{name}: Salesforce refused the credentials (invalid_grant: {description}); "
                "the refresh token may be revoked or expired, or the connected app has no "
                "run-as user for the client-credentials flow. Authorise again and save the "
                "new credentials"
            )
        if code in ("invalid_client_id", "invalid_client", "unauthorized_client"):
            return SourceError(
                f"{name}: Salesforce refused the connected app ({code}: {description}); "
                "check the consumer key and secret"
            )
        if code == "unsupported_grant_type":
            return SourceError(
                f"{name}: Salesforce refused the sign-in flow ({description}); for the "
                "client-credentials flow use the org's My Domain URL as login URL and enable "
                "the flow on the connected app"
            )
        return SourceError(
            f"{name}: Salesforce refused to sign in (HTTP {response.status}"
            f"{': ' + code if code else ''}: {description})"
        )

    def get(self, path: str, params: Mapping[str, str] | None = None) -> Any:
        """GET a path of the instance, renewing an expired session once."""
        if self.token is None:
            self.authenticate()
        renewed = False
        while True:
            response = request_with_backoff(
                self.context,
                SYSTEM,
                "GET",
                self.instance_url + path,
                headers={
                    "Authorization": f"Bearer {self.token}",
                    "Accept": "application/json",
                    "Sforce-Query-Options": f"batchSize={self.config.page_size}",
                },
                params=params,
            )
            if response.status == 200:
                return read_json(response, self.context, SYSTEM)
            if response.status == 401 and not renewed:
                renewed = True
                self.authenticate()
                continue
            raise self._query_error(response)

    def _query_error(self, response: Response) -> SourceError:
        name, config = self.context.source_name, self.config
        errors = _errors(response)
        codes = {code for code, _ in errors}
        message = "; ".join(" ".join(text.split()) for _, text in errors) or excerpt(response)
        if response.status == 401:
            return SourceError(
                f"{name}: Salesforce refused the session even after signing in again "
                f"({message}); check the connected app's policies"
            )
        if "INVALID_FIELD" in codes:
            found = re.search(r"No such column '([^']+)'", message)
            field = found.group(1) if found else None
            what = f"no field {field}" if field else "a field the mapping names missing"
            return SourceError(
                f"{name}: Salesforce has {what} on {config.object} (renamed or deleted in "
                "Salesforce, or hidden from the integration user?); fix the source's field "
                f"mapping. Salesforce said: {message}"
            )
        if "INVALID_TYPE" in codes:
            return SourceError(
                f"{name}: Salesforce has no object {config.object} that this user can read "
                f"({message})"
            )
        if "REQUEST_LIMIT_EXCEEDED" in codes:
            return SourceError(
                f"{name}: Salesforce's API request limit for the org is used up "
                f"(REQUEST_LIMIT_EXCEEDED: {message}); the next sync will try again",
                retry=True,
            )
        if response.status == 403:
            return SourceError(f"{name}: Salesforce refused access ({message})")
        if response.status == 404:
            return SourceError(
                f"{name}: Salesforce answered 404 Not Found ({message}); check the API "
                f"version ({config.api_version})"
            )
        code = ", ".join(sorted(code for code in codes if code)) or f"HTTP {response.status}"
        return SourceError(
            f"{name}: Salesforce refused the query ({code}: {message})",
            retry=response.status >= 500,
        )


class SalesforceKind(SourceKind):
    name = "salesforce"
    label = "Salesforce"
    description = (
        "Leads, opportunities or any other Salesforce object, with the fields you choose; "
        "later syncs fetch only what changed."
    )
    config_model: ClassVar[type[KindConfig]] = SalesforceConfig
    secrets_model: ClassVar[type[KindConfig]] = SalesforceSecrets
    incremental = True

    def fetch(
        self,
        config: Mapping[str, Any],
        secrets: Mapping[str, Any],
        cursor: str | None,
        sink: RowSink,
        context: FetchContext,
    ) -> str | None:
        settings = load_model(SalesforceConfig, config, context, "Salesforce configuration")
        credentials = load_model(SalesforceSecrets, secrets, context, "Salesforce credentials")
        session = _Session(settings, credentials, context)
        started = context.now()
        prefix = f"/services/data/v{settings.api_version}/"
        page = session.get(f"{prefix}query", {"q": soql(settings, parse_instant(cursor))})
        latest: tuple[datetime.datetime, str] | None = None
        while True:
            records = page.get("records") if isinstance(page, dict) else None
            if not isinstance(records, list):
                raise SourceError(
                    f"{context.source_name}: Salesforce's answer has no records; check the "
                    "login URL"
                )
            for record in records:
                if not isinstance(record, dict):
                    continue
                row: dict[str, object] = {settings.id_column: _field(record, "Id")}
                for field, column in settings.fields.items():
                    row[column] = _field(record, field)
                updated = _field(record, settings.updated_field)
                row[settings.updated_column] = updated
                sink.write(row)
                instant = parse_instant(updated)
                if instant is not None and (latest is None or instant > latest[0]):
                    latest = (instant, str(updated))
            following = page.get("nextRecordsUrl")
            if page.get("done", True) or not following:
                break
            if (
                not isinstance(following, str)
                or not following.startswith(prefix)
                or ("//" in following)
            ):
                raise SourceError(
                    f"{context.source_name}: Salesforce gave a next-page address outside "
                    "its query API; the sync stopped"
                )
            page = session.get(following)
        if latest is None:
            return cursor
        # The batches of one query hold the records' values when each batch is read, so a
        # record of an early batch changed during the sync could fall behind a cursor set
        # by a later one: the cursor stays a margin before the start of the sync.
        ceiling = started - CLOCK_MARGIN
        if latest[0] > ceiling:
            return ceiling.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.000+0000")
        return latest[1]
