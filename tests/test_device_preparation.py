"""PRF-013: Windows Autopilot device preparation policies cannot pre-provision."""

from __future__ import annotations

from typing import Any

from rules.checks.profiles_and_esp import (
    prf_013_no_device_preparation_for_preprovisioning as prf_013,
)
from rules.context import RuleContext
from rules.engine import Rule, run_rule
from rules.findings import Finding, Severity, Status
from rules.tenant_collections import SETTINGS_CATALOG_POLICIES
from tests.tenant_builder import (
    AP_GROUP_ID,
    DEVICE_A_ID,
    DEVICE_B_ID,
    SETTINGS_POLICY_ID,
    USER_GROUP_ID,
    TenantBuilder,
    healthy_tenant,
    include_group,
)

POLICY_ID = "dpp-contoso"
GRAPH: str = "#microsoft.graph.deviceManagementConfiguration"
DEVICE_GROUP_ID = "grp-dpp-devices"


def device_preparation_policy(
    *, assignments: list[dict[str, Any]], device_group: str | None = DEVICE_GROUP_ID
) -> dict[str, Any]:
    """The shape Graph returns on deviceManagement/configurationPolicies (beta)."""
    settings: list[dict[str, Any]] = [
        {
            "id": "0",
            "settingInstance": {
                "@odata.type": GRAPH + "ChoiceSettingInstance",
                "settingDefinitionId": "enrollment_autopilot_dpp_deploymentmode",
                "choiceSettingValue": {
                    "value": "enrollment_autopilot_dpp_deploymentmode_0",
                    "children": [],
                },
            },
        }
    ]
    if device_group is not None:
        settings.append(
            {
                "id": "1",
                "settingInstance": {
                    "@odata.type": GRAPH + "SimpleSettingInstance",
                    "settingDefinitionId": "enrollment_autopilot_dpp_devicegroup",
                    "simpleSettingValue": {
                        "@odata.type": GRAPH + "StringSettingValue",
                        "value": device_group,
                    },
                },
            }
        )
    return {
        "@odata.type": "#microsoft.graph.deviceManagementConfigurationPolicy",
        "id": POLICY_ID,
        "name": "Contoso device preparation",
        "description": "",
        "platforms": "windows10",
        "technologies": "enrollment",
        "createdDateTime": "2024-06-01T08:00:00Z",
        "lastModifiedDateTime": "2024-06-01T08:00:00Z",
        "settingCount": len(settings),
        "roleScopeTagIds": ["0"],
        "isAssigned": bool(assignments),
        "templateReference": {
            "templateId": "80d33118-b7b4-40d8-b15f-81be745e053f_1",
            "templateFamily": "enrollmentConfiguration",
            "templateDisplayName": "Windows Autopilot device preparation",
            "templateDisplayVersion": "Version 1",
        },
        "assignments": assignments,
        "settings": settings,
    }


def findings(tenant: TenantBuilder) -> list[Finding]:
    return run_rule(Rule.from_module(prf_013), RuleContext.for_snapshot(tenant.snapshot()))


def test_healthy_tenant_has_no_device_preparation_policy_and_passes() -> None:
    found = findings(healthy_tenant())

    assert {(f.subject.type, f.status) for f in found} == {("tenant", Status.PASS)}


def test_the_plain_settings_catalog_policy_is_not_device_preparation() -> None:
    snapshot = healthy_tenant().snapshot()
    policy = next(p for p in snapshot.settings_catalog_policies or () if p.id == SETTINGS_POLICY_ID)

    assert prf_013.is_device_preparation(policy) is False


def test_assigned_device_preparation_policy_names_its_groups() -> None:
    tenant = healthy_tenant().add(
        SETTINGS_CATALOG_POLICIES,
        device_preparation_policy(assignments=[include_group(USER_GROUP_ID)]),
    )

    found = findings(tenant)

    assert {(f.subject.id, f.status, f.severity) for f in found} == {
        (POLICY_ID, Status.FAIL, Severity.WARNING)
    }
    assert {r.id for r in found[0].related} == {USER_GROUP_ID, DEVICE_GROUP_ID}
    assert "does not support pre-provisioned deployment" in found[0].reasons[0]


def test_device_preparation_reaching_registered_autopilot_devices_names_them() -> None:
    tenant = healthy_tenant().add(
        SETTINGS_CATALOG_POLICIES,
        device_preparation_policy(
            assignments=[include_group(USER_GROUP_ID)], device_group=AP_GROUP_ID
        ),
    )

    found = findings(tenant)

    assert {(f.subject.id, f.status, f.devices) for f in found} == {
        (POLICY_ID, Status.FAIL, (DEVICE_A_ID, DEVICE_B_ID))
    }


def test_unassigned_device_preparation_policy_deploys_nothing() -> None:
    tenant = healthy_tenant().add(
        SETTINGS_CATALOG_POLICIES, device_preparation_policy(assignments=[])
    )

    assert {(f.subject.id, f.status) for f in findings(tenant)} == {(POLICY_ID, Status.PASS)}


def test_unreadable_assignments_are_unknown_and_unreadable_policies_too() -> None:
    unread = (
        healthy_tenant()
        .add(SETTINGS_CATALOG_POLICIES, device_preparation_policy(assignments=[]))
        .navigation_unreadable(SETTINGS_CATALOG_POLICIES, POLICY_ID, "assignments")
    )
    assert {(f.subject.id, f.status) for f in findings(unread)} == {(POLICY_ID, Status.UNKNOWN)}

    collection = healthy_tenant().unreadable(SETTINGS_CATALOG_POLICIES)
    assert {f.status for f in findings(collection)} == {Status.UNKNOWN}


def test_unread_settings_still_report_the_assigned_groups() -> None:
    tenant = (
        healthy_tenant()
        .add(
            SETTINGS_CATALOG_POLICIES,
            device_preparation_policy(assignments=[include_group(USER_GROUP_ID)]),
        )
        .navigation_unreadable(SETTINGS_CATALOG_POLICIES, POLICY_ID, "settings")
    )

    found = findings(tenant)

    assert {(f.subject.id, f.status) for f in found} == {(POLICY_ID, Status.FAIL)}
    assert any("device group is not known" in reason for reason in found[0].reasons)


def test_a_policy_flattened_by_an_export_is_still_recognised() -> None:
    flattened = device_preparation_policy(assignments=[include_group(USER_GROUP_ID)])
    del flattened["templateReference"]
    flattened["templateFamily"] = "enrollmentConfiguration"
    tenant = healthy_tenant().add(SETTINGS_CATALOG_POLICIES, flattened)

    assert {(f.subject.id, f.status) for f in findings(tenant)} == {(POLICY_ID, Status.FAIL)}
