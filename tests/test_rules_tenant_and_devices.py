"""Rules over enrollment prerequisites, Autopilot registrations, groups, hybrid join and
co-management: each starts from the healthy tenant and breaks one thing."""

from __future__ import annotations

import json
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from rules.checks.tenant_and_devices import (
    RULES,
    com_001_no_comanagement_for_preprovisioning,
    dev_001_profile_assigned_in_sync,
    dev_002_hardware_requirements_met,
    dev_003_reenrollment_not_blocked,
    dev_004_no_hardware_change_pending,
    dev_005_entra_device_object_exists,
    dev_007_group_tag_matches_a_group,
    dev_008_not_a_virtual_machine,
    enr_001_mdm_user_scope,
    enr_002_default_mdm_urls,
    enr_003_single_mdm_configuration,
    enr_007_windows_enrollment_not_blocked,
    grp_001_device_group_selects_autopilot_devices,
    grp_006_assigned_groups_exist,
    hyb_001_intune_connector_active,
    hyb_003_domain_join_profile_targets_hybrid_devices,
    hyb_004_domain_join_profile_values,
)
from rules.context import OperatorSettings, RuleContext
from rules.engine import Rule, run_rule
from rules.findings import Finding, Severity, Status
from rules.snapshot_model import TenantSnapshot
from rules.tenant_collections import (
    AUTOPILOT_DEVICES,
    AUTOPILOT_PROFILES,
    DEVICE_CONFIGURATIONS,
    DEVICES,
    DOMAIN_JOIN_CONNECTORS,
    ENROLLMENT_CONFIGURATIONS,
    GROUPS,
    MDM_POLICIES,
    MOBILE_APPS,
    NOT_IN_EXPORT,
)
from samples import build_sample
from tests.tenant_builder import (
    AGENT_APP_ID,
    AP_GROUP_ID,
    DEVICE_A_ID,
    DEVICE_B_ENTRA_DEVICE_ID,
    DEVICE_B_ENTRA_OBJECT_ID,
    DEVICE_B_ID,
    GROUP_TAG,
    MDM_POLICY_ID,
    NAME_FILTER_ID,
    PROFILE_ID,
    PROFILE_NAME,
    REMOVE,
    RESTRICTIONS_ID,
    TENANT_ID,
    USER_GROUP_ID,
    TenantBuilder,
    all_devices,
    assigned_group,
    autopilot_device,
    autopilot_profile,
    device_member,
    dynamic_group,
    entra_device,
    exclude_group,
    healthy_tenant,
    include_group,
)

SAMPLE_PATH = Path(__file__).resolve().parents[1] / "samples" / "contoso-sample.json"

PASS, FAIL, UNKNOWN, NOT_APPLICABLE = (
    Status.PASS,
    Status.FAIL,
    Status.UNKNOWN,
    Status.NOT_APPLICABLE,
)

# A device registered for a kiosk profile without pre-provisioning, in its own group tag group.
KIOSK_PROFILE_ID = "prf-kiosk"
KIOSK_GROUP_ID = "grp-autopilot-kiosk"
KIOSK_DEVICE_ID = "apd-kiosk0001"
KIOSK_ENTRA_DEVICE_ID = "entra-dev-kiosk0001"

DOMAIN_JOIN_ID = "cfg-domain-join"
CONNECTOR_ID = "odj-connector-1"
COMANAGEMENT_ID = "tenant_comanagement"
LAB_GROUP_ID = "grp-deleted-lab"


# --- helpers -------------------------------------------------------------------------------------


def findings(
    module: ModuleType, tenant: TenantBuilder, settings: OperatorSettings | None = None
) -> list[Finding]:
    context = RuleContext.for_snapshot(tenant.snapshot(), settings)
    return run_rule(Rule.from_module(module), context)


def verdicts(
    module: ModuleType, tenant: TenantBuilder, settings: OperatorSettings | None = None
) -> set[tuple[str, Status]]:
    return {(f.subject.id, f.status) for f in findings(module, tenant, settings)}


def only(module: ModuleType, tenant: TenantBuilder, subject_id: str) -> Finding:
    (finding,) = [f for f in findings(module, tenant) if f.subject.id == subject_id]
    return finding


def with_kiosk_device(tenant: TenantBuilder, **device_fields: Any) -> TenantBuilder:
    """Adds a kiosk device whose (older) profile does not allow pre-provisioning."""
    kiosk_rule = '(device.devicePhysicalIds -any _ -eq "[OrderID]:Kiosk")'
    return (
        tenant.add(
            AUTOPILOT_PROFILES,
            autopilot_profile(
                KIOSK_PROFILE_ID,
                "Kiosk",
                assignments=[include_group(KIOSK_GROUP_ID)],
                created="2023-01-01T00:00:00Z",
                preprovisioning=False,
            ),
        )
        .add(GROUPS, dynamic_group(KIOSK_GROUP_ID, "Autopilot - Kiosk", kiosk_rule))
        .add(
            AUTOPILOT_DEVICES,
            autopilot_device(
                KIOSK_DEVICE_ID,
                serial="KIOSK0001",
                entra_device_id=KIOSK_ENTRA_DEVICE_ID,
                group_tag="Kiosk",
                profile=(KIOSK_PROFILE_ID, "Kiosk"),
                **device_fields,
            ),
        )
        .add(
            DEVICES,
            entra_device(
                "entra-obj-kiosk0001",
                KIOSK_ENTRA_DEVICE_ID,
                "KIOSK0001",
                ["[ZTDId]:5c3f0f6e-cccc-4c03-9c03-000000000003", "[OrderID]:Kiosk"],
            ),
        )
        # The pre-provisioning profile leaves kiosks to their own profile.
        .assign(
            AUTOPILOT_PROFILES,
            PROFILE_ID,
            include_group(AP_GROUP_ID),
            exclude_group(KIOSK_GROUP_ID),
        )
    )


