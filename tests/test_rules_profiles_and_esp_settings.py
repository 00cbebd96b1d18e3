"""Profile and ESP rules ESP-006/007/008/012, PRF-009/010: each starts from the healthy tenant
(or Microsoft's example ESP) and breaks one field."""

from __future__ import annotations

from types import ModuleType
from typing import Any

import pytest

from rules.checks.profiles_and_esp import (
    esp_006_nonblocking_apps_in_technician_phase,
    esp_007_failure_keeps_device_in_esp,
    esp_008_quality_updates_in_user_flow,
    esp_012_esp_filters_use_supported_properties,
    prf_009_language_user_selected,
    prf_010_profile_edits_reach_enrolled_devices,
)
from rules.context import RuleContext
from rules.engine import Rule, run_rule
from rules.findings import Finding, Severity, Status
from rules.tenant_collections import (
    ASSIGNMENT_FILTERS,
    AUTOPILOT_DEVICES,
    AUTOPILOT_PROFILES,
    DEVICES,
    ENROLLMENT_CONFIGURATIONS,
    MOBILE_APPS,
)
from tests.tenant_builder import (
    AGENT_APP_ID,
    AP_GROUP_ID,
    DEFAULT_ESP_ID,
    DEVICE_A_ID,
    DEVICE_ESP_ID,
    PROFILE_ID,
    REMOVE,
    SURFACE_FILTER_ID,
    TENANT_ID,
    TenantBuilder,
    assignment_filter,
    healthy_tenant,
    include_group,
    win32_app,
)
from tests.tenant_builder_payloads import example

NEW_RULES = (
    esp_006_nonblocking_apps_in_technician_phase,
    esp_007_failure_keeps_device_in_esp,
    esp_008_quality_updates_in_user_flow,
    esp_012_esp_filters_use_supported_properties,
    prf_009_language_user_selected,
    prf_010_profile_edits_reach_enrolled_devices,
)
SECOND_APP = "app-contoso-vpn"


def findings(rule: ModuleType, tenant: TenantBuilder) -> list[Finding]:
    return run_rule(Rule.from_module(rule), RuleContext.for_snapshot(tenant.snapshot()))


def verdicts(rule: ModuleType, tenant: TenantBuilder) -> set[tuple[str, Status]]:
    return {(f.subject.id, f.status) for f in findings(rule, tenant)}


def statuses(rule: ModuleType, tenant: TenantBuilder) -> set[Status]:
    return {status for _, status in verdicts(rule, tenant)}


@pytest.mark.parametrize("rule", NEW_RULES, ids=lambda module: module.METADATA.id)
def test_healthy_tenant_has_no_failure_or_unknown(rule: ModuleType) -> None:
    assert statuses(rule, healthy_tenant()) & {Status.FAIL, Status.UNKNOWN} == set()


@pytest.mark.parametrize("rule", NEW_RULES, ids=lambda module: module.METADATA.id)
def test_unreadable_profiles_make_every_rule_unknown(rule: ModuleType) -> None:
    tenant = healthy_tenant().unreadable(AUTOPILOT_PROFILES)
    assert verdicts(rule, tenant) == {(TENANT_ID, Status.UNKNOWN)}


@pytest.mark.parametrize("rule", NEW_RULES, ids=lambda module: module.METADATA.id)
def test_no_preprovisioning_profile_is_not_applicable(rule: ModuleType) -> None:
    tenant = healthy_tenant().patch(AUTOPILOT_PROFILES, PROFILE_ID, preprovisioningAllowed=False)
    assert statuses(rule, tenant) == {Status.NOT_APPLICABLE}


@pytest.mark.parametrize(
    "rule",
    [
        esp_006_nonblocking_apps_in_technician_phase,
        esp_007_failure_keeps_device_in_esp,
        esp_008_quality_updates_in_user_flow,
    ],
    ids=lambda module: module.METADATA.id,
)
def test_esp_settings_need_no_device_list(rule: ModuleType) -> None:
    # The ESP is assigned to the profile's own group: which devices it holds doesn't matter.
    tenant = healthy_tenant().unreadable(AUTOPILOT_DEVICES).unreadable(DEVICES)
    assert statuses(rule, tenant) == {Status.PASS}


# --- ESP-006: non-blocking apps in the technician phase ----------------------------------------


