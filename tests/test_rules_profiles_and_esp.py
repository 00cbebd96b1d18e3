"""Profile and Enrollment Status Page rules (PRF-*, ESP-*): each starts from the healthy tenant
and breaks one thing."""

from __future__ import annotations

import json
from types import ModuleType
from typing import Any

import pytest

from rules.checks.profiles_and_esp import (
    RULES,
    esp_001_device_esp_shows_progress,
    esp_002_blocking_apps_on_device_esp,
    esp_003_blocking_apps_install_in_device_phase,
    esp_004_blocking_list_limits,
    esp_005_timeout_covers_workload,
    esp_010_user_esp_skipped,
    esp_011_device_esp_not_skipped,
    prf_001_preprovisioning_allowed,
    prf_002_user_driven_mode,
    prf_003_entra_join,
    prf_004_device_type_windows_pc,
    prf_005_one_profile_per_device,
    prf_006_no_exclusions_with_all_devices,
    prf_007_device_group_not_excluded,
    prf_008_device_name_template_valid,
    prf_011_preprovisioning_profile_exists,
)
from rules.context import RuleContext
from rules.engine import Rule, evaluate_snapshot, run_rule
from rules.findings import Finding, RuleKind, Severity, Status
from rules.snapshot_model import TenantSnapshot
from rules.tenant_collections import (
    AUTOPILOT_PROFILES,
    DEVICE_CONFIGURATIONS,
    DEVICES,
    ENROLLMENT_CONFIGURATIONS,
    GROUPS,
    MOBILE_APPS,
    SETTINGS_CATALOG_POLICIES,
)
from samples import build_sample
from tests.tenant_builder import (
    AGENT_APP_ID,
    AP_GROUP_ID,
    DEFAULT_ESP_ID,
    DEVICE_A_ID,
    DEVICE_B_ENTRA_OBJECT_ID,
    DEVICE_B_ID,
    DEVICE_ESP_ID,
    NAME_FILTER_ID,
    PROFILE_ID,
    REMOVE,
    SETTINGS_POLICY_ID,
    SKIP_USER_ESP_ID,
    SKIP_USER_STATUS_PAGE_URI,
    TENANT_ID,
    USER_GROUP_ID,
    TenantBuilder,
    all_devices,
    assigned_group,
    autopilot_profile,
    device_member,
    exclude_group,
    healthy_tenant,
    include_group,
    win32_app,
)

# Manual items are never decided from data: they answer MANUAL whatever the tenant holds.
DECIDED_RULES = tuple(rule for rule in RULES if rule.METADATA.kind is not RuleKind.MANUAL)

SKIP_DEVICE_STATUS_PAGE_URI = (
    "./Vendor/MSFT/DMClient/Provider/MS DM Server/FirstSyncStatus/SkipDeviceStatusPage"
)
SKIP_USER_DEFINITION = (
    "device_vendor_msft_dmclient_provider_{providerid}_firstsyncstatus_skipuserstatuspage"
)
SKIP_DEVICE_DEFINITION = (
    "device_vendor_msft_dmclient_provider_{providerid}_firstsyncstatus_skipdevicestatuspage"
)
OLD_PROFILE_ID = "prf-legacy-user-driven"
SECOND_PROFILE_ID = "prf-second"
DEVICE_B_GROUP_ID = "grp-device-b"

Verdicts = set[tuple[str, Status]]


# --- helpers -------------------------------------------------------------------------------------


def findings(rule: ModuleType, tenant: TenantBuilder) -> list[Finding]:
    context = RuleContext.for_snapshot(tenant.snapshot())
    return run_rule(Rule.from_module(rule), context)


def verdicts(rule: ModuleType, tenant: TenantBuilder) -> Verdicts:
    return {(f.subject.id, f.status) for f in findings(rule, tenant)}


def only(rule: ModuleType, tenant: TenantBuilder) -> Finding:
    produced = findings(rule, tenant)
    assert len(produced) == 1, produced
    return produced[0]


def oma_setting(
    uri: str, value: Any, kind: str = "omaSettingBoolean", **fields: Any
) -> dict[str, Any]:
    return {
        "@odata.type": f"#microsoft.graph.{kind}",
        "displayName": uri.rsplit("/", 1)[1],
        "description": None,
        "omaUri": uri,
        "value": value,
        **fields,
    }


def custom_configuration(
    configuration_id: str, settings: list[dict[str, Any]], assignments: list[dict[str, Any]]
) -> dict[str, Any]:
    return {
        "@odata.type": "#microsoft.graph.windows10CustomConfiguration",
        "id": configuration_id,
        "displayName": f"Custom {configuration_id}",
        "version": 1,
        "omaSettings": settings,
        "assignments": assignments,
    }