def hybrid_tenant() -> TenantBuilder:
    """The healthy tenant with its profile switched to hybrid join, and what hybrid needs."""
    return (
        healthy_tenant()
        .patch(
            AUTOPILOT_PROFILES,
            PROFILE_ID,
            {"@odata.type": "#microsoft.graph.activeDirectoryWindowsAutopilotDeploymentProfile"},
            hybridAzureADJoinSkipConnectivityCheck=False,
        )
        .add(
            DEVICE_CONFIGURATIONS,
            {
                "@odata.type": "#microsoft.graph.windowsDomainJoinConfiguration",
                "id": DOMAIN_JOIN_ID,
                "displayName": "Domain join corp.contoso.example",
                "createdDateTime": "2024-01-12T08:00:00Z",
                "lastModifiedDateTime": "2024-01-12T08:00:00Z",
                "version": 1,
                "computerNameStaticPrefix": "CON-",
                "computerNameSuffixRandomCharCount": 8,
                "activeDirectoryDomainName": "corp.contoso.example",
                "organizationalUnit": "OU=Autopilot,DC=corp,DC=contoso,DC=example",
                "assignments": [include_group(AP_GROUP_ID)],
            },
        )
        .add(
            DOMAIN_JOIN_CONNECTORS,
            connector(CONNECTOR_ID, "ODJ01", last_connection="2026-11-24T09:55:00Z"),
        )
    )


def connector(
    connector_id: str, name: str, *, last_connection: str, state: str = "active"
) -> dict[str, Any]:
    return {
        "@odata.type": "#microsoft.graph.deviceManagementDomainJoinConnector",
        "id": connector_id,
        "displayName": name,
        "lastConnectionDateTime": last_connection,
        "state": state,
        "version": "6.2504.2001.8",
    }


def comanagement(*assignments: dict[str, Any]) -> dict[str, Any]:
    return {
        "@odata.type": "#microsoft.graph.deviceComanagementAuthorityConfiguration",
        "id": COMANAGEMENT_ID,
        "displayName": "Co-management Settings",
        "priority": 1,
        "deviceEnrollmentConfigurationType": "deviceComanagementAuthorityConfiguration",
        "managedDeviceAuthority": 1,
        "installConfigurationManagerAgent": True,
        "configurationManagerAgentCommandLineArgument": "SMSSiteCode=CON",
        "assignments": list(assignments),
    }


def no_failure_or_unknown(module: ModuleType, tenant: TenantBuilder) -> bool:
    return not {status for _, status in verdicts(module, tenant)} & {FAIL, UNKNOWN}


# --- the healthy tenant --------------------------------------------------------------------------


@pytest.mark.parametrize("module", RULES, ids=lambda module: module.METADATA.id)
def test_healthy_tenant_gives_no_failure_or_unknown(module: ModuleType) -> None:
    assert no_failure_or_unknown(module, healthy_tenant())


@pytest.mark.parametrize("module", RULES, ids=lambda module: module.METADATA.id)
def test_healthy_hybrid_tenant_gives_no_failure_or_unknown(module: ModuleType) -> None:
    assert no_failure_or_unknown(module, hybrid_tenant())


# --- ENR-001 -------------------------------------------------------------------------------------


def test_mdm_user_scope_all_passes() -> None:
    assert verdicts(enr_001_mdm_user_scope, healthy_tenant()) == {(MDM_POLICY_ID, PASS)}


def test_mdm_user_scope_none_fails_as_blocker() -> None:
    tenant = healthy_tenant().patch(MDM_POLICIES, MDM_POLICY_ID, appliesTo="none")

    finding = only(enr_001_mdm_user_scope, tenant, MDM_POLICY_ID)
    assert (finding.status, finding.severity) == (FAIL, Severity.BLOCKER)


def test_mdm_user_scope_some_fails_as_warning_naming_the_groups() -> None:
    tenant = healthy_tenant().patch(
        MDM_POLICIES,
        MDM_POLICY_ID,
        appliesTo="selected",
        includedGroups=[{"id": USER_GROUP_ID, "displayName": "All staff"}],
    )

    finding = only(enr_001_mdm_user_scope, tenant, MDM_POLICY_ID)
    assert (finding.status, finding.severity) == (FAIL, Severity.WARNING)
    assert "included groups: 'All staff'" in finding.reasons


def test_mdm_configuration_marked_invalid_fails() -> None:
    tenant = healthy_tenant().patch(MDM_POLICIES, MDM_POLICY_ID, isValid=False)

    assert verdicts(enr_001_mdm_user_scope, tenant) == {(MDM_POLICY_ID, FAIL)}


def test_intune_missing_from_mdm_applications_fails() -> None:
    tenant = healthy_tenant().empty(MDM_POLICIES)

    assert verdicts(enr_001_mdm_user_scope, tenant) == {(TENANT_ID, FAIL)}


def test_another_mdm_application_scoped_to_none_leaves_intune_passing() -> None:
    tenant = healthy_tenant().add(
        MDM_POLICIES,
        {"id": "third-party-mdm", "displayName": "Other MDM", "appliesTo": "none"},
    )

    assert verdicts(enr_001_mdm_user_scope, tenant) == {(MDM_POLICY_ID, PASS)}


def test_unreadable_mdm_policy_without_attestation_is_unknown() -> None:
    tenant = healthy_tenant().unreadable(MDM_POLICIES)

    (finding,) = findings(enr_001_mdm_user_scope, tenant)
    assert (finding.subject.id, finding.status) == (TENANT_ID, UNKNOWN)
    assert any("delegated" in reason for reason in finding.reasons)


@pytest.mark.parametrize(
    "module",
    [enr_001_mdm_user_scope, enr_002_default_mdm_urls, enr_003_single_mdm_configuration],
    ids=lambda module: module.METADATA.id,
)
@pytest.mark.parametrize(
    ("error", "says", "never"),
    [
        # An imported backup: the policies are simply not in it. Nothing was refused.
        (
            {"status": 0, "message": "not in the IntuneCD export", "code": NOT_IN_EXPORT},
            "not in the backup the snapshot was imported from",
            "delegated",
        ),
        # A live read refused: the policies are served to delegated callers only.
        ({"status": 403, "message": "Forbidden"}, "delegated", "backup"),
        # A live read that failed otherwise: neither a backup nor a refusal.
        ({"status": 503, "message": "Service Unavailable"}, "Graph answered 503", "delegated"),
    ],
    ids=["not-in-export", "refused", "failed"],
)
def test_unknown_mdm_policies_say_why_from_the_recorded_error(
    module: ModuleType, error: dict[str, Any], says: str, never: str
) -> None:
    tenant = healthy_tenant().unreadable(MDM_POLICIES, **error)

    (finding,) = findings(module, tenant)
    assert finding.status is UNKNOWN
    assert says in finding.message
    assert never not in finding.message
    assert not [reason for reason in finding.reasons if never in reason]


@pytest.mark.parametrize(
    ("attested", "expected"), [("all", PASS), ("selected", FAIL), ("none", FAIL), ("most", UNKNOWN)]
)
def test_unreadable_mdm_policy_uses_the_attested_scope(attested: str, expected: Status) -> None:
    tenant = healthy_tenant().unreadable(MDM_POLICIES)
    settings = OperatorSettings(attested_mdm_user_scope=attested)

    (finding,) = findings(enr_001_mdm_user_scope, tenant, settings)
    assert finding.status is expected
    assert any(f"attests MDM user scope '{attested}'" in reason for reason in finding.reasons)


