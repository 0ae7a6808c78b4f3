"""OpenAPI links: how the answer of one operation gives the input of the next.

A created team, goal or KPI answers with its key and an ETag, which read it and change it
(`If-Match`); a KPI's key leads to its targets, results and values; the first item of a
list leads to that item. Generated clients and tools that follow links (Schemathesis'
stateful tests among them) chain the operations this way instead of guessing keys.
"""

from __future__ import annotations

from typing import Any

_KEY = "$response.body#/key"
_FIRST_KEY = "$response.body#/items/0/key"
_PATH_KEY = "$request.path.key"
_ETAG = "$response.header.ETag"


def _to(operation_id: str, description: str, **parameters: str) -> dict[str, Any]:
    return {"operationId": operation_id, "description": description, "parameters": parameters}


def _object_links(kind: str, key: str) -> dict[str, dict[str, Any]]:
    """Read the object and change it, given where its key is."""
    label = "KPI" if kind == "kpi" else kind
    return {
        f"Read{kind.title()}": _to(f"{kind}s_read", f"Read this {label}", key=key),
        f"Change{kind.title()}": _to(
            f"{kind}s_update",
            f"Change this {label}, from the version just read",
            **{"key": key, "header.If-Match": _ETAG},
        ),
    }


def _kpi_parts(key: str) -> dict[str, dict[str, Any]]:
    return {
        "ListTargets": _to("targets_list", "The KPI's target versions", key=key),
        "AddTarget": _to("targets_create", "Add a target version to the KPI", key=key),
        "ListResults": _to("results_list", "The KPI's results", key=key),
        "ListValues": _to("manual_values_list", "The KPI's values entered by hand", key=key),
        "EnterValues": _to("manual_values_create", "Enter values of the KPI", key=key),
    }


def _dataset_parts(key: str) -> dict[str, dict[str, Any]]:
    return {
        "ListImports": _to("datasets_imports", "The dataset's imports", key=key),
        "PushRows": _to("datasets_push", "Push rows into the dataset", key=key),
        "ReadSource": _to("datasets_source", "The dataset's source", key=key),
        "Sync": _to("datasets_sync", "Sync the dataset's source now", key=key),
    }


def _decide(entry_id: str) -> dict[str, dict[str, Any]]:
    return {
        "Decide": _to(
            "manual_values_decide",
            "Approve or reject the entry",
            key=_PATH_KEY,
            entry_id=entry_id,
        )
    }


# operationId -> status code -> link name -> link.
LINKS: dict[str, dict[str, dict[str, dict[str, Any]]]] = {
    "teams_list": {"200": {"ReadTeam": _to("teams_read", "Read the first team", key=_FIRST_KEY)}},
    "teams_create": {"201": _object_links("team", _KEY)},
    "teams_read": {"200": _object_links("team", _KEY)},
    "teams_update": {"200": _object_links("team", _KEY)},
    "goals_list": {"200": {"ReadGoal": _to("goals_read", "Read the first goal", key=_FIRST_KEY)}},
    "goals_create": {"201": _object_links("goal", _KEY)},
    "goals_read": {"200": _object_links("goal", _KEY)},
    "goals_update": {"200": _object_links("goal", _KEY)},
    "kpis_list": {"200": {"ReadKpi": _to("kpis_read", "Read the first KPI", key=_FIRST_KEY)}},
    "kpis_create": {"201": {**_object_links("kpi", _KEY), **_kpi_parts(_KEY)}},
    "kpis_read": {"200": {**_object_links("kpi", _KEY), **_kpi_parts(_KEY)}},
    "kpis_update": {"200": {**_object_links("kpi", _KEY), **_kpi_parts(_KEY)}},
    "targets_list": {
        "200": {
            "ReadTarget": _to(
                "targets_read",
                "Read the first target version",
                key=_PATH_KEY,
                target_id="$response.body#/items/0/id",
            )
        }
    },
    "targets_create": {
        "201": {
            "ReadTarget": _to(
                "targets_read",
                "Read the new target version",
                key=_PATH_KEY,
                target_id="$response.body#/id",
            )
        }
    },
    "results_list": {
        "200": {
            "ReadResult": _to(
                "results_read",
                "Read the first result",
                key=_PATH_KEY,
                period="$response.body#/items/0/period",
            )
        }
    },
    "manual_values_list": {"200": _decide("$response.body#/items/0/id")},
    "manual_values_create": {
        "200": _decide("$response.body#/items/0/id"),
        "201": _decide("$response.body#/items/0/id"),
    },
    "datasets_list": {
        "200": {"ReadDataset": _to("datasets_read", "Read the first dataset", key=_FIRST_KEY)}
    },
    "datasets_read": {"200": _dataset_parts(_KEY)},
    "datasets_push": {"200": _dataset_parts(_PATH_KEY)},
    "datasets_import_file": {"200": _dataset_parts(_PATH_KEY)},
}


def add_links(schema: dict[str, Any]) -> dict[str, Any]:
    """Adds LINKS to the responses of the OpenAPI schema, in place; returns it."""
    for item in schema.get("paths", {}).values():
        for operation in item.values():
            links = LINKS.get(operation.get("operationId", ""), {})
            # ninja keys the responses by number; JSON by text.
            for status, response in operation.get("responses", {}).items():
                if str(status) in links:
                    response["links"] = links[str(status)]
    return schema