def catalog_policy(
    policy_id: str, definition_id: str, choice: str, assignments: list[dict[str, Any]]
) -> dict[str, Any]:
    """A settings catalog policy with the DMClient setting nested under its provider group."""
    nested = {
        "@odata.type": "#microsoft.graph.deviceManagementConfigurationChoiceSettingInstance",
        "settingDefinitionId": definition_id,
        "choiceSettingValue": {"value": f"{definition_id}_{choice}", "children": []},
    }
    provider = {
        "@odata.type": (
            "#microsoft.graph.deviceManagementConfigurationGroupSettingCollectionInstance"
        ),
        "settingDefinitionId": "device_vendor_msft_dmclient_provider_{providerid}",
        "groupSettingCollectionValue": [{"children": [nested]}],
    }
    return {
        "id": policy_id,
        "name": f"Catalog {policy_id}",
        "platforms": "windows10",
        "technologies": "mdm",
        "settingCount": 1,
        "assignments": assignments,
        "settings": [{"id": "0", "settingInstance": provider}],
    }


def older_profile(profile_id: str, *, preprovisioning: bool, **fields: Any) -> dict[str, Any]:
    return autopilot_profile(
        profile_id,
        f"Profile {profile_id}",
        assignments=[include_group(AP_GROUP_ID)],
        created="2023-01-01T00:00:00Z",
        preprovisioning=preprovisioning,
        **fields,
    )


def device_b_group() -> dict[str, Any]:
    return assigned_group(
        DEVICE_B_GROUP_ID, "Device B only", [device_member(DEVICE_B_ENTRA_OBJECT_ID)]
    )


# --- healthy baseline ----------------------------------------------------------------------------


@pytest.mark.parametrize("rule", DECIDED_RULES, ids=lambda module: module.METADATA.id)
def test_healthy_tenant_passes_every_profile_and_esp_rule(rule: ModuleType) -> None:
    statuses = {f.status for f in findings(rule, healthy_tenant())}

    # No ESP of the healthy tenant is assigned with a filter: ESP-012 has nothing to check.
    expected = Status.NOT_APPLICABLE if rule.METADATA.id == "ESP-012" else Status.PASS
    assert statuses == {expected}


# --- PRF-001 -------------------------------------------------------------------------------------


def test_profile_without_preprovisioning_fails_when_no_profile_allows_it() -> None:
    tenant = healthy_tenant().patch(AUTOPILOT_PROFILES, PROFILE_ID, preprovisioningAllowed=False)

    finding = only(prf_001_preprovisioning_allowed, tenant)

    assert (finding.subject.id, finding.status, finding.severity) == (
        PROFILE_ID,
        Status.FAIL,
        Severity.BLOCKER,
    )
    assert set(finding.devices) == {DEVICE_A_ID, DEVICE_B_ID}


def test_older_profile_without_preprovisioning_winning_the_devices_fails() -> None:
    tenant = healthy_tenant().add(
        AUTOPILOT_PROFILES, older_profile(OLD_PROFILE_ID, preprovisioning=False)
    )

    assert verdicts(prf_001_preprovisioning_allowed, tenant) == {(OLD_PROFILE_ID, Status.FAIL)}


def test_unreadable_devices_with_no_profile_forbidding_preprovisioning_still_pass() -> None:
    # Whichever devices the profile holds, every profile they could get allows pre-provisioning.
    tenant = healthy_tenant().unreadable(DEVICES)

    assert verdicts(prf_001_preprovisioning_allowed, tenant) == {(PROFILE_ID, Status.PASS)}


def test_unreadable_devices_with_an_older_profile_forbidding_it_are_unknown() -> None:
    tenant = (
        healthy_tenant()
        .unreadable(DEVICES)
        .add(
            AUTOPILOT_PROFILES,
            autopilot_profile(
                "prf-old",
                "Old standard profile",
                assignments=[include_group(AP_GROUP_ID)],
                created="2020-01-01T00:00:00Z",
                preprovisioning=False,
            ),
        )
    )

    assert verdicts(prf_001_preprovisioning_allowed, tenant) == {(PROFILE_ID, Status.UNKNOWN)}


def test_unreadable_devices_with_only_a_newer_profile_forbidding_it_pass() -> None:
    # The oldest targeting profile wins: a newer one never takes the profile's devices.
    tenant = (
        healthy_tenant()
        .unreadable(DEVICES)
        .add(
            AUTOPILOT_PROFILES,
            autopilot_profile(
                "prf-new",
                "New standard profile",
                assignments=[include_group(AP_GROUP_ID)],
                created="2030-01-01T00:00:00Z",
                preprovisioning=False,
            ),
        )
    )

    assert verdicts(prf_001_preprovisioning_allowed, tenant) == {(PROFILE_ID, Status.PASS)}


def test_deprecated_white_glove_flag_still_allows_preprovisioning() -> None:
    tenant = healthy_tenant().patch(
        AUTOPILOT_PROFILES, PROFILE_ID, preprovisioningAllowed=False, enableWhiteGlove=True
    )

    assert verdicts(prf_001_preprovisioning_allowed, tenant) == {(PROFILE_ID, Status.PASS)}


# --- PRF-002 -------------------------------------------------------------------------------------


def _experience(tenant: TenantBuilder, **changes: Any) -> dict[str, Any]:
    experience: dict[str, Any] = dict(
        tenant.object(AUTOPILOT_PROFILES, PROFILE_ID)["outOfBoxExperienceSetting"]
    )
    experience.update(changes)
    return experience


def test_self_deploying_preprovisioning_profile_fails() -> None:
    tenant = healthy_tenant()
    tenant.patch(
        AUTOPILOT_PROFILES,
        PROFILE_ID,
        outOfBoxExperienceSetting=_experience(tenant, deviceUsageType="shared"),
    )

    assert verdicts(prf_002_user_driven_mode, tenant) == {(PROFILE_ID, Status.FAIL)}