# --- ENR-003 -------------------------------------------------------------------------------------


def test_second_active_mdm_application_fails() -> None:
    tenant = healthy_tenant().add(
        MDM_POLICIES, {"id": "other-mdm", "displayName": "Other MDM", "appliesTo": "selected"}
    )

    assert verdicts(enr_003_single_mdm_configuration, tenant) == {(TENANT_ID, FAIL)}


def test_second_mdm_application_scoped_to_none_passes() -> None:
    tenant = healthy_tenant().add(
        MDM_POLICIES, {"id": "other-mdm", "displayName": "Other MDM", "appliesTo": "none"}
    )

    assert verdicts(enr_003_single_mdm_configuration, tenant) == {(TENANT_ID, PASS)}


def test_second_mdm_application_without_scope_is_unknown() -> None:
    tenant = healthy_tenant().add(MDM_POLICIES, {"id": "other-mdm", "displayName": "Other MDM"})

    assert verdicts(enr_003_single_mdm_configuration, tenant) == {(TENANT_ID, UNKNOWN)}


def test_unreadable_mdm_policies_make_the_count_unknown() -> None:
    tenant = healthy_tenant().unreadable(MDM_POLICIES)

    assert verdicts(enr_003_single_mdm_configuration, tenant) == {(TENANT_ID, UNKNOWN)}


# --- ENR-007 -------------------------------------------------------------------------------------


def _windows_restriction(**changes: Any) -> dict[str, Any]:
    return {
        "platformBlocked": False,
        "personalDeviceEnrollmentBlocked": False,
        "osMinimumVersion": None,
        "osMaximumVersion": None,
        **changes,
    }


def test_default_restriction_blocking_windows_fails_as_blocker() -> None:
    tenant = healthy_tenant().patch(
        ENROLLMENT_CONFIGURATIONS,
        RESTRICTIONS_ID,
        windowsRestriction=_windows_restriction(platformBlocked=True),
    )

    finding = only(enr_007_windows_enrollment_not_blocked, tenant, RESTRICTIONS_ID)
    assert (finding.status, finding.severity) == (FAIL, Severity.BLOCKER)


def test_blocking_only_personal_windows_devices_passes_with_a_note() -> None:
    tenant = healthy_tenant().patch(
        ENROLLMENT_CONFIGURATIONS,
        RESTRICTIONS_ID,
        windowsRestriction=_windows_restriction(personalDeviceEnrollmentBlocked=True),
    )

    finding = only(enr_007_windows_enrollment_not_blocked, tenant, RESTRICTIONS_ID)
    assert finding.status is PASS
    assert any("redeployed" in reason for reason in finding.reasons)


def test_unassigned_custom_restriction_blocking_windows_passes() -> None:
    custom = {
        "@odata.type": "#microsoft.graph.deviceEnrollmentPlatformRestrictionsConfiguration",
        "id": "restriction-unused",
        "displayName": "Unused block",
        "priority": 3,
        "deviceEnrollmentConfigurationType": "platformRestrictions",
        "windowsRestriction": _windows_restriction(platformBlocked=True),
        "assignments": [],
    }
    tenant = healthy_tenant().add(ENROLLMENT_CONFIGURATIONS, custom)

    assert verdicts(enr_007_windows_enrollment_not_blocked, tenant) == {
        (RESTRICTIONS_ID, PASS),
        ("restriction-unused", PASS),
    }


def test_per_platform_windows_restriction_blocking_windows_fails() -> None:
    single = {
        "@odata.type": "#microsoft.graph.deviceEnrollmentPlatformRestrictionConfiguration",
        "id": "restriction-windows",
        "displayName": "Windows block",
        "priority": 2,
        "platformType": "windows",
        "platformRestriction": _windows_restriction(platformBlocked=True),
        "assignments": [include_group(USER_GROUP_ID)],
    }
    tenant = healthy_tenant().add(ENROLLMENT_CONFIGURATIONS, single)

    assert ("restriction-windows", FAIL) in verdicts(enr_007_windows_enrollment_not_blocked, tenant)


def test_restriction_without_platform_blocked_value_is_unknown() -> None:
    tenant = healthy_tenant().patch(
        ENROLLMENT_CONFIGURATIONS, RESTRICTIONS_ID, windowsRestriction={"osMinimumVersion": None}
    )

    assert verdicts(enr_007_windows_enrollment_not_blocked, tenant) == {(RESTRICTIONS_ID, UNKNOWN)}


def test_unreadable_enrollment_configurations_make_restrictions_unknown() -> None:
    tenant = healthy_tenant().unreadable(ENROLLMENT_CONFIGURATIONS)

    assert verdicts(enr_007_windows_enrollment_not_blocked, tenant) == {(TENANT_ID, UNKNOWN)}


# --- DEV-001 -------------------------------------------------------------------------------------


def test_devices_with_profile_in_sync_pass() -> None:
    assert verdicts(dev_001_profile_assigned_in_sync, healthy_tenant()) == {
        (DEVICE_A_ID, PASS),
        (DEVICE_B_ID, PASS),
    }


@pytest.mark.parametrize("status", ["notAssigned", "pending", "failed", "assignedOutOfSync"])
def test_device_whose_profile_is_not_in_sync_fails(status: str) -> None:
    tenant = healthy_tenant().patch(
        AUTOPILOT_DEVICES, DEVICE_B_ID, deploymentProfileAssignmentStatus=status
    )

    assert verdicts(dev_001_profile_assigned_in_sync, tenant) == {
        (DEVICE_A_ID, PASS),
        (DEVICE_B_ID, FAIL),
    }


def test_device_assigned_a_profile_without_preprovisioning_fails() -> None:
    other = (KIOSK_PROFILE_ID, "Kiosk")
    reference = {
        "@odata.type": "#microsoft.graph.azureADWindowsAutopilotDeploymentProfile",
        "id": other[0],
        "displayName": other[1],
    }
    tenant = (
        healthy_tenant()
        .add(
            AUTOPILOT_PROFILES,
            autopilot_profile(other[0], other[1], assignments=[], preprovisioning=False),
        )
        .patch(
            AUTOPILOT_DEVICES,
            DEVICE_B_ID,
            deploymentProfile=reference,
            intendedDeploymentProfile=reference,
        )
    )

    finding = only(dev_001_profile_assigned_in_sync, tenant, DEVICE_B_ID)
    assert finding.status is FAIL
    assert "the assigned profile 'Kiosk' does not allow pre-provisioning" in finding.reasons