def with_second_required_app() -> TenantBuilder:
    return healthy_tenant().add(
        MOBILE_APPS,
        win32_app(
            SECOND_APP, "Contoso VPN", assignments=[include_group(AP_GROUP_ID, intent="required")]
        ),
    )


def test_required_app_outside_the_blocking_list_is_left_for_the_user() -> None:
    [finding] = findings(esp_006_nonblocking_apps_in_technician_phase, with_second_required_app())
    assert (finding.subject.id, finding.status) == (DEVICE_ESP_ID, Status.FAIL)
    assert SECOND_APP in {subject.id for subject in finding.related}


def test_nonblocking_installation_on_passes() -> None:
    tenant = with_second_required_app().patch(
        ENROLLMENT_CONFIGURATIONS, DEVICE_ESP_ID, allowNonBlockingAppInstallation=True
    )
    assert verdicts(esp_006_nonblocking_apps_in_technician_phase, tenant) == {
        (DEVICE_ESP_ID, Status.PASS)
    }


def test_second_app_only_available_is_no_loss() -> None:
    tenant = healthy_tenant().add(
        MOBILE_APPS,
        win32_app(
            SECOND_APP, "Contoso VPN", assignments=[include_group(AP_GROUP_ID, intent="available")]
        ),
    )
    assert verdicts(esp_006_nonblocking_apps_in_technician_phase, tenant) == {
        (DEVICE_ESP_ID, Status.PASS)
    }


def test_all_apps_blocking_has_no_setting_to_judge() -> None:
    tenant = with_second_required_app().patch(
        ENROLLMENT_CONFIGURATIONS, DEVICE_ESP_ID, selectedMobileAppIds=[]
    )
    assert statuses(esp_006_nonblocking_apps_in_technician_phase, tenant) == {Status.NOT_APPLICABLE}


def test_missing_nonblocking_setting_is_unknown() -> None:
    tenant = with_second_required_app().patch(
        ENROLLMENT_CONFIGURATIONS, DEVICE_ESP_ID, allowNonBlockingAppInstallation=REMOVE
    )
    assert verdicts(esp_006_nonblocking_apps_in_technician_phase, tenant) == {
        (DEVICE_ESP_ID, Status.UNKNOWN)
    }


# --- ESP-007 / ESP-008: failure handling and quality updates, on Microsoft's example ESP -------


def microsoft_example_esp(**changes: Any) -> TenantBuilder:
    """The beta docs' ESP example (allows device use on failure, installs quality updates)."""
    esp = example("beta_windows10EnrollmentCompletionPageConfiguration_update_response")
    esp.update(
        id="esp-example",
        priority=1,
        deviceEnrollmentConfigurationType="windows10EnrollmentCompletionPageConfiguration",
        selectedMobileAppIds=[AGENT_APP_ID],
        installProgressTimeoutInMinutes=90,
        assignments=[include_group(AP_GROUP_ID)],
        **changes,
    )
    return (
        healthy_tenant()
        .remove(ENROLLMENT_CONFIGURATIONS, DEVICE_ESP_ID)
        .add(ENROLLMENT_CONFIGURATIONS, esp)
    )


def test_example_esp_allowing_device_use_on_failure_fails() -> None:
    [finding] = findings(esp_007_failure_keeps_device_in_esp, microsoft_example_esp())
    assert (finding.subject.id, finding.status, finding.severity) == (
        "esp-example",
        Status.FAIL,
        Severity.WARNING,
    )


def test_no_log_collection_is_info() -> None:
    tenant = microsoft_example_esp(
        allowDeviceUseOnInstallFailure=False, allowLogCollectionOnInstallFailure=False
    )
    [finding] = findings(esp_007_failure_keeps_device_in_esp, tenant)
    assert (finding.status, finding.severity) == (Status.FAIL, Severity.INFO)


def test_failure_handling_missing_is_unknown() -> None:
    tenant = healthy_tenant().patch(
        ENROLLMENT_CONFIGURATIONS, DEVICE_ESP_ID, allowDeviceUseOnInstallFailure=REMOVE
    )
    assert verdicts(esp_007_failure_keeps_device_in_esp, tenant) == {
        (DEVICE_ESP_ID, Status.UNKNOWN)
    }