def test_profile_without_deployment_mode_is_unknown() -> None:
    tenant = healthy_tenant().patch(
        AUTOPILOT_PROFILES, PROFILE_ID, outOfBoxExperienceSetting=REMOVE
    )

    assert verdicts(prf_002_user_driven_mode, tenant) == {(PROFILE_ID, Status.UNKNOWN)}


def test_user_driven_mode_in_the_deprecated_settings_object_passes() -> None:
    tenant = healthy_tenant()
    experience = _experience(tenant)
    tenant.patch(
        AUTOPILOT_PROFILES,
        PROFILE_ID,
        outOfBoxExperienceSetting=REMOVE,
        outOfBoxExperienceSettings=experience,
    )

    assert verdicts(prf_002_user_driven_mode, tenant) == {(PROFILE_ID, Status.PASS)}


# --- PRF-003 -------------------------------------------------------------------------------------


def test_hybrid_join_profile_warns() -> None:
    tenant = healthy_tenant().patch(
        AUTOPILOT_PROFILES,
        PROFILE_ID,
        {"@odata.type": "#microsoft.graph.activeDirectoryWindowsAutopilotDeploymentProfile"},
    )

    finding = only(prf_003_entra_join, tenant)

    assert (finding.subject.id, finding.status, finding.severity) == (
        PROFILE_ID,
        Status.FAIL,
        Severity.WARNING,
    )


def test_unreadable_profiles_make_the_join_type_unknown() -> None:
    tenant = healthy_tenant().unreadable(AUTOPILOT_PROFILES)

    assert verdicts(prf_003_entra_join, tenant) == {(TENANT_ID, Status.UNKNOWN)}


def test_entra_join_type_written_without_hash_passes() -> None:
    tenant = healthy_tenant().patch(
        AUTOPILOT_PROFILES,
        PROFILE_ID,
        {"@odata.type": "microsoft.graph.azureADWindowsAutopilotDeploymentProfile"},
    )

    assert verdicts(prf_003_entra_join, tenant) == {(PROFILE_ID, Status.PASS)}


# --- PRF-004 -------------------------------------------------------------------------------------


@pytest.mark.parametrize("device_type", ["holoLens", "virtualMachine", "surfaceHub2"])
def test_preprovisioning_profile_for_another_device_type_fails(device_type: str) -> None:
    tenant = healthy_tenant().patch(AUTOPILOT_PROFILES, PROFILE_ID, deviceType=device_type)

    assert verdicts(prf_004_device_type_windows_pc, tenant) == {(PROFILE_ID, Status.FAIL)}


def test_profile_without_device_type_is_unknown() -> None:
    tenant = healthy_tenant().patch(AUTOPILOT_PROFILES, PROFILE_ID, deviceType=REMOVE)

    assert verdicts(prf_004_device_type_windows_pc, tenant) == {(PROFILE_ID, Status.UNKNOWN)}


def test_device_type_compares_without_case() -> None:
    tenant = healthy_tenant().patch(AUTOPILOT_PROFILES, PROFILE_ID, deviceType="WindowsPC")

    assert verdicts(prf_004_device_type_windows_pc, tenant) == {(PROFILE_ID, Status.PASS)}


# --- PRF-005 -------------------------------------------------------------------------------------


def test_two_preprovisioning_profiles_for_the_same_devices_warn_on_the_oldest() -> None:
    newer = autopilot_profile(
        SECOND_PROFILE_ID,
        "Second",
        assignments=[include_group(AP_GROUP_ID)],
        created="2025-01-01T00:00:00Z",
    )
    tenant = healthy_tenant().add(AUTOPILOT_PROFILES, newer)

    produced = findings(prf_005_one_profile_per_device, tenant)

    # Both profiles are checked; both report the same conflict, won by the oldest.
    assert {(f.subject.id, f.status, f.severity) for f in produced} == {
        (PROFILE_ID, Status.FAIL, Severity.WARNING)
    }
    assert all(set(f.devices) == {DEVICE_A_ID, DEVICE_B_ID} for f in produced)


def test_older_conflicting_profile_without_preprovisioning_is_a_blocker() -> None:
    tenant = healthy_tenant().add(
        AUTOPILOT_PROFILES, older_profile(OLD_PROFILE_ID, preprovisioning=False)
    )

    finding = only(prf_005_one_profile_per_device, tenant)

    assert (finding.subject.id, finding.status, finding.severity) == (
        OLD_PROFILE_ID,
        Status.FAIL,
        Severity.BLOCKER,
    )


def test_conflicts_cannot_be_told_when_entra_devices_are_unreadable() -> None:
    tenant = healthy_tenant().unreadable(DEVICES)

    assert verdicts(prf_005_one_profile_per_device, tenant) == {(PROFILE_ID, Status.UNKNOWN)}