def test_device_without_date_assigned_fails() -> None:
    tenant = healthy_tenant().patch(
        AUTOPILOT_DEVICES, DEVICE_B_ID, deploymentProfileAssignedDateTime=None
    )

    assert (DEVICE_B_ID, FAIL) in verdicts(dev_001_profile_assigned_in_sync, tenant)


def test_registered_device_no_profile_targets_fails() -> None:
    # No Entra device object, so it is in no group and no profile reaches it.
    tenant = healthy_tenant().add(
        AUTOPILOT_DEVICES,
        autopilot_device("apd-orphan", serial="ORPHAN01", entra_device_id=None, profile=None),
    )

    assert ("apd-orphan", FAIL) in verdicts(dev_001_profile_assigned_in_sync, tenant)


def test_renamed_profile_reference_still_passes() -> None:
    reference = {
        "@odata.type": "#microsoft.graph.azureADWindowsAutopilotDeploymentProfile",
        "id": PROFILE_ID,
        "displayName": f"{PROFILE_NAME} (old name)",
    }
    tenant = healthy_tenant().patch(
        AUTOPILOT_DEVICES, DEVICE_B_ID, deploymentProfile=reference, intendedDeploymentProfile=None
    )

    assert (DEVICE_B_ID, PASS) in verdicts(dev_001_profile_assigned_in_sync, tenant)


def test_unreadable_deployment_profile_navigation_is_unknown() -> None:
    tenant = healthy_tenant().navigation_unreadable(
        AUTOPILOT_DEVICES, DEVICE_B_ID, "deploymentProfile"
    )

    assert verdicts(dev_001_profile_assigned_in_sync, tenant) == {
        (DEVICE_A_ID, PASS),
        (DEVICE_B_ID, UNKNOWN),
    }


def test_unreadable_autopilot_devices_make_profile_assignment_unknown() -> None:
    tenant = healthy_tenant().unreadable(AUTOPILOT_DEVICES)

    assert verdicts(dev_001_profile_assigned_in_sync, tenant) == {(TENANT_ID, UNKNOWN)}


# --- DEV-002, DEV-003, DEV-004: one status field each --------------------------------------------


@pytest.mark.parametrize(
    "status",
    ["hardwareRequirementsNotMet", "windowsPcProfileNotSupported", "holoLensProfileNotSupported"],
)
def test_device_with_hardware_or_device_type_problem_fails(status: str) -> None:
    tenant = healthy_tenant().patch(
        AUTOPILOT_DEVICES, DEVICE_B_ID, deploymentProfileAssignmentDetailedStatus=status
    )

    assert verdicts(dev_002_hardware_requirements_met, tenant) == {
        (DEVICE_A_ID, PASS),
        (DEVICE_B_ID, FAIL),
    }


def test_device_without_detailed_status_is_unknown() -> None:
    tenant = healthy_tenant().patch(
        AUTOPILOT_DEVICES, DEVICE_B_ID, deploymentProfileAssignmentDetailedStatus=REMOVE
    )

    assert (DEVICE_B_ID, UNKNOWN) in verdicts(dev_002_hardware_requirements_met, tenant)


def test_hardware_problem_on_a_device_not_meant_for_preprovisioning_is_not_reported() -> None:
    tenant = with_kiosk_device(
        healthy_tenant(), deploymentProfileAssignmentDetailedStatus="hardwareRequirementsNotMet"
    )

    assert verdicts(dev_002_hardware_requirements_met, tenant) == {
        (DEVICE_A_ID, PASS),
        (DEVICE_B_ID, PASS),
    }


@pytest.mark.parametrize(
    "changes", [{"userlessEnrollmentStatus": "blocked"}, {"enrollmentState": "blocked"}]
)
def test_device_blocked_from_enrolling_again_fails(changes: dict[str, str]) -> None:
    tenant = healthy_tenant().patch(AUTOPILOT_DEVICES, DEVICE_B_ID, changes)

    assert verdicts(dev_003_reenrollment_not_blocked, tenant) == {
        (DEVICE_A_ID, PASS),
        (DEVICE_B_ID, FAIL),
    }


def test_enrolled_device_allowed_to_enroll_again_passes() -> None:
    tenant = healthy_tenant().patch(
        AUTOPILOT_DEVICES,
        DEVICE_B_ID,
        enrollmentState="enrolled",
        userlessEnrollmentStatus="allowed",
    )

    assert (DEVICE_B_ID, PASS) in verdicts(dev_003_reenrollment_not_blocked, tenant)


def test_device_without_userless_enrollment_status_is_unknown() -> None:
    tenant = healthy_tenant().patch(AUTOPILOT_DEVICES, DEVICE_B_ID, userlessEnrollmentStatus=REMOVE)

    assert (DEVICE_B_ID, UNKNOWN) in verdicts(dev_003_reenrollment_not_blocked, tenant)


@pytest.mark.parametrize("state", ["manualRemediationRequired", "automaticRemediationRequired"])
def test_device_waiting_for_hardware_change_remediation_fails(state: str) -> None:
    tenant = healthy_tenant().patch(AUTOPILOT_DEVICES, DEVICE_B_ID, remediationState=state)

    assert verdicts(dev_004_no_hardware_change_pending, tenant) == {
        (DEVICE_A_ID, PASS),
        (DEVICE_B_ID, FAIL),
    }


def test_device_with_remediation_state_unknown_is_unknown() -> None:
    tenant = healthy_tenant().patch(AUTOPILOT_DEVICES, DEVICE_B_ID, remediationState="unknown")

    assert (DEVICE_B_ID, UNKNOWN) in verdicts(dev_004_no_hardware_change_pending, tenant)


def test_remediation_on_a_device_not_meant_for_preprovisioning_is_not_reported() -> None:
    tenant = with_kiosk_device(healthy_tenant(), remediationState="manualRemediationRequired")

    assert verdicts(dev_004_no_hardware_change_pending, tenant) == {
        (DEVICE_A_ID, PASS),
        (DEVICE_B_ID, PASS),
    }


def test_device_checks_scope_findings_to_the_profile_and_name_the_device() -> None:
    tenant = healthy_tenant().patch(
        AUTOPILOT_DEVICES, DEVICE_B_ID, remediationState="manualRemediationRequired"
    )

    finding = only(dev_004_no_hardware_change_pending, tenant, DEVICE_B_ID)
    assert finding.scope is not None
    assert (finding.scope.profile_id, finding.scope.group_ids) == (PROFILE_ID, (AP_GROUP_ID,))
    assert finding.devices == (DEVICE_B_ID,)
    assert finding.subject.display_name == "PF3BBB02"