def test_failure_handling_of_an_esp_without_progress_is_not_judged() -> None:
    tenant = microsoft_example_esp(showInstallationProgress=False)
    assert statuses(esp_007_failure_keeps_device_in_esp, tenant) == {Status.NOT_APPLICABLE}


def test_quality_updates_with_device_use_allowed_warn() -> None:
    [finding] = findings(esp_008_quality_updates_in_user_flow, microsoft_example_esp())
    assert (finding.status, finding.severity) == (Status.FAIL, Severity.WARNING)


def test_quality_updates_alone_are_info() -> None:
    tenant = healthy_tenant().patch(
        ENROLLMENT_CONFIGURATIONS, DEVICE_ESP_ID, installQualityUpdates=True
    )
    [finding] = findings(esp_008_quality_updates_in_user_flow, tenant)
    assert (finding.subject.id, finding.status, finding.severity) == (
        DEVICE_ESP_ID,
        Status.FAIL,
        Severity.INFO,
    )


def test_quality_updates_on_the_ignored_default_esp_are_not_reported() -> None:
    # Near miss: the default ESP installs updates, but the device ESP wins for these devices.
    tenant = healthy_tenant().patch(
        ENROLLMENT_CONFIGURATIONS,
        DEFAULT_ESP_ID,
        installQualityUpdates=True,
        showInstallationProgress=True,
    )
    assert verdicts(esp_008_quality_updates_in_user_flow, tenant) == {(DEVICE_ESP_ID, Status.PASS)}


def test_quality_updates_missing_is_unknown() -> None:
    tenant = healthy_tenant().patch(
        ENROLLMENT_CONFIGURATIONS, DEVICE_ESP_ID, installQualityUpdates=REMOVE
    )
    assert verdicts(esp_008_quality_updates_in_user_flow, tenant) == {
        (DEVICE_ESP_ID, Status.UNKNOWN)
    }


# --- ESP-012: filters on ESP assignments -------------------------------------------------------


def esp_with_filter(rule_text: str | None) -> TenantBuilder:
    tenant = healthy_tenant().assign(
        ENROLLMENT_CONFIGURATIONS,
        DEVICE_ESP_ID,
        include_group(AP_GROUP_ID, filter_id=SURFACE_FILTER_ID),
    )
    if rule_text is not None:
        tenant.patch(ASSIGNMENT_FILTERS, SURFACE_FILTER_ID, rule=rule_text)
    return tenant


@pytest.mark.parametrize(
    ("rule_text", "expected"),
    [
        (None, Status.PASS),  # the healthy Surface filter: device.model
        (
            '(device.manufacturer -eq "Microsoft Corporation") and '
            '(device.osVersion -startsWith "10.0.26100")',
            Status.PASS,
        ),
        ('(device.deviceCategory -eq "Kiosk")', Status.FAIL),
        (
            '(device.model -startsWith "Surface") or (device.deviceTrustType -eq "AzureAD")',
            Status.FAIL,
        ),
        ("(device.model -startsWith", Status.UNKNOWN),
    ],
)
def test_esp_filter_properties(rule_text: str | None, expected: Status) -> None:
    assert verdicts(esp_012_esp_filters_use_supported_properties, esp_with_filter(rule_text)) == {
        (DEVICE_ESP_ID, expected)
    }


def test_esp_filter_unreadable_is_unknown() -> None:
    tenant = esp_with_filter(None).unreadable(ASSIGNMENT_FILTERS)
    assert verdicts(esp_012_esp_filters_use_supported_properties, tenant) == {
        (DEVICE_ESP_ID, Status.UNKNOWN)
    }


def test_filter_on_an_app_is_not_an_esp_filter() -> None:
    tenant = healthy_tenant().add(
        ASSIGNMENT_FILTERS,
        assignment_filter("flt-cat", "Kiosks", '(device.deviceCategory -eq "Kiosk")'),
    )
    tenant.assign(
        MOBILE_APPS,
        AGENT_APP_ID,
        include_group(AP_GROUP_ID, intent="required", filter_id="flt-cat"),
    )
    assert statuses(esp_012_esp_filters_use_supported_properties, tenant) == {Status.NOT_APPLICABLE}


# --- PRF-009: language and keyboard ------------------------------------------------------------


