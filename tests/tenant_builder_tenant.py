"""Builders for the tenant-wide objects of the enrollment, group, hybrid and network entries.

Each starts from a Microsoft Graph documentation example, as tests/tenant_builder.py does for
the healthy tenant, and changes one field per test.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any, Final

from tests.tenant_builder import TenantBuilder

JsonObject = dict[str, Any]

EXAMPLES = Path(__file__).resolve().parent / "graph_examples"

INTUNE_ENROLLMENT_APP: Final = "d4ebce55-015a-49b5-a083-c84d1797ae8c"
INTUNE_APP: Final = "0000000a-0000-0000-c000-000000000000"
CA_POLICY_ID: Final = "c98e6c3d-f6ca-42ea-a927-773b6f12a0c2"

# microsoftgraph/microsoft-graph-docs-contrib,
# api-reference/v1.0/api/conditionalaccessroot-post-policies.md @02b4cba0, Example 2
# "Block access to Exchange Online from non-trusted regions", response body (201 Created),
# verbatim apart from the @odata.context line.
_CA_BLOCK_EXAMPLE: Final[JsonObject] = {
    "id": "c98e6c3d-f6ca-42ea-a927-773b6f12a0c2",
    "displayName": "Block access to EXO non-trusted regions.",
    "createdDateTime": "2019-10-14T19:53:11.3705634Z",
    "modifiedDateTime": None,
    "state": "enabled",
    "sessionControls": None,
    "conditions": {
        "signInRiskLevels": [],
        "clientAppTypes": ["all"],
        "platforms": None,
        "applications": {
            "includeApplications": ["00000002-0000-0ff1-ce00-000000000000"],
            "excludeApplications": [],
            "includeUserActions": [],
        },
        "users": {
            "includeUsers": [],
            "excludeUsers": [],
            "includeGroups": ["ba8e7ded-8b0f-4836-ba06-8ff1ecc5c8ba"],
            "excludeGroups": [],
            "includeRoles": [],
            "excludeRoles": [],
        },
        "locations": {
            "includeLocations": ["198ad66e-87b3-4157-85a3-8a7b51794ee9"],
            "excludeLocations": [],
        },
    },
    "grantControls": {
        "operator": "OR",
        "builtInControls": ["block"],
        "customAuthenticationFactors": [],
        "termsOfUse": [],
    },
}


def example(name: str) -> Any:
    return json.loads((EXAMPLES / f"{name}.json").read_text(encoding="utf-8"))


def ca_block_policy(**changes: Any) -> JsonObject:
    """Microsoft's block example; `changes` replace top-level keys or, with a dotted name,
    keys of `conditions` (`applications`, `users`, `locations`, ...)."""
    policy = copy.deepcopy(_CA_BLOCK_EXAMPLE)
    for key, value in changes.items():
        if key in policy:
            policy[key] = value
        else:
            policy["conditions"][key] = value
    return policy


def block_all_apps_all_users(**changes: Any) -> JsonObject:
    """The case named by the catalog: block all cloud apps, all users, no exclusions."""
    fields: JsonObject = {
        "displayName": "Block everything",
        "applications": {
            "includeApplications": ["All"],
            "excludeApplications": [],
            "includeUserActions": [],
        },
        "users": {
            "includeUsers": ["All"],
            "excludeUsers": [],
            "includeGroups": [],
            "excludeGroups": [],
            "includeRoles": [],
            "excludeRoles": [],
        },
        "locations": None,
    }
    fields.update(changes)
    return ca_block_policy(**fields)


def registration_policy(**changes: Any) -> JsonObject:
    """Microsoft's deviceRegistrationPolicy GET example with `changes` applied."""
    policy: JsonObject = example("v1_deviceRegistrationPolicy_get_response")
    policy.pop("@odata.context", None)
    policy.update(changes)
    return policy


def join_allowed(odata_type: str, **members: list[str]) -> JsonObject:
    return {
        "isAdminConfigurable": True,
        "allowedToJoin": {"@odata.type": f"#microsoft.graph.{odata_type}", **members},
    }


def with_registration_policy(tenant: TenantBuilder, policy: JsonObject) -> TenantBuilder:
    tenant.objects("policies/deviceRegistrationPolicy")[:] = [policy]
    return tenant