def test_devices_possibly_targeted_are_checked_when_groups_are_unreadable() -> None:
    tenant = (
        healthy_tenant()
        .unreadable(GROUPS)
        .patch(AUTOPILOT_DEVICES, DEVICE_B_ID, remediationState="manualRemediationRequired")
    )

    assert verdicts(dev_004_no_hardware_change_pending, tenant) == {
        (DEVICE_A_ID, PASS),
        (DEVICE_B_ID, FAIL),
    }


# --- DEV-005 -------------------------------------------------------------------------------------


def test_device_whose_entra_object_was_deleted_fails_as_blocker() -> None:
    tenant = healthy_tenant().remove(DEVICES, DEVICE_B_ENTRA_OBJECT_ID)

    finding = only(dev_005_entra_device_object_exists, tenant, DEVICE_B_ID)
    assert (finding.status, finding.severity) == (FAIL, Severity.BLOCKER)


def test_device_without_entra_device_id_fails() -> None:
    tenant = healthy_tenant().patch(
        AUTOPILOT_DEVICES, DEVICE_B_ID, azureAdDeviceId=None, azureActiveDirectoryDeviceId=None
    )

    assert (DEVICE_B_ID, FAIL) in verdicts(dev_005_entra_device_object_exists, tenant)


def test_entra_device_id_differing_only_in_case_passes() -> None:
    tenant = healthy_tenant().patch(
        DEVICES, DEVICE_B_ENTRA_OBJECT_ID, deviceId=DEVICE_B_ENTRA_DEVICE_ID.upper()
    )

    assert verdicts(dev_005_entra_device_object_exists, tenant) == {
        (DEVICE_A_ID, PASS),
        (DEVICE_B_ID, PASS),
    }


def test_unreadable_entra_devices_make_the_anchor_unknown() -> None:
    tenant = healthy_tenant().unreadable(DEVICES)

    assert verdicts(dev_005_entra_device_object_exists, tenant) == {
        (DEVICE_A_ID, UNKNOWN),
        (DEVICE_B_ID, UNKNOWN),
    }


# --- DEV-007 -------------------------------------------------------------------------------------

TAG_RULE = f'(device.devicePhysicalIds -any _ -eq "[OrderID]:{GROUP_TAG}")'


def tag_tenant() -> TenantBuilder:
    return healthy_tenant().patch(GROUPS, AP_GROUP_ID, membershipRule=TAG_RULE)


def test_tenant_without_group_tag_groups_makes_group_tags_not_applicable() -> None:
    assert verdicts(dev_007_group_tag_matches_a_group, healthy_tenant()) == {
        (TENANT_ID, NOT_APPLICABLE)
    }


def test_devices_whose_tag_matches_the_tag_group_pass() -> None:
    assert verdicts(dev_007_group_tag_matches_a_group, tag_tenant()) == {
        (DEVICE_A_ID, PASS),
        (DEVICE_B_ID, PASS),
    }


def test_misspelt_group_tag_fails() -> None:
    tenant = tag_tenant().patch(AUTOPILOT_DEVICES, DEVICE_B_ID, groupTag="Contosso")

    finding = only(dev_007_group_tag_matches_a_group, tenant, DEVICE_B_ID)
    assert (finding.status, finding.severity) == (FAIL, Severity.ERROR)
    assert "the group-tag groups expect 'Contoso'" in finding.reasons


def test_missing_group_tag_fails() -> None:
    tenant = tag_tenant().patch(AUTOPILOT_DEVICES, DEVICE_B_ID, groupTag="")

    assert (DEVICE_B_ID, FAIL) in verdicts(dev_007_group_tag_matches_a_group, tenant)


def test_tag_matching_in_another_case_passes() -> None:
    tenant = tag_tenant().patch(AUTOPILOT_DEVICES, DEVICE_B_ID, groupTag=GROUP_TAG.upper())

    assert (DEVICE_B_ID, PASS) in verdicts(dev_007_group_tag_matches_a_group, tenant)


def test_misspelt_tag_on_a_device_reached_through_another_group_is_a_warning() -> None:
    catch_all = dynamic_group(
        "grp-all-autopilot",
        "All Autopilot",
        '(device.devicePhysicalIDs -any (_ -startsWith "[ZTDid]"))',
    )
    tenant = (
        tag_tenant()
        .add(GROUPS, catch_all)
        .assign(
            AUTOPILOT_PROFILES,
            PROFILE_ID,
            include_group(AP_GROUP_ID),
            include_group("grp-all-autopilot"),
        )
        .patch(AUTOPILOT_DEVICES, DEVICE_B_ID, groupTag="Contosso")
    )

    finding = only(dev_007_group_tag_matches_a_group, tenant, DEVICE_B_ID)
    assert (finding.status, finding.severity) == (FAIL, Severity.WARNING)


def test_unreadable_groups_make_group_tags_unknown() -> None:
    tenant = tag_tenant().unreadable(GROUPS)

    assert verdicts(dev_007_group_tag_matches_a_group, tenant) == {(TENANT_ID, UNKNOWN)}


# --- DEV-008 -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("manufacturer", "model"),
    [
        ("Microsoft Corporation", "Virtual Machine"),
        ("VMware, Inc.", "VMware7,1"),
        ("innotek GmbH", "VirtualBox"),
        ("QEMU", "Standard PC (Q35 + ICH9, 2009)"),
    ],
)
def test_virtual_machine_fails(manufacturer: str, model: str) -> None:
    tenant = healthy_tenant().patch(
        AUTOPILOT_DEVICES, DEVICE_B_ID, manufacturer=manufacturer, model=model
    )

    assert verdicts(dev_008_not_a_virtual_machine, tenant) == {
        (DEVICE_A_ID, PASS),
        (DEVICE_B_ID, FAIL),
    }


def test_preprovisioning_profile_for_virtual_machines_fails() -> None:
    tenant = healthy_tenant().patch(AUTOPILOT_PROFILES, PROFILE_ID, deviceType="virtualMachine")

    assert (PROFILE_ID, FAIL) in verdicts(dev_008_not_a_virtual_machine, tenant)


def test_device_without_manufacturer_and_model_is_unknown() -> None:
    tenant = healthy_tenant().patch(
        AUTOPILOT_DEVICES, DEVICE_B_ID, manufacturer=REMOVE, model=REMOVE
    )

    assert (DEVICE_B_ID, UNKNOWN) in verdicts(dev_008_not_a_virtual_machine, tenant)