def with_language(locale: Any, keyboard_skipped: bool) -> TenantBuilder:
    tenant = healthy_tenant()
    experience = {**tenant.object(AUTOPILOT_PROFILES, PROFILE_ID)["outOfBoxExperienceSetting"]}
    experience["keyboardSelectionPageSkipped"] = keyboard_skipped
    return tenant.patch(
        AUTOPILOT_PROFILES,
        PROFILE_ID,
        locale=locale,
        language=locale,
        outOfBoxExperienceSetting=experience,
    )


@pytest.mark.parametrize(
    ("locale", "skipped", "expected", "severity"),
    [
        ("en-US", True, Status.FAIL, Severity.WARNING),
        ("en-US", False, Status.FAIL, Severity.INFO),
        ("os-default", True, Status.PASS, Severity.WARNING),
        ("user-select", True, Status.PASS, Severity.WARNING),
        (REMOVE, False, Status.UNKNOWN, Severity.WARNING),
    ],
)
def test_profile_language(locale: Any, skipped: bool, expected: Status, severity: Severity) -> None:
    [finding] = findings(prf_009_language_user_selected, with_language(locale, skipped))
    assert (finding.subject.id, finding.status, finding.severity) == (
        PROFILE_ID,
        expected,
        severity,
    )


# --- PRF-010: profile edited after enrolled devices received it --------------------------------


def enrolled_device_a(profile_modified: str) -> TenantBuilder:
    return (
        healthy_tenant()
        .patch(AUTOPILOT_DEVICES, DEVICE_A_ID, enrollmentState="enrolled")
        .patch(AUTOPILOT_PROFILES, PROFILE_ID, lastModifiedDateTime=profile_modified)
    )


def test_profile_edited_after_an_enrolled_device_received_it_names_the_device() -> None:
    [finding] = findings(
        prf_010_profile_edits_reach_enrolled_devices, enrolled_device_a("2024-06-01T00:00:00Z")
    )
    assert (finding.status, finding.devices) == (Status.FAIL, (DEVICE_A_ID,))


def test_profile_edited_before_assignment_passes() -> None:
    tenant = enrolled_device_a("2024-05-01T00:00:00Z")
    assert verdicts(prf_010_profile_edits_reach_enrolled_devices, tenant) == {
        (PROFILE_ID, Status.PASS)
    }


def test_profile_edit_on_devices_not_yet_enrolled_passes() -> None:
    tenant = healthy_tenant().patch(
        AUTOPILOT_PROFILES, PROFILE_ID, lastModifiedDateTime="2024-06-01T00:00:00Z"
    )
    assert verdicts(prf_010_profile_edits_reach_enrolled_devices, tenant) == {
        (PROFILE_ID, Status.PASS)
    }


def test_enrolled_device_without_assignment_date_is_unknown() -> None:
    tenant = enrolled_device_a("2024-06-01T00:00:00Z").patch(
        AUTOPILOT_DEVICES, DEVICE_A_ID, deploymentProfileAssignedDateTime=None
    )
    [finding] = findings(prf_010_profile_edits_reach_enrolled_devices, tenant)
    assert (finding.status, finding.devices) == (Status.UNKNOWN, (DEVICE_A_ID,))


@pytest.mark.parametrize(
    "rule",
    [
        esp_006_nonblocking_apps_in_technician_phase,
        esp_007_failure_keeps_device_in_esp,
        esp_008_quality_updates_in_user_flow,
    ],
    ids=lambda module: module.METADATA.id,
)
def test_unreadable_esps_without_preprovisioning_leave_nothing_to_check(rule: ModuleType) -> None:
    tenant = (
        healthy_tenant()
        .patch(AUTOPILOT_PROFILES, PROFILE_ID, preprovisioningAllowed=False)
        .unreadable(ENROLLMENT_CONFIGURATIONS)
    )
    assert statuses(rule, tenant) == {Status.NOT_APPLICABLE}


@pytest.mark.parametrize(
    "rule",
    [
        esp_006_nonblocking_apps_in_technician_phase,
        esp_007_failure_keeps_device_in_esp,
        esp_008_quality_updates_in_user_flow,
    ],
    ids=lambda module: module.METADATA.id,
)
def test_unreadable_esps_with_a_preprovisioning_profile_are_unknown(rule: ModuleType) -> None:
    tenant = healthy_tenant().unreadable(ENROLLMENT_CONFIGURATIONS)
    assert verdicts(rule, tenant) == {(TENANT_ID, Status.UNKNOWN)}