def test_second_profile_for_an_excluded_group_is_no_conflict() -> None:
    tenant = (
        healthy_tenant()
        .add(GROUPS, device_b_group())
        .assign(
            AUTOPILOT_PROFILES,
            PROFILE_ID,
            include_group(AP_GROUP_ID),
            exclude_group(DEVICE_B_GROUP_ID),
        )
        .add(
            AUTOPILOT_PROFILES,
            autopilot_profile(
                SECOND_PROFILE_ID, "Second", assignments=[include_group(DEVICE_B_GROUP_ID)]
            ),
        )
    )

    assert verdicts(prf_005_one_profile_per_device, tenant) == {
        (PROFILE_ID, Status.PASS),
        (SECOND_PROFILE_ID, Status.PASS),
    }


# --- PRF-006 -------------------------------------------------------------------------------------


def test_all_devices_with_an_exclusion_fails() -> None:
    tenant = healthy_tenant().assign(
        AUTOPILOT_PROFILES, PROFILE_ID, all_devices(), exclude_group(USER_GROUP_ID)
    )

    assert verdicts(prf_006_no_exclusions_with_all_devices, tenant) == {(PROFILE_ID, Status.FAIL)}


def test_unreadable_profile_assignments_make_exclusions_unknown() -> None:
    tenant = healthy_tenant().navigation_unreadable(AUTOPILOT_PROFILES, PROFILE_ID, "assignments")

    assert verdicts(prf_006_no_exclusions_with_all_devices, tenant) == {
        (PROFILE_ID, Status.UNKNOWN)
    }


def test_all_devices_without_exclusions_passes() -> None:
    tenant = healthy_tenant().assign(AUTOPILOT_PROFILES, PROFILE_ID, all_devices())

    assert verdicts(prf_006_no_exclusions_with_all_devices, tenant) == {(PROFILE_ID, Status.PASS)}


# --- PRF-007 -------------------------------------------------------------------------------------


def test_device_group_both_included_and_excluded_fails() -> None:
    tenant = healthy_tenant().assign(
        AUTOPILOT_PROFILES, PROFILE_ID, include_group(AP_GROUP_ID), exclude_group(AP_GROUP_ID)
    )

    assert verdicts(prf_007_device_group_not_excluded, tenant) == {(AP_GROUP_ID, Status.FAIL)}


def test_exclusion_leaving_devices_without_any_profile_fails() -> None:
    tenant = (
        healthy_tenant()
        .add(GROUPS, device_b_group())
        .assign(
            AUTOPILOT_PROFILES,
            PROFILE_ID,
            include_group(AP_GROUP_ID),
            exclude_group(DEVICE_B_GROUP_ID),
        )
    )

    finding = only(prf_007_device_group_not_excluded, tenant)

    assert (finding.subject.id, finding.status, finding.devices) == (
        DEVICE_B_GROUP_ID,
        Status.FAIL,
        (DEVICE_B_ID,),
    )


def test_excluded_group_of_unknown_membership_is_unknown() -> None:
    tenant = (
        healthy_tenant()
        .add(GROUPS, device_b_group())
        .navigation_unreadable(GROUPS, DEVICE_B_GROUP_ID, "members")
        .assign(
            AUTOPILOT_PROFILES,
            PROFILE_ID,
            include_group(AP_GROUP_ID),
            exclude_group(DEVICE_B_GROUP_ID),
        )
    )

    assert verdicts(prf_007_device_group_not_excluded, tenant) == {(PROFILE_ID, Status.UNKNOWN)}


def test_exclusion_whose_devices_get_another_profile_passes() -> None:
    tenant = (
        healthy_tenant()
        .add(GROUPS, device_b_group())
        .assign(
            AUTOPILOT_PROFILES,
            PROFILE_ID,
            include_group(AP_GROUP_ID),
            exclude_group(DEVICE_B_GROUP_ID),
        )
        .add(
            AUTOPILOT_PROFILES,
            autopilot_profile(
                SECOND_PROFILE_ID, "Second", assignments=[include_group(DEVICE_B_GROUP_ID)]
            ),
        )
    )

    assert verdicts(prf_007_device_group_not_excluded, tenant) == {
        (DEVICE_B_GROUP_ID, Status.PASS),
        (SECOND_PROFILE_ID, Status.PASS),
    }


# --- PRF-008 -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("template", "severity"),
    [
        ("CONTOSO-LAPTOP-%RAND:4%", Severity.ERROR),  # 19 characters
        ("CON_%SERIAL%", Severity.ERROR),  # underscore
        ("%RAND:6%", Severity.ERROR),  # all numbers
        ("CON-%USERNAME%", Severity.ERROR),  # unknown macro
        ("CONTOSO-%SERIAL%", Severity.WARNING),  # 8 + an 8-character serial
        ("CONTOSO-PC", Severity.WARNING),  # every device gets the same name
    ],
)
def test_invalid_device_name_template_fails(template: str, severity: Severity) -> None:
    tenant = healthy_tenant().patch(AUTOPILOT_PROFILES, PROFILE_ID, deviceNameTemplate=template)

    finding = only(prf_008_device_name_template_valid, tenant)

    assert (finding.subject.id, finding.status, finding.severity) == (
        PROFILE_ID,
        Status.FAIL,
        severity,
    )