def test_virtual_machine_not_meant_for_preprovisioning_is_not_reported() -> None:
    tenant = with_kiosk_device(healthy_tenant(), model="Virtual Machine")

    assert verdicts(dev_008_not_a_virtual_machine, tenant) == {
        (DEVICE_A_ID, PASS),
        (DEVICE_B_ID, PASS),
    }


# --- GRP-001 -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "rule",
    [
        '(device.devicePhysicalIds -any _ -eq "[OrderID]:Contoso")',
        '(device.devicePhysicalIds -any _ -eq "[PurchaseOrderId]:4500012345")',
        '(device.devicePhysicalIDs -contains "[ZTDID]")',
    ],
)
def test_documented_autopilot_device_rules_pass(rule: str) -> None:
    tenant = healthy_tenant().patch(GROUPS, AP_GROUP_ID, membershipRule=rule)

    assert verdicts(grp_001_device_group_selects_autopilot_devices, tenant) == {(AP_GROUP_ID, PASS)}


def test_user_rule_on_the_autopilot_group_fails_as_error() -> None:
    tenant = healthy_tenant().patch(
        GROUPS, AP_GROUP_ID, membershipRule='(user.department -eq "IT")'
    )

    finding = only(grp_001_device_group_selects_autopilot_devices, tenant, AP_GROUP_ID)
    assert (finding.status, finding.severity) == (FAIL, Severity.ERROR)


def test_device_rule_not_selecting_autopilot_registrations_fails_as_warning() -> None:
    tenant = healthy_tenant().patch(
        GROUPS, AP_GROUP_ID, membershipRule='(device.displayName -startsWith "CON-")'
    )

    finding = only(grp_001_device_group_selects_autopilot_devices, tenant, AP_GROUP_ID)
    assert (finding.status, finding.severity) == (FAIL, Severity.WARNING)


def test_negated_ztdid_rule_fails() -> None:
    tenant = healthy_tenant().patch(
        GROUPS, AP_GROUP_ID, membershipRule='(device.devicePhysicalIds -notContains "[ZTDId]")'
    )

    assert verdicts(grp_001_device_group_selects_autopilot_devices, tenant) == {(AP_GROUP_ID, FAIL)}


def test_unparseable_group_rule_is_unknown() -> None:
    tenant = healthy_tenant().patch(GROUPS, AP_GROUP_ID, membershipRule="(device.model -eq")

    assert verdicts(grp_001_device_group_selects_autopilot_devices, tenant) == {
        (AP_GROUP_ID, UNKNOWN)
    }


def test_assigned_group_holding_the_autopilot_devices_passes() -> None:
    members = [device_member("entra-obj-pf3aaa01"), device_member(DEVICE_B_ENTRA_OBJECT_ID)]
    tenant = (
        healthy_tenant()
        .remove(GROUPS, AP_GROUP_ID)
        .add(GROUPS, assigned_group(AP_GROUP_ID, "Autopilot - All devices", members))
    )

    assert verdicts(grp_001_device_group_selects_autopilot_devices, tenant) == {(AP_GROUP_ID, PASS)}


def test_empty_assigned_group_fails_as_warning() -> None:
    tenant = (
        healthy_tenant()
        .remove(GROUPS, AP_GROUP_ID)
        .add(GROUPS, assigned_group(AP_GROUP_ID, "Autopilot - All devices", []))
    )

    finding = only(grp_001_device_group_selects_autopilot_devices, tenant, AP_GROUP_ID)
    assert (finding.status, finding.severity) == (FAIL, Severity.WARNING)


def test_assigned_group_whose_members_could_not_be_read_is_unknown() -> None:
    tenant = (
        healthy_tenant()
        .remove(GROUPS, AP_GROUP_ID)
        .add(GROUPS, assigned_group(AP_GROUP_ID, "Autopilot - All devices", []))
        .navigation_unreadable(GROUPS, AP_GROUP_ID, "members")
    )

    assert verdicts(grp_001_device_group_selects_autopilot_devices, tenant) == {
        (AP_GROUP_ID, UNKNOWN)
    }


# --- GRP-006 -------------------------------------------------------------------------------------


def test_app_targeting_a_deleted_group_fails() -> None:
    tenant = healthy_tenant().assign(
        MOBILE_APPS, AGENT_APP_ID, include_group(LAB_GROUP_ID, intent="required")
    )

    finding = only(grp_006_assigned_groups_exist, tenant, AGENT_APP_ID)
    assert (finding.status, finding.severity) == (FAIL, Severity.ERROR)
    assert [subject.id for subject in finding.related] == [LAB_GROUP_ID]
    assert (TENANT_ID, PASS) in verdicts(grp_006_assigned_groups_exist, tenant)


def test_profile_excluding_a_deleted_group_fails_as_warning() -> None:
    tenant = healthy_tenant().assign(
        AUTOPILOT_PROFILES, PROFILE_ID, include_group(AP_GROUP_ID), exclude_group(LAB_GROUP_ID)
    )

    finding = only(grp_006_assigned_groups_exist, tenant, PROFILE_ID)
    assert (finding.status, finding.severity) == (FAIL, Severity.WARNING)


def test_all_devices_assignment_has_no_group_to_resolve() -> None:
    tenant = healthy_tenant().assign(MOBILE_APPS, AGENT_APP_ID, all_devices(intent="required"))

    assert verdicts(grp_006_assigned_groups_exist, tenant) == {(TENANT_ID, PASS)}


def test_unreadable_groups_make_group_references_unknown() -> None:
    tenant = healthy_tenant().unreadable(GROUPS)

    assert verdicts(grp_006_assigned_groups_exist, tenant) == {(TENANT_ID, UNKNOWN)}


def test_unreadable_collection_and_assignments_are_unknown() -> None:
    tenant = (
        healthy_tenant()
        .unreadable(MOBILE_APPS)
        .navigation_unreadable(AUTOPILOT_PROFILES, PROFILE_ID, "assignments")
    )

    assert verdicts(grp_006_assigned_groups_exist, tenant) == {
        (MOBILE_APPS, UNKNOWN),
        (PROFILE_ID, UNKNOWN),
        # Unknown is never green: the unread objects may hold the dangling reference.
        (TENANT_ID, UNKNOWN),
    }


