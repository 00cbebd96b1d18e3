"""Tenants for simulator tests: a tiny hand-made one, and one built from Graph's doc examples.

The doc examples (`tests/graph_examples/`, each with a `.source.txt` naming the Graph doc page)
are real payloads copied from the Graph documentation. Many GET examples wrap the entity in
`value` (a doc-generator artifact); `load_example` unwraps them.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any, Final

from rules.tenant_collections import (
    ASSIGNMENT_FILTERS,
    AUTOPILOT_DEVICES,
    AUTOPILOT_PROFILES,
    COMPLIANCE_POLICIES,
    CONDITIONAL_ACCESS_POLICIES,
    DEVICE_CONFIGURATIONS,
    DEVICE_REGISTRATION_POLICY,
    DEVICES,
    DOMAIN_JOIN_CONNECTORS,
    ENROLLMENT_CONFIGURATIONS,
    GROUPS,
    MDM_POLICIES,
    MOBILE_APPS,
    PLATFORM_SCRIPTS,
    SETTINGS_CATALOG_POLICIES,
)

REPOSITORY_ROOT: Final = Path(__file__).resolve().parents[2]
EXAMPLES_DIR: Final = REPOSITORY_ROOT / "tests" / "graph_examples"

TENANT_ID: Final = "8b1d1a5e-0000-4000-8000-000000000001"
DYNAMIC_GROUP: Final = "11111111-1111-1111-1111-111111111111"
ASSIGNED_GROUP: Final = "aaaaaaaa-aaaa-aaaa-aaaa-aaaaaaaaaaaa"
PAUSED_GROUP: Final = "22222222-2222-2222-2222-222222222222"
PROFILE: Final = "b0000000-0000-0000-0000-000000000001"
AUTOPILOT_DEVICE: Final = "c0000000-0000-0000-0000-000000000001"
UNPROFILED_AUTOPILOT_DEVICE: Final = "c0000000-0000-0000-0000-000000000002"
ESP: Final = "e0000000-0000-0000-0000-000000000001"
CUSTOM_CONFIGURATION: Final = "d0000000-0000-0000-0000-000000000001"
SETTINGS_POLICY: Final = "f0000000-0000-0000-0000-000000000001"
UNREAD_SETTINGS_POLICY: Final = "f0000000-0000-0000-0000-000000000002"
SCRIPT: Final = "50000000-0000-0000-0000-000000000001"
COMPLIANCE_POLICY: Final = "c1000000-0000-0000-0000-000000000001"
FILTER: Final = "f1000000-0000-0000-0000-000000000001"
CONNECTOR: Final = "c2000000-0000-0000-0000-000000000001"
WIN32_APP: Final = "a0000000-0000-0000-0000-000000000001"
MSI_APP: Final = "a0000000-0000-0000-0000-000000000002"
MDM_POLICY: Final = "0000000a-0000-0000-0000-0000000000aa"
ASSIGNED_MEMBER_COUNT: Final = 25  # more than the 20 that `$expand=members` returns
ZTD_DEVICE_COUNT: Final = 20  # devices d00..d19 carry a [ZTDId]; the rest only an [OrderID]


def device_id(n: int) -> str:
    return f"d0000000-0000-0000-0000-{n:012d}"


def _group_target(group_id: str) -> dict[str, Any]:
    return {
        "@odata.type": "#microsoft.graph.groupAssignmentTarget",
        "groupId": group_id,
        "deviceAndAppManagementAssignmentFilterId": None,
        "deviceAndAppManagementAssignmentFilterType": "none",
    }


def _assignment(assignment_id: str, group_id: str, **extra: Any) -> dict[str, Any]:
    return {"id": assignment_id, "target": _group_target(group_id), **extra}


def tiny_tenant() -> dict[str, Any]:
    """A small, complete tenant; every call returns a fresh copy."""
    devices = [
        {
            "id": device_id(n),
            "deviceId": f"e1000000-0000-0000-0000-{n:012d}",
            "displayName": f"PC-{n:02d}",
            "physicalIds": (
                [f"[ZTDId]:z{n:02d}", "[OrderID]:1798"]
                if n < ZTD_DEVICE_COUNT
                else ["[OrderID]:99"]
            ),
            "trustType": "AzureAd",
            "accountEnabled": True,
            "operatingSystem": "Windows",
            "createdDateTime": "2026-01-01T00:00:00Z",
        }
        for n in range(ASSIGNED_MEMBER_COUNT)
    ]
    profile_stub = {
        "@odata.type": "#microsoft.graph.azureADWindowsAutopilotDeploymentProfile",
        "id": PROFILE,
        "displayName": "Pre-provisioning",
    }
    collections: dict[str, list[dict[str, Any]]] = {
        AUTOPILOT_PROFILES: [
            {
                **profile_stub,
                "description": "White glove",
                "preprovisioningAllowed": True,
                "deviceNameTemplate": "PC-%RAND:5%",
                "assignments": [_assignment(f"{PROFILE}_{DYNAMIC_GROUP}", DYNAMIC_GROUP)],
            }
        ],
        AUTOPILOT_DEVICES: [
            {
                "@odata.type": "#microsoft.graph.windowsAutopilotDeviceIdentity",
                "id": AUTOPILOT_DEVICE,
                "serialNumber": "SN-0001",
                "groupTag": "1798",
                "displayName": "",
                "deploymentProfile": dict(profile_stub),
                "intendedDeploymentProfile": dict(profile_stub),
            },
            {
                "@odata.type": "#microsoft.graph.windowsAutopilotDeviceIdentity",
                "id": UNPROFILED_AUTOPILOT_DEVICE,
                "serialNumber": "SN-0002",
                "groupTag": "",
                "displayName": "",
                "deploymentProfile": None,
                "intendedDeploymentProfile": None,
            },
        ],
        ENROLLMENT_CONFIGURATIONS: [
            {
                "@odata.type": "#microsoft.graph.windows10EnrollmentCompletionPageConfiguration",
                "id": ESP,
                "displayName": "Autopilot ESP",
                "showInstallationProgress": True,
                "installProgressTimeoutInMinutes": 60,
                "assignments": [_assignment(f"{ESP}_{DYNAMIC_GROUP}", DYNAMIC_GROUP)],
            }
        ],
        DEVICE_CONFIGURATIONS: [
            {
                "@odata.type": "#microsoft.graph.windows10CustomConfiguration",
                "id": CUSTOM_CONFIGURATION,
                "displayName": "Disable User ESP",
                "omaSettings": [
                    {
                        "@odata.type": "#microsoft.graph.omaSettingBoolean",
                        "omaUri": "./Vendor/MSFT/DMClient/Provider/MS DM Server/FirstSyncStatus/"
                        "SkipUserStatusPage",
                        "value": True,
                    }
                ],
                "assignments": [
                    _assignment(f"{CUSTOM_CONFIGURATION}_{DYNAMIC_GROUP}", DYNAMIC_GROUP)
                ],
            }
        ],
        SETTINGS_CATALOG_POLICIES: [
            {
                "id": SETTINGS_POLICY,
                "name": "BitLocker",
                "platforms": "windows10",
                "technologies": "mdm",
                "settingCount": 2,
                "assignments": [_assignment(f"{SETTINGS_POLICY}_{DYNAMIC_GROUP}", DYNAMIC_GROUP)],
                "settings": [
                    {"id": "0", "settingInstance": {"settingDefinitionId": "a"}},
                    {"id": "1", "settingInstance": {"settingDefinitionId": "b"}},
                ],
            },
            {
                "id": UNREAD_SETTINGS_POLICY,
                "name": "Firewall",
                "platforms": "windows10",
                "technologies": "mdm",
                "settingCount": 4,
                "assignments": [],
            },
        ],
        PLATFORM_SCRIPTS: [
            {
                "@odata.type": "#microsoft.graph.deviceManagementScript",
                "id": SCRIPT,
                "displayName": "Set time zone",
                "runAsAccount": "system",
                "assignments": [_assignment(f"{SCRIPT}_{DYNAMIC_GROUP}", DYNAMIC_GROUP)],
            }
        ],
        COMPLIANCE_POLICIES: [
            {
                "@odata.type": "#microsoft.graph.windows10CompliancePolicy",
                "id": COMPLIANCE_POLICY,
                "displayName": "Windows baseline",
                "bitLockerEnabled": True,
                "assignments": [_assignment(f"{COMPLIANCE_POLICY}_{DYNAMIC_GROUP}", DYNAMIC_GROUP)],
                "scheduledActionsForRule": [
                    {
                        "id": "rule-1",
                        "ruleName": "PasswordRequired",
                        "scheduledActionConfigurations": [
                            {"id": "action-1", "actionType": "block", "gracePeriodHours": 0}
                        ],
                    }
                ],
            }
        ],
        ASSIGNMENT_FILTERS: [
            {
                "@odata.type": "#microsoft.graph.deviceAndAppManagementAssignmentFilter",
                "id": FILTER,
                "displayName": "Corporate devices",
                "platform": "windows10AndLater",
                "rule": '(device.deviceOwnership -eq "Corporate")',
            }
        ],
        DOMAIN_JOIN_CONNECTORS: [
            {
                "@odata.type": "#microsoft.graph.deviceManagementDomainJoinConnector",
                "id": CONNECTOR,
                "displayName": "CONNECTOR01",
                "state": "active",
                "version": "6.2501.2000.5",
                "lastConnectionDateTime": "2026-11-24T09:00:00Z",
            }
        ],
        MOBILE_APPS: [
            {
                "@odata.type": "#microsoft.graph.win32LobApp",
                "id": WIN32_APP,
                "displayName": "Company Portal helper",
                "installExperience": {"runAsAccount": "system", "deviceRestartBehavior": "allow"},
                "dependentAppCount": 1,
                "assignments": [
                    _assignment(f"{DYNAMIC_GROUP}_0_0", DYNAMIC_GROUP, intent="required")
                ],
                "relationships": [
                    {
                        "@odata.type": "#microsoft.graph.mobileAppDependency",
                        "id": f"{WIN32_APP}_{MSI_APP}",
                        "targetId": MSI_APP,
                        "dependencyType": "autoInstall",
                    }
                ],
            },
            {
                "@odata.type": "#microsoft.graph.windowsMobileMSI",
                "id": MSI_APP,
                "displayName": "Runtime",
                "assignments": [],
                "relationships": [],
            },
        ],
        GROUPS: [
            {
                "id": DYNAMIC_GROUP,
                "displayName": "Autopilot - All devices",
                "groupTypes": ["DynamicMembership"],
                "securityEnabled": True,
                "mailEnabled": False,
                "membershipRule": '(device.devicePhysicalIDs -any (_ -startsWith "[ZTDid]"))',
                "membershipRuleProcessingState": "On",
                "createdDateTime": "2026-01-01T00:00:00Z",
            },
            {
                "id": ASSIGNED_GROUP,
                "displayName": "Pilot devices",
                "groupTypes": [],
                "securityEnabled": True,
                "mailEnabled": False,
                "membershipRule": None,
                "membershipRuleProcessingState": None,
                "createdDateTime": "2026-01-01T00:00:00Z",
                "members": [
                    {"@odata.type": "#microsoft.graph.device", "id": device_id(n)}
                    for n in range(ASSIGNED_MEMBER_COUNT)
                ],
            },
            {
                "id": PAUSED_GROUP,
                "displayName": "Autopilot - GroupTag 1798",
                "groupTypes": ["DynamicMembership"],
                "securityEnabled": True,
                "mailEnabled": False,
                "membershipRule": '(device.devicePhysicalIds -any _ -eq "[OrderID]:1798")',
                "membershipRuleProcessingState": "Paused",
                "createdDateTime": "2026-01-01T00:00:00Z",
            },
        ],
        DEVICES: devices,
        MDM_POLICIES: [
            {
                "@odata.type": "#microsoft.graph.mobilityManagementPolicy",
                "id": MDM_POLICY,
                "displayName": "Microsoft Intune",
                "appliesTo": "selected",
                "includedGroups": [{"id": ASSIGNED_GROUP, "displayName": "Pilot devices"}],
            }
        ],
        DEVICE_REGISTRATION_POLICY: [
            {
                "id": "deviceRegistrationPolicy",
                "displayName": "Device Registration Policy",
                "userDeviceQuota": 50,
                "azureADJoin": {
                    "isAdminConfigurable": True,
                    "allowedToJoin": {
                        "@odata.type": "#microsoft.graph.allDeviceRegistrationMembership"
                    },
                },
            }
        ],
    }
    return {
        "format": "greenscreen.tenant-snapshot/1",
        "tenantId": TENANT_ID,
        "capturedAt": "2026-11-24T10:00:00Z",
        "collections": collections,
        "errors": {
            CONDITIONAL_ACCESS_POLICIES: {
                "status": 403,
                "message": "Insufficient privileges to complete the operation.",
            },
            f"{SETTINGS_CATALOG_POLICIES}/{UNREAD_SETTINGS_POLICY}/settings": {
                "status": 429,
                "message": "Too many requests.",
            },
        },
    }


def load_example(name: str) -> Any:
    """A doc example's payload: the response of request/response pairs, unwrapped from `value`
    when a single-entity GET was documented as `{"value": {...}}`."""
    data = json.loads((EXAMPLES_DIR / name).read_text(encoding="utf-8"))
    if isinstance(data, dict) and "response" in data and "request" in data:
        data = data["response"]
    if isinstance(data, dict) and isinstance(data.get("value"), dict) and len(data) == 1:
        data = data["value"]
    if isinstance(data, dict):
        data = {k: v for k, v in data.items() if k != "@odata.context"}
    return data


def _listed(name: str) -> list[dict[str, Any]]:
    data = json.loads((EXAMPLES_DIR / name).read_text(encoding="utf-8"))
    return list(data["value"])


# Collection, example file, and the id given to examples documented without one.
EXAMPLE_OBJECTS: Final[tuple[tuple[str, str, str | None], ...]] = (
    (MOBILE_APPS, "beta_win32LobApp_get_response.json", None),
    (AUTOPILOT_DEVICES, "beta_windowsAutopilotDeviceIdentity_get_response.json", None),
    (
        AUTOPILOT_PROFILES,
        "beta_activeDirectoryWindowsAutopilotDeploymentProfile_get_response.json",
        None,
    ),
    (
        ENROLLMENT_CONFIGURATIONS,
        "beta_windows10EnrollmentCompletionPageConfiguration_update_response.json",
        None,
    ),
    (PLATFORM_SCRIPTS, "beta_deviceManagementScript_get_response.json", None),
    (DEVICE_CONFIGURATIONS, "beta_windowsDomainJoinConfiguration_get_response.json", None),
    (
        DEVICE_CONFIGURATIONS,
        "synthetic_windows10CustomConfiguration_skipUserStatusPage.json",
        "d1000000-0000-0000-0000-00000000000c",
    ),
    (ASSIGNMENT_FILTERS, "beta_deviceAndAppManagementAssignmentFilter_get_response.json", None),
    (GROUPS, "synthetic_group_autopilot_grouptag_paused.json", None),
    (
        GROUPS,
        "synthetic_group_autopilot_dynamic_device_group.json",
        "11111111-1111-1111-1111-111111111111",
    ),
)
EXAMPLE_LISTS: Final[tuple[tuple[str, str], ...]] = (
    (DOMAIN_JOIN_CONNECTORS, "beta_deviceManagementDomainJoinConnector_list_response.json"),
    (MDM_POLICIES, "beta_mobileDeviceManagementPolicy_list_response.json"),
    (DEVICES, "synthetic_entra_device_autopilot_physicalIds.json"),
)


def example_object(name: str, object_id: str | None) -> dict[str, Any]:
    obj = load_example(name)
    return {"id": object_id, **obj} if object_id else obj


def examples_tenant() -> dict[str, Any]:
    """A tenant made of the doc examples, with the navigations the snapshot format inlines."""
    collections: dict[str, list[dict[str, Any]]] = {}
    for collection, name, object_id in EXAMPLE_OBJECTS:
        collections.setdefault(collection, []).append(
            copy.deepcopy(example_object(name, object_id))
        )
    for collection, name in EXAMPLE_LISTS:
        collections.setdefault(collection, []).extend(_listed(name))
    registration = load_example("v1_deviceRegistrationPolicy_get_response.json")
    collections[DEVICE_REGISTRATION_POLICY] = [registration]

    app = collections[MOBILE_APPS][0]
    app_assignment = load_example(
        "synthetic_beta_mobileAppAssignment_required_device_group_with_filter.json"
    )
    app["assignments"] = [{"id": f"{app['id']}_assignment", **app_assignment}]
    app["relationships"] = []
    profile = collections[AUTOPILOT_PROFILES][0]
    profile["assignments"] = [
        load_example("beta_windowsAutopilotDeploymentProfileAssignment_create.json")
    ]
    stub = {key: profile[key] for key in ("@odata.type", "id", "displayName")}
    identity = collections[AUTOPILOT_DEVICES][0]
    identity["deploymentProfile"] = dict(stub)
    identity["intendedDeploymentProfile"] = dict(stub)
    for collection in (ENROLLMENT_CONFIGURATIONS, PLATFORM_SCRIPTS):
        collections[collection][0]["assignments"] = []
    synthetic_assignments = load_example(
        "synthetic_deviceConfiguration_assign_to_autopilot_group.json"
    )["assignments"]
    for configuration in collections[DEVICE_CONFIGURATIONS]:
        configuration["assignments"] = [
            {"id": f"{configuration['id']}_{n}", **a} for n, a in enumerate(synthetic_assignments)
        ]
    return {
        "format": "greenscreen.tenant-snapshot/1",
        "tenantId": "84bd8158-6d4d-4958-8b9f-9d6445542f95",
        "capturedAt": "2026-11-24T10:00:00Z",
        "collections": collections,
        "errors": {},
    }


def example_audit_events() -> list[dict[str, Any]]:
    return _listed("v1_auditEvent_list_response.json")


def example_directory_audits() -> list[dict[str, Any]]:
    return _listed("v1_directoryAudit_list_response_addMemberToGroup.json")