def test_device_name_template_on_a_hybrid_profile_warns() -> None:
    tenant = healthy_tenant().patch(
        AUTOPILOT_PROFILES,
        PROFILE_ID,
        {"@odata.type": "#microsoft.graph.activeDirectoryWindowsAutopilotDeploymentProfile"},
    )

    finding = only(prf_008_device_name_template_valid, tenant)

    assert (finding.status, finding.severity) == (Status.FAIL, Severity.WARNING)


def test_device_name_template_unknown_when_profiles_unreadable() -> None:
    tenant = healthy_tenant().unreadable(AUTOPILOT_PROFILES)

    assert verdicts(prf_008_device_name_template_valid, tenant) == {(TENANT_ID, Status.UNKNOWN)}


@pytest.mark.parametrize("template", ["CONTOS-%SERIAL%", "PC-%RAND:12%", "", "7-%rand:5%"])
def test_device_name_template_at_the_limits_passes(template: str) -> None:
    tenant = healthy_tenant().patch(AUTOPILOT_PROFILES, PROFILE_ID, deviceNameTemplate=template)

    assert verdicts(prf_008_device_name_template_valid, tenant) == {(PROFILE_ID, Status.PASS)}


# --- PRF-011 -------------------------------------------------------------------------------------


def test_tenant_without_profiles_fails() -> None:
    tenant = healthy_tenant().empty(AUTOPILOT_PROFILES)

    assert verdicts(prf_011_preprovisioning_profile_exists, tenant) == {(TENANT_ID, Status.FAIL)}


def test_tenant_whose_profiles_do_not_allow_preprovisioning_fails() -> None:
    tenant = healthy_tenant().patch(AUTOPILOT_PROFILES, PROFILE_ID, preprovisioningAllowed=False)

    assert verdicts(prf_011_preprovisioning_profile_exists, tenant) == {(TENANT_ID, Status.FAIL)}


def test_unassigned_preprovisioning_profile_fails() -> None:
    tenant = healthy_tenant().assign(AUTOPILOT_PROFILES, PROFILE_ID)

    assert verdicts(prf_011_preprovisioning_profile_exists, tenant) == {(TENANT_ID, Status.FAIL)}


def test_preprovisioning_profile_with_unreadable_assignments_is_unknown() -> None:
    tenant = healthy_tenant().navigation_unreadable(AUTOPILOT_PROFILES, PROFILE_ID, "assignments")

    assert verdicts(prf_011_preprovisioning_profile_exists, tenant) == {(TENANT_ID, Status.UNKNOWN)}


def test_profile_assigned_to_all_devices_with_preprovisioning_passes() -> None:
    tenant = healthy_tenant().assign(AUTOPILOT_PROFILES, PROFILE_ID, all_devices())

    assert verdicts(prf_011_preprovisioning_profile_exists, tenant) == {(TENANT_ID, Status.PASS)}


# --- ESP-001 -------------------------------------------------------------------------------------


def test_device_esp_not_showing_progress_fails() -> None:
    tenant = healthy_tenant().patch(
        ENROLLMENT_CONFIGURATIONS, DEVICE_ESP_ID, showInstallationProgress=False
    )

    assert verdicts(esp_001_device_esp_shows_progress, tenant) == {(DEVICE_ESP_ID, Status.FAIL)}


def test_user_targeted_esp_leaves_the_default_esp_without_progress() -> None:
    tenant = healthy_tenant().assign(
        ENROLLMENT_CONFIGURATIONS, DEVICE_ESP_ID, include_group(USER_GROUP_ID)
    )

    finding = only(esp_001_device_esp_shows_progress, tenant)

    assert (finding.subject.id, finding.status) == (DEFAULT_ESP_ID, Status.FAIL)
    assert any("ignored in pre-provisioning" in reason for reason in finding.reasons)


def test_esp_progress_setting_missing_is_unknown() -> None:
    tenant = healthy_tenant().patch(
        ENROLLMENT_CONFIGURATIONS, DEVICE_ESP_ID, showInstallationProgress=REMOVE
    )

    assert verdicts(esp_001_device_esp_shows_progress, tenant) == {(DEVICE_ESP_ID, Status.UNKNOWN)}


def test_unreadable_enrollment_configurations_make_the_esp_unknown() -> None:
    tenant = healthy_tenant().unreadable(ENROLLMENT_CONFIGURATIONS)

    assert verdicts(esp_001_device_esp_shows_progress, tenant) == {(TENANT_ID, Status.UNKNOWN)}


def test_esp_assigned_to_all_devices_passes() -> None:
    tenant = healthy_tenant().assign(ENROLLMENT_CONFIGURATIONS, DEVICE_ESP_ID, all_devices())

    assert verdicts(esp_001_device_esp_shows_progress, tenant) == {(DEVICE_ESP_ID, Status.PASS)}


# --- ESP-002 -------------------------------------------------------------------------------------


def test_blocking_list_only_on_a_user_targeted_esp_fails() -> None:
    tenant = healthy_tenant().assign(
        ENROLLMENT_CONFIGURATIONS, DEVICE_ESP_ID, include_group(USER_GROUP_ID)
    )

    assert verdicts(esp_002_blocking_apps_on_device_esp, tenant) == {(DEVICE_ESP_ID, Status.FAIL)}