# --- HYB-001 -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "module",
    [
        hyb_001_intune_connector_active,
        hyb_003_domain_join_profile_targets_hybrid_devices,
        hyb_004_domain_join_profile_values,
    ],
)
def test_hybrid_rules_are_not_applicable_without_a_hybrid_preprovisioning_profile(
    module: ModuleType,
) -> None:
    tenant = hybrid_tenant().patch(AUTOPILOT_PROFILES, PROFILE_ID, preprovisioningAllowed=False)

    assert verdicts(module, tenant) == {(TENANT_ID, NOT_APPLICABLE)}


@pytest.mark.parametrize(
    "module",
    [
        hyb_001_intune_connector_active,
        hyb_003_domain_join_profile_targets_hybrid_devices,
        hyb_004_domain_join_profile_values,
    ],
)
def test_hybrid_rules_are_unknown_when_profiles_are_unreadable(module: ModuleType) -> None:
    tenant = hybrid_tenant().unreadable(AUTOPILOT_PROFILES)

    assert verdicts(module, tenant) == {(TENANT_ID, UNKNOWN)}


def test_active_recently_connected_connector_passes() -> None:
    assert verdicts(hyb_001_intune_connector_active, hybrid_tenant()) == {(CONNECTOR_ID, PASS)}


def test_no_connector_fails_as_blocker() -> None:
    tenant = hybrid_tenant().empty(DOMAIN_JOIN_CONNECTORS)

    finding = only(hyb_001_intune_connector_active, tenant, TENANT_ID)
    assert (finding.status, finding.severity) == (FAIL, Severity.BLOCKER)
    assert finding.devices == (DEVICE_A_ID, DEVICE_B_ID)


@pytest.mark.parametrize(
    ("state", "last_connection"),
    [
        ("error", "2026-11-24T09:55:00Z"),
        ("inactive", "2026-11-24T09:55:00Z"),
        ("active", "2026-11-22T09:00:00Z"),
    ],
)
def test_only_connector_inactive_or_silent_fails(state: str, last_connection: str) -> None:
    tenant = hybrid_tenant().patch(
        DOMAIN_JOIN_CONNECTORS, CONNECTOR_ID, state=state, lastConnectionDateTime=last_connection
    )

    finding = only(hyb_001_intune_connector_active, tenant, CONNECTOR_ID)
    assert (finding.status, finding.severity) == (FAIL, Severity.BLOCKER)


def test_connector_silent_for_less_than_a_day_passes() -> None:
    tenant = hybrid_tenant().patch(
        DOMAIN_JOIN_CONNECTORS, CONNECTOR_ID, lastConnectionDateTime="2026-11-23T11:00:00Z"
    )

    assert verdicts(hyb_001_intune_connector_active, tenant) == {(CONNECTOR_ID, PASS)}


def test_broken_connector_next_to_an_active_one_is_a_warning() -> None:
    tenant = hybrid_tenant().add(
        DOMAIN_JOIN_CONNECTORS,
        connector(
            "odj-connector-2", "ODJ02", last_connection="2026-10-01T00:00:00Z", state="error"
        ),
    )

    finding = only(hyb_001_intune_connector_active, tenant, "odj-connector-2")
    assert (finding.status, finding.severity) == (FAIL, Severity.WARNING)
    assert (CONNECTOR_ID, PASS) in verdicts(hyb_001_intune_connector_active, tenant)


def test_unreadable_connectors_are_unknown() -> None:
    tenant = hybrid_tenant().unreadable(DOMAIN_JOIN_CONNECTORS)

    assert verdicts(hyb_001_intune_connector_active, tenant) == {(TENANT_ID, UNKNOWN)}


# --- HYB-003 -------------------------------------------------------------------------------------


def test_domain_join_profile_assigned_to_the_autopilot_group_passes() -> None:
    assert verdicts(hyb_003_domain_join_profile_targets_hybrid_devices, hybrid_tenant()) == {
        (PROFILE_ID, PASS)
    }


def test_missing_domain_join_profile_fails_as_blocker() -> None:
    tenant = hybrid_tenant().remove(DEVICE_CONFIGURATIONS, DOMAIN_JOIN_ID)

    finding = only(hyb_003_domain_join_profile_targets_hybrid_devices, tenant, PROFILE_ID)
    assert (finding.status, finding.severity) == (FAIL, Severity.BLOCKER)


def test_domain_join_profile_assigned_to_users_fails() -> None:
    tenant = hybrid_tenant().assign(
        DEVICE_CONFIGURATIONS, DOMAIN_JOIN_ID, include_group(USER_GROUP_ID)
    )

    assert verdicts(hyb_003_domain_join_profile_targets_hybrid_devices, tenant) == {
        (PROFILE_ID, FAIL)
    }


def test_domain_join_profile_excluding_some_hybrid_devices_fails_naming_them() -> None:
    excluded = assigned_group("grp-lab", "Lab devices", [device_member(DEVICE_B_ENTRA_OBJECT_ID)])
    tenant = (
        hybrid_tenant()
        .add(GROUPS, excluded)
        .assign(DEVICE_CONFIGURATIONS, DOMAIN_JOIN_ID, all_devices(), exclude_group("grp-lab"))
    )

    finding = only(hyb_003_domain_join_profile_targets_hybrid_devices, tenant, PROFILE_ID)
    assert finding.status is FAIL
    assert finding.devices == (DEVICE_B_ID,)


def test_domain_join_profile_assigned_to_all_devices_passes() -> None:
    tenant = hybrid_tenant().assign(DEVICE_CONFIGURATIONS, DOMAIN_JOIN_ID, all_devices())

    assert verdicts(hyb_003_domain_join_profile_targets_hybrid_devices, tenant) == {
        (PROFILE_ID, PASS)
    }


def test_domain_join_profile_behind_a_filter_is_a_warning() -> None:
    tenant = hybrid_tenant().assign(
        DEVICE_CONFIGURATIONS,
        DOMAIN_JOIN_ID,
        include_group(AP_GROUP_ID, filter_id=NAME_FILTER_ID),
    )

    finding = only(hyb_003_domain_join_profile_targets_hybrid_devices, tenant, PROFILE_ID)
    assert (finding.status, finding.severity) == (FAIL, Severity.WARNING)


def test_unreadable_domain_join_assignments_are_unknown() -> None:
    tenant = hybrid_tenant().navigation_unreadable(
        DEVICE_CONFIGURATIONS, DOMAIN_JOIN_ID, "assignments"
    )

    assert verdicts(hyb_003_domain_join_profile_targets_hybrid_devices, tenant) == {
        (PROFILE_ID, UNKNOWN)
    }


