"""Builders for the settings, apps and policies the newer payload, profile and ESP rules read.

Each starts from Microsoft's own example payload where the Graph docs publish one
(tests/graph_examples) and sets only what a test is about, so a test breaks one field of a
realistic object.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from tests.tenant_builder import JsonObject, include_group

EXAMPLES = Path(__file__).resolve().parent / "graph_examples"


def example(name: str) -> JsonObject:
    """A Microsoft Graph docs example, unwrapped from the doc generator's `value`/`response`."""
    document: JsonObject = json.loads((EXAMPLES / f"{name}.json").read_text(encoding="utf-8"))
    for key in ("response", "value"):
        inner = document.get(key)
        if isinstance(inner, dict):
            document = inner
    return copy.deepcopy(document)


def custom_oma_configuration(
    config_id: str, settings: list[JsonObject], assignments: list[JsonObject]
) -> JsonObject:
    """The v1.0 windows10CustomConfiguration example with the given OMA settings."""
    configuration = example("v1_windows10CustomConfiguration_create")
    configuration.update(
        id=config_id,
        displayName=f"Custom {config_id}",
        omaSettings=settings,
        assignments=assignments,
    )
    return configuration


def oma(uri: str, value: Any, kind: str = "omaSettingInteger", **fields: Any) -> JsonObject:
    return {
        "@odata.type": f"#microsoft.graph.{kind}",
        "displayName": uri.rsplit("/", 1)[1],
        "description": None,
        "omaUri": uri,
        "value": value,
        **fields,
    }


def legacy_configuration(
    config_id: str, odata_type: str, assignments: list[JsonObject], **fields: Any
) -> JsonObject:
    return {
        "@odata.type": f"#microsoft.graph.{odata_type}",
        "id": config_id,
        "displayName": f"{odata_type} {config_id}",
        "createdDateTime": "2024-01-12T08:00:00Z",
        "lastModifiedDateTime": "2024-01-12T08:00:00Z",
        "version": 1,
        "assignments": assignments,
        **fields,
    }


def catalog_setting(definition_id: str, value: Any, *, choice: bool = True) -> JsonObject:
    instance: JsonObject = {"settingDefinitionId": definition_id}
    if choice:
        instance["@odata.type"] = (
            "#microsoft.graph.deviceManagementConfigurationChoiceSettingInstance"
        )
        instance["choiceSettingValue"] = {"value": value, "children": []}
    else:
        instance["@odata.type"] = (
            "#microsoft.graph.deviceManagementConfigurationSimpleSettingInstance"
        )
        instance["simpleSettingValue"] = {
            "@odata.type": "#microsoft.graph.deviceManagementConfigurationStringSettingValue",
            "value": value,
        }
    return {"id": "0", "settingInstance": instance}


def catalog_policy(
    policy_id: str, settings: list[JsonObject] | None, assignments: list[JsonObject]
) -> JsonObject:
    return {
        "id": policy_id,
        "name": f"Catalog {policy_id}",
        "description": "",
        "platforms": "windows10",
        "technologies": "mdm",
        "settingCount": len(settings or ()),
        "createdDateTime": "2024-01-12T08:00:00Z",
        "lastModifiedDateTime": "2024-01-12T08:00:00Z",
        "templateReference": {"templateId": "", "templateFamily": "none"},
        "assignments": assignments,
        "settings": settings,
    }


def store_app(
    app_id: str, odata_type: str, assignments: list[JsonObject], **fields: Any
) -> JsonObject:
    return {
        "@odata.type": f"#microsoft.graph.{odata_type}",
        "id": app_id,
        "displayName": f"{odata_type} {app_id}",
        "publisher": "Contoso",
        "createdDateTime": "2024-02-01T08:00:00Z",
        "dependentAppCount": 0,
        "supersedingAppCount": 0,
        "supersededAppCount": 0,
        "assignments": assignments,
        "relationships": [],
        **fields,
    }


def required_with_context(group_id: str, *, device_context: bool) -> JsonObject:
    assignment = include_group(group_id, intent="required")
    assignment["settings"] = {
        "@odata.type": "#microsoft.graph.windowsUniversalAppXAppAssignmentSettings",
        "useDeviceContext": device_context,
    }
    return assignment


def conditional_access_policy(
    policy_id: str, controls: list[str], *, operator: str = "OR", state: str = "enabled"
) -> JsonObject:
    return {
        "id": policy_id,
        "displayName": f"CA {policy_id}",
        "state": state,
        "conditions": {
            "users": {"includeUsers": ["All"]},
            "applications": {"includeApplications": ["All"]},
        },
        "grantControls": {"operator": operator, "builtInControls": controls},
    }