def test_blocking_list_unknown_when_enrollment_configurations_unreadable() -> None:
    tenant = healthy_tenant().unreadable(ENROLLMENT_CONFIGURATIONS)

    assert verdicts(esp_002_blocking_apps_on_device_esp, tenant) == {(TENANT_ID, Status.UNKNOWN)}


def test_user_targeted_esp_without_blocking_list_passes() -> None:
    tenant = (
        healthy_tenant()
        .patch(ENROLLMENT_CONFIGURATIONS, DEVICE_ESP_ID, selectedMobileAppIds=[])
        .assign(ENROLLMENT_CONFIGURATIONS, DEVICE_ESP_ID, include_group(USER_GROUP_ID))
    )

    assert verdicts(esp_002_blocking_apps_on_device_esp, tenant) == {(DEFAULT_ESP_ID, Status.PASS)}


# --- ESP-003 -------------------------------------------------------------------------------------


def _agent_experience(**changes: Any) -> dict[str, Any]:
    return {"runAsAccount": "system", "maxRunTimeInMinutes": 60, **changes}


def test_blocking_win32_app_installing_as_user_fails() -> None:
    tenant = healthy_tenant().patch(
        MOBILE_APPS, AGENT_APP_ID, installExperience=_agent_experience(runAsAccount="user")
    )

    finding = only(esp_003_blocking_apps_install_in_device_phase, tenant)

    assert (finding.subject.id, finding.status, finding.severity) == (
        AGENT_APP_ID,
        Status.FAIL,
        Severity.ERROR,
    )


def test_blocking_app_only_available_fails() -> None:
    tenant = healthy_tenant().assign(
        MOBILE_APPS, AGENT_APP_ID, include_group(AP_GROUP_ID, intent="available")
    )

    assert verdicts(esp_003_blocking_apps_install_in_device_phase, tenant) == {
        (AGENT_APP_ID, Status.FAIL)
    }


def test_blocking_app_required_for_users_fails_for_devices_without_assigned_user() -> None:
    tenant = healthy_tenant().assign(
        MOBILE_APPS, AGENT_APP_ID, include_group(USER_GROUP_ID, intent="required")
    )

    finding = only(esp_003_blocking_apps_install_in_device_phase, tenant)

    assert (finding.subject.id, finding.status, finding.devices) == (
        AGENT_APP_ID,
        Status.FAIL,
        (DEVICE_B_ID,),
    )


def test_blocking_app_with_unreadable_assignments_is_unknown() -> None:
    tenant = healthy_tenant().navigation_unreadable(MOBILE_APPS, AGENT_APP_ID, "assignments")

    assert verdicts(esp_003_blocking_apps_install_in_device_phase, tenant) == {
        (AGENT_APP_ID, Status.UNKNOWN)
    }


def test_blocking_apps_unknown_when_apps_unreadable() -> None:
    tenant = healthy_tenant().unreadable(MOBILE_APPS)

    assert verdicts(esp_003_blocking_apps_install_in_device_phase, tenant) == {
        (TENANT_ID, Status.UNKNOWN)
    }


def test_blocking_app_behind_a_filter_warns() -> None:
    tenant = healthy_tenant().assign(
        MOBILE_APPS,
        AGENT_APP_ID,
        include_group(AP_GROUP_ID, intent="required", filter_id=NAME_FILTER_ID),
    )

    finding = only(esp_003_blocking_apps_install_in_device_phase, tenant)

    assert (finding.status, finding.severity) == (Status.FAIL, Severity.WARNING)


def test_empty_blocking_list_checks_only_required_device_phase_apps() -> None:
    # The Company Portal installs as user but is only available to users: it does not block.
    tenant = healthy_tenant().patch(
        ENROLLMENT_CONFIGURATIONS, DEVICE_ESP_ID, selectedMobileAppIds=[]
    )

    assert verdicts(esp_003_blocking_apps_install_in_device_phase, tenant) == {
        (AGENT_APP_ID, Status.PASS)
    }


def test_msi_without_device_context_flag_is_unknown() -> None:
    msi = {
        "@odata.type": "#microsoft.graph.windowsMobileMSI",
        "id": "app-msi",
        "displayName": "Contoso MSI",
        "assignments": [include_group(AP_GROUP_ID, intent="required")],
        "relationships": [],
    }
    tenant = (
        healthy_tenant()
        .add(MOBILE_APPS, msi)
        .patch(ENROLLMENT_CONFIGURATIONS, DEVICE_ESP_ID, selectedMobileAppIds=["app-msi"])
    )

    assert verdicts(esp_003_blocking_apps_install_in_device_phase, tenant) == {
        ("app-msi", Status.UNKNOWN)
    }


# --- ESP-004 -------------------------------------------------------------------------------------


def _with_apps(count: int) -> tuple[TenantBuilder, list[str]]:
    tenant = healthy_tenant()
    ids = [AGENT_APP_ID]
    for number in range(count - 1):
        app_id = f"app-extra-{number:03d}"
        tenant.add(MOBILE_APPS, win32_app(app_id, app_id, assignments=[]))
        ids.append(app_id)
    return tenant, ids


def test_more_than_100_blocking_apps_fails() -> None:
    tenant, ids = _with_apps(101)
    tenant.patch(ENROLLMENT_CONFIGURATIONS, DEVICE_ESP_ID, selectedMobileAppIds=ids)

    assert verdicts(esp_004_blocking_list_limits, tenant) == {(DEVICE_ESP_ID, Status.FAIL)}