def test_unreadable_device_configurations_make_domain_join_unknown() -> None:
    tenant = hybrid_tenant().unreadable(DEVICE_CONFIGURATIONS)

    assert verdicts(hyb_003_domain_join_profile_targets_hybrid_devices, tenant) == {
        (TENANT_ID, UNKNOWN)
    }


# --- HYB-004 -------------------------------------------------------------------------------------


def test_valid_domain_join_values_pass() -> None:
    assert verdicts(hyb_004_domain_join_profile_values, hybrid_tenant()) == {(DOMAIN_JOIN_ID, PASS)}


@pytest.mark.parametrize(
    "changes",
    [
        {"activeDirectoryDomainName": "CORP"},
        {"organizationalUnit": "CN=Computers,DC=corp,DC=contoso,DC=example"},
        {"organizationalUnit": '"OU=Autopilot,DC=corp,DC=contoso,DC=example"'},
        {"organizationalUnit": "corp.contoso.example/Autopilot"},
        {"computerNameStaticPrefix": ""},
        {"computerNameStaticPrefix": "CONTOSO-", "computerNameSuffixRandomCharCount": 8},
    ],
)
def test_invalid_domain_join_value_fails(changes: dict[str, Any]) -> None:
    tenant = hybrid_tenant().patch(DEVICE_CONFIGURATIONS, DOMAIN_JOIN_ID, changes)

    assert verdicts(hyb_004_domain_join_profile_values, tenant) == {(DOMAIN_JOIN_ID, FAIL)}


@pytest.mark.parametrize(
    "changes",
    [
        {"computerNameStaticPrefix": "CONTOSO", "computerNameSuffixRandomCharCount": 8},
        {"organizationalUnit": ""},
    ],
)
def test_domain_join_values_at_the_limit_pass(changes: dict[str, Any]) -> None:
    tenant = hybrid_tenant().patch(DEVICE_CONFIGURATIONS, DOMAIN_JOIN_ID, changes)

    assert verdicts(hyb_004_domain_join_profile_values, tenant) == {(DOMAIN_JOIN_ID, PASS)}


def test_domain_join_profile_for_other_devices_is_not_checked() -> None:
    tenant = hybrid_tenant().patch(
        DEVICE_CONFIGURATIONS,
        DOMAIN_JOIN_ID,
        activeDirectoryDomainName="CORP",
        assignments=[include_group(USER_GROUP_ID)],
    )

    assert verdicts(hyb_004_domain_join_profile_values, tenant) == {(TENANT_ID, NOT_APPLICABLE)}


def test_unreadable_device_configurations_make_domain_join_values_unknown() -> None:
    tenant = hybrid_tenant().unreadable(DEVICE_CONFIGURATIONS)

    assert verdicts(hyb_004_domain_join_profile_values, tenant) == {(TENANT_ID, UNKNOWN)}


# --- COM-001 -------------------------------------------------------------------------------------


def test_comanagement_targeting_the_autopilot_group_fails() -> None:
    tenant = healthy_tenant().add(
        ENROLLMENT_CONFIGURATIONS, comanagement(include_group(AP_GROUP_ID))
    )

    finding = only(com_001_no_comanagement_for_preprovisioning, tenant, COMANAGEMENT_ID)
    assert (finding.status, finding.severity) == (FAIL, Severity.ERROR)
    assert finding.devices == (DEVICE_A_ID, DEVICE_B_ID)


def test_comanagement_for_other_devices_passes() -> None:
    other = assigned_group(
        "grp-configmgr", "ConfigMgr clients", [device_member("entra-obj-old-pc")]
    )
    tenant = (
        healthy_tenant()
        .add(GROUPS, other)
        .add(ENROLLMENT_CONFIGURATIONS, comanagement(include_group("grp-configmgr")))
    )

    assert verdicts(com_001_no_comanagement_for_preprovisioning, tenant) == {
        (COMANAGEMENT_ID, PASS)
    }


def test_comanagement_behind_a_filter_is_a_warning() -> None:
    tenant = healthy_tenant().add(
        ENROLLMENT_CONFIGURATIONS,
        comanagement(include_group(AP_GROUP_ID, filter_id=NAME_FILTER_ID)),
    )

    finding = only(com_001_no_comanagement_for_preprovisioning, tenant, COMANAGEMENT_ID)
    assert (finding.status, finding.severity) == (FAIL, Severity.WARNING)


def test_comanagement_with_unreadable_assignments_is_unknown() -> None:
    tenant = (
        healthy_tenant()
        .add(ENROLLMENT_CONFIGURATIONS, comanagement(include_group(AP_GROUP_ID)))
        .navigation_unreadable(ENROLLMENT_CONFIGURATIONS, COMANAGEMENT_ID, "assignments")
    )

    assert verdicts(com_001_no_comanagement_for_preprovisioning, tenant) == {
        (COMANAGEMENT_ID, UNKNOWN)
    }


def test_unreadable_enrollment_configurations_make_comanagement_unknown() -> None:
    tenant = healthy_tenant().unreadable(ENROLLMENT_CONFIGURATIONS)

    assert verdicts(com_001_no_comanagement_for_preprovisioning, tenant) == {(TENANT_ID, UNKNOWN)}


# --- the Contoso sample --------------------------------------------------------------------------


def test_sample_tenant_shows_exactly_its_deliberate_problems_in_this_area() -> None:
    snapshot = TenantSnapshot.from_document(json.loads(SAMPLE_PATH.read_text(encoding="utf-8")))
    context = RuleContext.for_snapshot(snapshot)
    produced = [f for module in RULES for f in run_rule(Rule.from_module(module), context)]

    def device(index: int) -> str:
        return build_sample.sample_id("autopilot-device", f"main-{index:02d}")

    expected = {
        ("DEV-001", device(build_sample.NOT_ASSIGNED_DEVICE_INDEX)),
        ("DEV-004", device(build_sample.REMEDIATION_DEVICE_INDEX)),
        ("DEV-008", device(build_sample.VIRTUAL_MACHINE_INDEX)),
        ("GRP-002", build_sample.AP_SALES_DEVICES),
        ("GRP-006", build_sample.sample_id("device-configuration", "Windows Update ring - Lab")),
        # The user-context blocking app also reaches the hybrid devices (samples/README.md).
        ("HYB-006", build_sample.app_id(build_sample.ZOOM)),
    }
    assert {(f.rule_id, f.subject.id) for f in produced if f.status is FAIL} == expected
    assert [f for f in produced if f.status is UNKNOWN] == []
    lab = next(f for f in produced if f.rule_id == "GRP-006" and f.status is FAIL)
    assert [subject.id for subject in lab.related] == [build_sample.DELETED_LAB_DEVICES]
