"""The OpenAPI schema and the interactive docs page, served wholly by Headway."""

from __future__ import annotations

import json
from html.parser import HTMLParser

import pytest
from django.test import Client

PATHS = {
    "/api/v1/me": {"get"},
    "/api/v1/teams": {"get", "post"},
    "/api/v1/teams/{key}": {"get", "patch"},
    "/api/v1/goals": {"get", "post"},
    "/api/v1/goals/{key}": {"get", "patch"},
    "/api/v1/kpis": {"get", "post"},
    "/api/v1/kpis/{key}": {"get", "patch"},
    "/api/v1/kpis/{key}/targets": {"get", "post"},
    "/api/v1/kpis/{key}/results": {"get"},
    "/api/v1/kpis/{key}/targets/{target_id}": {"get"},
    "/api/v1/kpis/{key}/results/{period}": {"get"},
    "/api/v1/kpis/{key}/values": {"get", "post"},
    "/api/v1/kpis/{key}/values/{entry_id}/decision": {"post"},
    "/api/v1/datasets": {"get"},
    "/api/v1/datasets/{key}": {"get"},
    "/api/v1/datasets/{key}/imports": {"get"},
    "/api/v1/datasets/{key}/rows": {"post"},
    "/api/v1/datasets/{key}/files": {"post"},
    "/api/v1/datasets/{key}/source": {"get"},
    "/api/v1/datasets/{key}/sync": {"post"},
}


def test_the_openapi_schema_is_openapi_3_1_with_every_path() -> None:
    response = Client().get("/api/v1/openapi.json")
    assert response.status_code == 200
    schema = json.loads(response.content)
    assert schema["openapi"].startswith("3.1")
    assert schema["info"]["title"] == "Headway API"
    assert {path: set(item) for path, item in schema["paths"].items()} == PATHS
    operation_ids = [
        operation["operationId"] for item in schema["paths"].values() for operation in item.values()
    ]
    assert len(operation_ids) == len(set(operation_ids))
    schemes = schema["components"]["securitySchemes"]
    assert {scheme["type"] for scheme in schemes.values()} == {"http", "apiKey"}


def test_every_reference_in_the_schema_resolves() -> None:
    schema = json.loads(Client().get("/api/v1/openapi.json").content)
    text = json.dumps(schema)
    components = schema["components"]["schemas"]
    for name in {part.split('"')[0] for part in text.split('"$ref": "#/components/schemas/')[1:]}:
        assert name in components, name


def test_the_schema_documents_decimals_as_strings_and_errors_per_operation() -> None:
    schema = json.loads(Client().get("/api/v1/openapi.json").content)
    target = schema["components"]["schemas"]["TargetOut"]["properties"]["value"]
    assert (target["type"], target["format"]) == ("string", "decimal")
    patch = schema["paths"]["/api/v1/kpis/{key}"]["patch"]
    assert {"200", "401", "403", "404", "409", "422", "428"} <= set(patch["responses"])
    assert "If-Match" in [parameter["name"] for parameter in patch["parameters"]]


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "script" and found.get("src"):
            self.urls.append(found["src"] or "")
        if tag == "link" and found.get("href"):
            self.urls.append(found["href"] or "")


@pytest.mark.django_db
def test_the_docs_page_loads_its_scripts_and_styles_from_headway_itself() -> None:
    client = Client()
    response = client.get("/api/v1/docs")
    assert response.status_code == 200
    page = response.content.decode()
    assert "http://" not in page
    assert "https://" not in page
    links = _Links()
    links.feed(page)
    assert len(links.urls) >= 3
    for url in links.urls:
        assert url.startswith("/api/v1/docs/assets/"), url
        asset = client.get(url)
        assert asset.status_code == 200, url
        assert b"".join(asset.streaming_content)  # type: ignore[attr-defined]


@pytest.mark.django_db
def test_the_docs_assets_are_only_swagger_uis_own_files() -> None:
    client = Client()
    assert client.get("/api/v1/docs/assets/swagger-ui-bundle.js").status_code == 200
    assert client.get("/api/v1/docs/assets/__init__.py").status_code == 404
    assert client.get("/api/v1/docs/assets/..%2F__init__.py").status_code == 404