def test_deleted_blocking_app_warns() -> None:
    tenant = healthy_tenant().patch(
        ENROLLMENT_CONFIGURATIONS, DEVICE_ESP_ID, selectedMobileAppIds=[AGENT_APP_ID, "gone"]
    )

    finding = only(esp_004_blocking_list_limits, tenant)

    assert (finding.subject.id, finding.status, finding.severity) == (
        DEVICE_ESP_ID,
        Status.FAIL,
        Severity.WARNING,
    )


def test_blocking_apps_existence_unknown_when_apps_unreadable() -> None:
    tenant = healthy_tenant().unreadable(MOBILE_APPS)

    assert verdicts(esp_004_blocking_list_limits, tenant) == {(DEVICE_ESP_ID, Status.UNKNOWN)}


def test_exactly_100_existing_blocking_apps_passes() -> None:
    tenant, ids = _with_apps(100)
    tenant.patch(ENROLLMENT_CONFIGURATIONS, DEVICE_ESP_ID, selectedMobileAppIds=ids)

    assert verdicts(esp_004_blocking_list_limits, tenant) == {(DEVICE_ESP_ID, Status.PASS)}


# --- ESP-005 -------------------------------------------------------------------------------------


def test_esp_timeout_below_an_hour_warns() -> None:
    tenant = healthy_tenant().patch(
        ENROLLMENT_CONFIGURATIONS, DEVICE_ESP_ID, installProgressTimeoutInMinutes=45
    )

    assert verdicts(esp_005_timeout_covers_workload, tenant) == {(DEVICE_ESP_ID, Status.FAIL)}


def test_esp_timeout_shorter_than_blocking_apps_run_time_warns() -> None:
    tenant = healthy_tenant().patch(
        MOBILE_APPS, AGENT_APP_ID, installExperience=_agent_experience(maxRunTimeInMinutes=120)
    )

    assert verdicts(esp_005_timeout_covers_workload, tenant) == {(DEVICE_ESP_ID, Status.FAIL)}


def test_esp_timeout_missing_is_unknown() -> None:
    tenant = healthy_tenant().patch(
        ENROLLMENT_CONFIGURATIONS, DEVICE_ESP_ID, installProgressTimeoutInMinutes=REMOVE
    )

    assert verdicts(esp_005_timeout_covers_workload, tenant) == {(DEVICE_ESP_ID, Status.UNKNOWN)}


def test_esp_timeout_equal_to_blocking_run_time_passes() -> None:
    tenant = healthy_tenant().patch(
        MOBILE_APPS, AGENT_APP_ID, installExperience=_agent_experience(maxRunTimeInMinutes=90)
    )

    assert verdicts(esp_005_timeout_covers_workload, tenant) == {(DEVICE_ESP_ID, Status.PASS)}


# --- ESP-010 -------------------------------------------------------------------------------------


def _skip_user(value: Any, kind: str = "omaSettingBoolean", **fields: Any) -> TenantBuilder:
    return healthy_tenant().patch(
        DEVICE_CONFIGURATIONS,
        SKIP_USER_ESP_ID,
        omaSettings=[oma_setting(SKIP_USER_STATUS_PAGE_URI, value, kind, **fields)],
    )


def test_missing_skip_user_status_page_warns() -> None:
    tenant = healthy_tenant().remove(DEVICE_CONFIGURATIONS, SKIP_USER_ESP_ID)

    finding = only(esp_010_user_esp_skipped, tenant)

    assert (finding.subject.id, finding.status, finding.severity) == (
        PROFILE_ID,
        Status.FAIL,
        Severity.WARNING,
    )


def test_skip_user_status_page_assigned_to_users_only_is_an_error() -> None:
    tenant = healthy_tenant().assign(
        DEVICE_CONFIGURATIONS, SKIP_USER_ESP_ID, include_group(USER_GROUP_ID)
    )

    finding = only(esp_010_user_esp_skipped, tenant)

    assert (finding.subject.id, finding.status, finding.severity) == (
        SKIP_USER_ESP_ID,
        Status.FAIL,
        Severity.ERROR,
    )


def test_skip_user_status_page_as_string_true_warns() -> None:
    finding = only(esp_010_user_esp_skipped, _skip_user("True", "omaSettingString"))

    assert (finding.subject.id, finding.status, finding.severity) == (
        SKIP_USER_ESP_ID,
        Status.FAIL,
        Severity.WARNING,
    )


def test_skip_user_status_page_set_to_false_warns() -> None:
    assert verdicts(esp_010_user_esp_skipped, _skip_user(False)) == {(PROFILE_ID, Status.FAIL)}


def test_encrypted_skip_user_status_page_is_unknown() -> None:
    tenant = _skip_user(None, "omaSettingString", isEncrypted=True)

    assert verdicts(esp_010_user_esp_skipped, tenant) == {(SKIP_USER_ESP_ID, Status.UNKNOWN)}


def test_unreadable_device_configurations_make_skip_user_unknown() -> None:
    tenant = healthy_tenant().unreadable(DEVICE_CONFIGURATIONS)

    assert verdicts(esp_010_user_esp_skipped, tenant) == {(PROFILE_ID, Status.UNKNOWN)}


def test_encrypted_value_does_not_matter_when_the_settings_catalog_proves_it() -> None:
    tenant = _skip_user(None, "omaSettingString", isEncrypted=True).add(
        SETTINGS_CATALOG_POLICIES,
        catalog_policy("scp-skip-user", SKIP_USER_DEFINITION, "true", [include_group(AP_GROUP_ID)]),
    )

    assert verdicts(esp_010_user_esp_skipped, tenant) == {("scp-skip-user", Status.PASS)}


def test_settings_catalog_skip_user_status_page_nested_under_the_provider_passes() -> None:
    tenant = (
        healthy_tenant()
        .remove(DEVICE_CONFIGURATIONS, SKIP_USER_ESP_ID)
        .add(
            SETTINGS_CATALOG_POLICIES,
            catalog_policy(
                "scp-skip-user", SKIP_USER_DEFINITION, "true", [include_group(AP_GROUP_ID)]
            ),
        )
    )

    assert verdicts(esp_010_user_esp_skipped, tenant) == {("scp-skip-user", Status.PASS)}


def test_oma_uri_in_another_case_still_passes() -> None:
    tenant = healthy_tenant().patch(
        DEVICE_CONFIGURATIONS,
        SKIP_USER_ESP_ID,
        omaSettings=[oma_setting(SKIP_USER_STATUS_PAGE_URI.upper(), True)],
    )

    assert verdicts(esp_010_user_esp_skipped, tenant) == {(SKIP_USER_ESP_ID, Status.PASS)}


# --- ESP-011 -------------------------------------------------------------------------------------


def test_skip_device_status_page_for_autopilot_devices_fails() -> None:
    configuration = custom_configuration(
        "cfg-skip-device",
        [oma_setting(SKIP_DEVICE_STATUS_PAGE_URI, True)],
        [include_group(AP_GROUP_ID)],
    )
    tenant = healthy_tenant().add(DEVICE_CONFIGURATIONS, configuration)

    assert verdicts(esp_011_device_esp_not_skipped, tenant) == {("cfg-skip-device", Status.FAIL)}


def test_skip_device_status_page_in_the_settings_catalog_fails() -> None:
    tenant = healthy_tenant().add(
        SETTINGS_CATALOG_POLICIES,
        catalog_policy("scp-skip-device", SKIP_DEVICE_DEFINITION, "true", [all_devices()]),
    )

    assert verdicts(esp_011_device_esp_not_skipped, tenant) == {("scp-skip-device", Status.FAIL)}


def test_unreadable_settings_of_an_applying_policy_make_skip_device_unknown() -> None:
    tenant = healthy_tenant().navigation_unreadable(
        SETTINGS_CATALOG_POLICIES, SETTINGS_POLICY_ID, "settings"
    )

    assert verdicts(esp_011_device_esp_not_skipped, tenant) == {
        (SETTINGS_POLICY_ID, Status.UNKNOWN)
    }


def test_skip_device_status_page_for_users_only_or_false_passes() -> None:
    tenant = healthy_tenant().add(
        DEVICE_CONFIGURATIONS,
        custom_configuration(
            "cfg-users",
            [oma_setting(SKIP_DEVICE_STATUS_PAGE_URI, True)],
            [include_group(USER_GROUP_ID)],
        ),
        custom_configuration(
            "cfg-false",
            [oma_setting(SKIP_DEVICE_STATUS_PAGE_URI, False)],
            [include_group(AP_GROUP_ID)],
        ),
    )

    assert verdicts(esp_011_device_esp_not_skipped, tenant) == {(PROFILE_ID, Status.PASS)}


# --- the Contoso sample --------------------------------------------------------------------------


def _sample_ids(snapshot: TenantSnapshot) -> dict[str, str]:
    names = {app.display_name: app.id for app in snapshot.mobile_apps or ()}
    names.update({p.display_name: p.id for p in snapshot.autopilot_profiles or ()})
    names.update({c.display_name: c.id for c in snapshot.enrollment_configurations or ()})
    return names


def test_sample_tenant_shows_its_deliberate_profile_and_esp_problems_and_no_others() -> None:
    document = json.loads(build_sample.SAMPLE_PATH.read_text(encoding="utf-8"))
    snapshot = TenantSnapshot.from_document(document)
    ids = _sample_ids(snapshot)

    evaluation = evaluate_snapshot(snapshot, rules=[Rule.from_module(m) for m in RULES])
    not_green = {
        (f.rule_id, f.subject.id, f.status)
        for f in evaluation.findings
        if f.status in (Status.FAIL, Status.UNKNOWN)
    }

    assert not_green == {
        ("ESP-003", ids["Zoom Workplace"], Status.FAIL),
        ("PRF-003", ids["Contoso - Hybrid join (manufacturing)"], Status.FAIL),
        # With the design (samples/README.md): "only fail selected blocking apps" is off, so the
        # required apps outside the blocking lists wait for the user's first sign-in.
        ("ESP-006", ids["Autopilot - Pre-provisioning ESP"], Status.FAIL),
        ("ESP-006", ids["Autopilot - Sales devices ESP"], Status.FAIL),
    }
