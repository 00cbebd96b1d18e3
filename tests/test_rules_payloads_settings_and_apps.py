"""Payload rules APP-003/006/009/014/015, SCR-003, CFG-004..010, CMP-002/003: each starts from
the healthy tenant (or Microsoft's example payload) and breaks one field."""

from __future__ import annotations

import base64
from types import ModuleType
from typing import Any

import pytest

from rules.checks import payloads, profiles_and_esp
from rules.checks.payloads import (
    app_003_store_and_msix_apps_device_context,
    app_006_no_legacy_store_apps_in_device_phase,
    app_009_restarts_managed_by_intune,
    app_014_exclusions_match_include_kind,
    app_015_max_run_time_within_esp_timeout,
    cfg_004_no_app_control_reboot_during_esp,
    cfg_005_no_device_lock_password_in_device_phase,
    cfg_006_uac_and_vbs_settings_user_targeted,
    cfg_007_no_preferred_tenant_domain_in_device_phase,
    cfg_008_no_proxy_policy_in_device_phase,
    cfg_009_laps_not_expected_at_reseal,
    cfg_010_dfci_not_in_oobe_on_pro_24h2,
    cfg_011_no_kiosk_autologon_in_device_phase,
    cmp_002_compliance_reset_in_user_flow,
    cmp_003_hybrid_compliance_before_sign_in,
    scr_003_no_filters_on_scripts,
    scr_004_no_local_admin_before_hybrid_user,
)
from rules.context import RuleContext
from rules.engine import Rule, run_rule
from rules.findings import Finding, RuleKind, Severity, Status
from rules.tenant_collections import (
    AUTOPILOT_DEVICES,
    AUTOPILOT_PROFILES,
    CONDITIONAL_ACCESS_POLICIES,
    DEVICE_CONFIGURATIONS,
    DEVICES,
    ENROLLMENT_CONFIGURATIONS,
    GROUPS,
    MOBILE_APPS,
    PLATFORM_SCRIPTS,
    SETTINGS_CATALOG_POLICIES,
)
from tests.tenant_builder import (
    AGENT_APP_ID,
    AP_GROUP_ID,
    DEVICE_B_ENTRA_OBJECT_ID,
    DEVICE_ESP_ID,
    NAME_FILTER_ID,
    NAME_FILTER_NAME,
    PROFILE_ID,
    REMOVE,
    SCRIPT_ID,
    SURFACE_FILTER_ID,
    TENANT_ID,
    USER_GROUP_ID,
    TenantBuilder,
    assigned_group,
    device_member,
    exclude_group,
    healthy_tenant,
    include_group,
)
from tests.tenant_builder_payloads import (
    catalog_policy,
    catalog_setting,
    conditional_access_policy,
    custom_oma_configuration,
    example,
    legacy_configuration,
    oma,
    required_with_context,
    store_app,
)

NEW_RULES = (
    app_003_store_and_msix_apps_device_context,
    app_006_no_legacy_store_apps_in_device_phase,
    app_009_restarts_managed_by_intune,
    app_014_exclusions_match_include_kind,
    app_015_max_run_time_within_esp_timeout,
    scr_003_no_filters_on_scripts,
    cfg_004_no_app_control_reboot_during_esp,
    cfg_005_no_device_lock_password_in_device_phase,
    cfg_006_uac_and_vbs_settings_user_targeted,
    cfg_007_no_preferred_tenant_domain_in_device_phase,
    cfg_008_no_proxy_policy_in_device_phase,
    cfg_009_laps_not_expected_at_reseal,
    cfg_010_dfci_not_in_oobe_on_pro_24h2,
    cfg_011_no_kiosk_autologon_in_device_phase,
    cmp_002_compliance_reset_in_user_flow,
    cmp_003_hybrid_compliance_before_sign_in,
    scr_004_no_local_admin_before_hybrid_user,
)
TO_AP = [include_group(AP_GROUP_ID)]
REQUIRED_TO_AP = [include_group(AP_GROUP_ID, intent="required")]
TO_USERS = [include_group(USER_GROUP_ID)]
CFG = "cfg-under-test"
APP = "app-under-test"


def findings(rule: ModuleType, tenant: TenantBuilder) -> list[Finding]:
    return run_rule(Rule.from_module(rule), RuleContext.for_snapshot(tenant.snapshot()))


def verdicts(rule: ModuleType, tenant: TenantBuilder) -> set[tuple[str, Status]]:
    return {(f.subject.id, f.status) for f in findings(rule, tenant)}


def with_configuration(configuration: dict[str, Any]) -> TenantBuilder:
    return healthy_tenant().add(DEVICE_CONFIGURATIONS, configuration)


def with_catalog(settings: list[dict[str, Any]] | None, assignments: Any = None) -> TenantBuilder:
    policy = catalog_policy(CFG, settings, TO_AP if assignments is None else assignments)
    return healthy_tenant().add(SETTINGS_CATALOG_POLICIES, policy)


@pytest.mark.parametrize("rule", NEW_RULES, ids=lambda module: module.METADATA.id)
def test_healthy_tenant_has_no_failure_or_unknown(rule: ModuleType) -> None:
    bad = {
        (s, st) for s, st in verdicts(rule, healthy_tenant()) if st in (Status.FAIL, Status.UNKNOWN)
    }
    assert bad == set()


@pytest.mark.parametrize("rule", NEW_RULES, ids=lambda module: module.METADATA.id)
def test_unreadable_profiles_make_every_rule_unknown(rule: ModuleType) -> None:
    tenant = healthy_tenant().unreadable(AUTOPILOT_PROFILES)
    assert verdicts(rule, tenant) == {(TENANT_ID, Status.UNKNOWN)}


@pytest.mark.parametrize("rule", NEW_RULES, ids=lambda module: module.METADATA.id)
def test_no_preprovisioning_profile_is_not_applicable(rule: ModuleType) -> None:
    tenant = healthy_tenant().patch(AUTOPILOT_PROFILES, PROFILE_ID, preprovisioningAllowed=False)
    assert {status for _, status in verdicts(rule, tenant)} == {Status.NOT_APPLICABLE}


# --- CFG-004 .. CFG-010: settings that break the technician phase ------------------------------


@pytest.mark.parametrize(
    ("rule", "configuration", "expected"),
    [
        (
            cfg_004_no_app_control_reboot_during_esp,
            legacy_configuration(
                CFG,
                "windows10EndpointProtectionConfiguration",
                TO_AP,
                appLockerApplicationControl="enforceComponentsAndStoreApps",
            ),
            Status.FAIL,
        ),
        (
            cfg_004_no_app_control_reboot_during_esp,
            legacy_configuration(
                CFG,
                "windows10EndpointProtectionConfiguration",
                TO_AP,
                appLockerApplicationControl="notConfigured",
            ),
            Status.PASS,
        ),
        (
            cfg_004_no_app_control_reboot_during_esp,
            custom_oma_configuration(
                CFG,
                [
                    oma(
                        "./Vendor/MSFT/AppLocker/ApplicationLaunchRestrictions/apps/EXE/Policy",
                        "x",
                        "omaSettingString",
                        isEncrypted=True,
                    )
                ],
                TO_AP,
            ),
            Status.UNKNOWN,
        ),
        (
            cfg_005_no_device_lock_password_in_device_phase,
            legacy_configuration(
                CFG, "windows10GeneralConfiguration", TO_AP, passwordRequired=True
            ),
            Status.FAIL,
        ),
        (
            cfg_005_no_device_lock_password_in_device_phase,
            legacy_configuration(
                CFG, "windows10GeneralConfiguration", TO_AP, passwordRequired=False
            ),
            Status.PASS,
        ),
        (
            cfg_005_no_device_lock_password_in_device_phase,
            custom_oma_configuration(
                CFG,
                [oma("./Device/Vendor/MSFT/Policy/Config/DeviceLock/DevicePasswordEnabled", 0)],
                TO_AP,
            ),
            Status.FAIL,
        ),
        (
            cfg_005_no_device_lock_password_in_device_phase,
            custom_oma_configuration(
                CFG,
                [oma("./Device/Vendor/MSFT/Policy/Config/DeviceLock/DevicePasswordEnabled", 1)],
                TO_AP,
            ),
            Status.PASS,
        ),
        (
            cfg_006_uac_and_vbs_settings_user_targeted,
            custom_oma_configuration(
                CFG,
                [
                    oma(
                        "./Device/Vendor/MSFT/Policy/Config/LocalPoliciesSecurityOptions/"
                        "UserAccountControl_RunAllAdministratorsInAdminApprovalMode",
                        1,
                    )
                ],
                TO_AP,
            ),
            Status.FAIL,
        ),
        (
            cfg_006_uac_and_vbs_settings_user_targeted,
            custom_oma_configuration(
                CFG,
                [
                    oma(
                        "./Device/Vendor/MSFT/Policy/Config/LocalPoliciesSecurityOptions/"
                        "UserAccountControl_BehaviorOfTheElevationPromptForAdministrators",
                        0,
                    )
                ],
                TO_AP,
            ),
            Status.PASS,
        ),
        (
            cfg_007_no_preferred_tenant_domain_in_device_phase,
            legacy_configuration(
                CFG,
                "windows10GeneralConfiguration",
                TO_AP,
                authenticationPreferredAzureADTenantDomainName="contoso.com",
            ),
            Status.FAIL,
        ),
        (
            cfg_007_no_preferred_tenant_domain_in_device_phase,
            legacy_configuration(
                CFG,
                "windows10GeneralConfiguration",
                TO_AP,
                authenticationPreferredAzureADTenantDomainName="",
            ),
            Status.PASS,
        ),
        (
            cfg_008_no_proxy_policy_in_device_phase,
            legacy_configuration(
                CFG,
                "windows10GeneralConfiguration",
                TO_AP,
                networkProxyServer={"address": "proxy.contoso.com:8080", "exceptions": []},
            ),
            Status.FAIL,
        ),
        (
            cfg_010_dfci_not_in_oobe_on_pro_24h2,
            legacy_configuration(CFG, "windows10DeviceFirmwareConfigurationInterface", TO_AP),
            Status.FAIL,
        ),
    ],
)
def test_legacy_and_oma_settings(
    rule: ModuleType, configuration: dict[str, Any], expected: Status
) -> None:
    assert verdicts(rule, with_configuration(configuration)) == {(CFG, expected)}


@pytest.mark.parametrize(
    ("rule", "uri", "value"),
    [
        (
            cfg_005_no_device_lock_password_in_device_phase,
            "./Device/Vendor/MSFT/Policy/Config/DeviceLock/PreventLockScreenSlideShow",
            1,
        ),
        (cfg_008_no_proxy_policy_in_device_phase, "./Vendor/MSFT/NetworkProxy/AutoDetect", 1),
    ],
)
def test_neighbouring_settings_of_the_same_csp_are_not_reported(
    rule: ModuleType, uri: str, value: int
) -> None:
    configuration = custom_oma_configuration(CFG, [oma(uri, value)], TO_AP)
    assert {s for _, s in verdicts(rule, with_configuration(configuration))} == {
        Status.NOT_APPLICABLE
    }


@pytest.mark.parametrize(
    ("rule", "configuration"),
    [
        (
            cfg_004_no_app_control_reboot_during_esp,
            legacy_configuration(
                CFG,
                "windows10EndpointProtectionConfiguration",
                TO_USERS,
                appLockerApplicationControl="enforceComponentsAndStoreApps",
            ),
        ),
        (
            cfg_007_no_preferred_tenant_domain_in_device_phase,
            legacy_configuration(
                CFG,
                "windows10GeneralConfiguration",
                TO_USERS,
                authenticationPreferredAzureADTenantDomainName="contoso.com",
            ),
        ),
    ],
)
def test_harmful_setting_assigned_only_to_users_is_not_reported(
    rule: ModuleType, configuration: dict[str, Any]
) -> None:
    # Near miss: the same value, but the configuration reaches the devices after sign-in.
    assert (CFG, Status.FAIL) not in verdicts(rule, with_configuration(configuration))


@pytest.mark.parametrize(
    ("rule", "definition", "value", "expected", "severity"),
    [
        (
            cfg_004_no_app_control_reboot_during_esp,
            "device_vendor_msft_applicationcontrol_policies_{policyguid}_policiesoptions",
            "device_vendor_msft_applicationcontrol_built_in_controls_enable_app_control_0",
            Status.FAIL,
            Severity.WARNING,
        ),
        (
            cfg_005_no_device_lock_password_in_device_phase,
            "device_vendor_msft_policy_config_devicelock_devicepasswordenabled",
            "device_vendor_msft_policy_config_devicelock_devicepasswordenabled_0",
            Status.FAIL,
            Severity.WARNING,
        ),
        (
            cfg_005_no_device_lock_password_in_device_phase,
            "device_vendor_msft_policy_config_devicelock_devicepasswordenabled",
            "device_vendor_msft_policy_config_devicelock_devicepasswordenabled_1",
            Status.PASS,
            Severity.WARNING,
        ),
        (
            cfg_006_uac_and_vbs_settings_user_targeted,
            "device_vendor_msft_policy_config_deviceguard_enablevirtualizationbasedsecurity",
            "device_vendor_msft_policy_config_deviceguard_enablevirtualizationbasedsecurity_1",
            Status.FAIL,
            Severity.WARNING,
        ),
        (
            cfg_009_laps_not_expected_at_reseal,
            "device_vendor_msft_laps_policies_backupdirectory",
            "device_vendor_msft_laps_policies_backupdirectory_1",
            Status.FAIL,
            Severity.INFO,
        ),
    ],
)
def test_settings_catalog_values(
    rule: ModuleType, definition: str, value: str, expected: Status, severity: Severity
) -> None:
    produced = findings(rule, with_catalog([catalog_setting(definition, value)]))
    assert {(f.subject.id, f.status) for f in produced} == {(CFG, expected)}
    if expected is Status.FAIL:
        assert {f.severity for f in produced} == {severity}


@pytest.mark.parametrize(
    "rule",
    [
        cfg_004_no_app_control_reboot_during_esp,
        cfg_005_no_device_lock_password_in_device_phase,
        cfg_007_no_preferred_tenant_domain_in_device_phase,
        cfg_009_laps_not_expected_at_reseal,
    ],
    ids=lambda module: module.METADATA.id,
)
def test_unread_catalog_settings_are_unknown(rule: ModuleType) -> None:
    tenant = with_catalog([]).navigation_unreadable(SETTINGS_CATALOG_POLICIES, CFG, "settings")
    assert verdicts(rule, tenant) == {(CFG, Status.UNKNOWN)}


def test_setting_behind_a_filter_fails_on_the_devices_it_lets_through() -> None:
    configuration = legacy_configuration(
        CFG,
        "windows10GeneralConfiguration",
        # A device-name filter is decided only at enrollment: the setting may reach any device.
        [include_group(AP_GROUP_ID, filter_id=NAME_FILTER_ID)],
        authenticationPreferredAzureADTenantDomainName="contoso.com",
    )
    produced = findings(
        cfg_007_no_preferred_tenant_domain_in_device_phase, with_configuration(configuration)
    )
    assert {(f.subject.id, f.status) for f in produced} == {(CFG, Status.FAIL)}
    assert NAME_FILTER_NAME in produced[0].message


# --- APP-003: store, MSIX and WinGet apps in device context ------------------------------------


@pytest.mark.parametrize(
    ("app", "expected"),
    [
        (
            store_app(APP, "winGetApp", REQUIRED_TO_AP, installExperience={"runAsAccount": "user"}),
            Status.FAIL,
        ),
        (
            store_app(
                APP, "winGetApp", REQUIRED_TO_AP, installExperience={"runAsAccount": "system"}
            ),
            Status.PASS,
        ),
        (
            store_app(
                APP,
                "windowsUniversalAppX",
                [required_with_context(AP_GROUP_ID, device_context=False)],
            ),
            Status.FAIL,
        ),
        (
            store_app(
                APP,
                "windowsUniversalAppX",
                [required_with_context(AP_GROUP_ID, device_context=True)],
            ),
            Status.PASS,
        ),
        (store_app(APP, "windowsUniversalAppX", REQUIRED_TO_AP), Status.UNKNOWN),
    ],
)
def test_store_and_msix_app_context(app: dict[str, Any], expected: Status) -> None:
    tenant = healthy_tenant().add(MOBILE_APPS, app)
    assert verdicts(app_003_store_and_msix_apps_device_context, tenant) == {(APP, expected)}


def test_user_context_store_app_available_only_is_not_reported() -> None:
    app = store_app(
        APP,
        "winGetApp",
        [include_group(AP_GROUP_ID, intent="available")],
        installExperience={"runAsAccount": "user"},
    )
    tenant = healthy_tenant().add(MOBILE_APPS, app)
    assert {s for _, s in verdicts(app_003_store_and_msix_apps_device_context, tenant)} == {
        Status.NOT_APPLICABLE
    }


def test_user_context_store_app_on_the_blocking_list_is_an_error() -> None:
    app = store_app(APP, "winGetApp", REQUIRED_TO_AP, installExperience={"runAsAccount": "user"})
    tenant = (
        healthy_tenant()
        .add(MOBILE_APPS, app)
        .patch(ENROLLMENT_CONFIGURATIONS, DEVICE_ESP_ID, selectedMobileAppIds=[AGENT_APP_ID, APP])
    )
    [finding] = findings(app_003_store_and_msix_apps_device_context, tenant)
    assert (finding.status, finding.severity) == (Status.FAIL, Severity.ERROR)


# --- APP-006: legacy store apps ----------------------------------------------------------------


@pytest.mark.parametrize("odata_type", ["microsoftStoreForBusinessApp", "windowsStoreApp"])
def test_legacy_store_app_required_for_devices_fails(odata_type: str) -> None:
    tenant = healthy_tenant().add(MOBILE_APPS, store_app(APP, odata_type, REQUIRED_TO_AP))
    assert verdicts(app_006_no_legacy_store_apps_in_device_phase, tenant) == {(APP, Status.FAIL)}


def test_legacy_store_app_for_users_is_not_reported() -> None:
    app = store_app(APP, "windowsStoreApp", [include_group(USER_GROUP_ID, intent="required")])
    tenant = healthy_tenant().add(MOBILE_APPS, app)
    assert {s for _, s in verdicts(app_006_no_legacy_store_apps_in_device_phase, tenant)} == {
        Status.NOT_APPLICABLE
    }


# --- APP-009: restarts -------------------------------------------------------------------------


def microsoft_example_win32(**experience: Any) -> dict[str, Any]:
    """Microsoft's beta win32LobApp example (restart behavior 'allow'), as a device-phase app."""
    app = example("beta_win32LobApp_get_response")
    app.update(id=APP, assignments=REQUIRED_TO_AP, relationships=[], msiInformation=None)
    app["installExperience"] = {**app["installExperience"], "runAsAccount": "system", **experience}
    return app


@pytest.mark.parametrize(
    ("behavior", "expected"),
    [
        (None, Status.FAIL),  # the example's own 'allow'
        ("force", Status.FAIL),
        ("basedOnReturnCode", Status.PASS),
        ("suppress", Status.PASS),
        (REMOVE, Status.UNKNOWN),
    ],
)
def test_restart_behavior(behavior: Any, expected: Status) -> None:
    app = microsoft_example_win32()
    if behavior is REMOVE:
        del app["installExperience"]["deviceRestartBehavior"]
    elif behavior is not None:
        app["installExperience"]["deviceRestartBehavior"] = behavior
    tenant = healthy_tenant().add(MOBILE_APPS, app)
    assert (APP, expected) in verdicts(app_009_restarts_managed_by_intune, tenant)
    assert {
        s for subject, s in verdicts(app_009_restarts_managed_by_intune, tenant) if subject == APP
    } == {expected}


# --- APP-014: exclusions of another group kind -------------------------------------------------


def test_user_group_exclusion_of_a_device_targeted_app_fails() -> None:
    tenant = healthy_tenant().assign(
        MOBILE_APPS, AGENT_APP_ID, *REQUIRED_TO_AP, exclude_group(USER_GROUP_ID, intent="required")
    )
    assert verdicts(app_014_exclusions_match_include_kind, tenant) == {(AGENT_APP_ID, Status.FAIL)}


def test_device_group_exclusion_of_a_device_targeted_app_passes() -> None:
    device_b = assigned_group("grp-device-b", "Device B", [device_member(DEVICE_B_ENTRA_OBJECT_ID)])
    tenant = (
        healthy_tenant()
        .add(GROUPS, device_b)
        .assign(
            MOBILE_APPS,
            AGENT_APP_ID,
            *REQUIRED_TO_AP,
            exclude_group("grp-device-b", intent="required"),
        )
    )
    assert verdicts(app_014_exclusions_match_include_kind, tenant) == {(AGENT_APP_ID, Status.PASS)}


# --- APP-015: installation time against the ESP time-out ---------------------------------------


@pytest.mark.parametrize(
    ("minutes", "expected"), [(120, Status.FAIL), (90, Status.PASS), (REMOVE, Status.UNKNOWN)]
)
def test_install_time_against_the_esp_timeout(minutes: Any, expected: Status) -> None:
    tenant = healthy_tenant()
    experience = dict(tenant.object(MOBILE_APPS, AGENT_APP_ID)["installExperience"])
    if minutes is REMOVE:
        del experience["maxRunTimeInMinutes"]
    else:
        experience["maxRunTimeInMinutes"] = minutes
    tenant.patch(MOBILE_APPS, AGENT_APP_ID, installExperience=experience)
    assert verdicts(app_015_max_run_time_within_esp_timeout, tenant) == {(AGENT_APP_ID, expected)}


def test_install_time_is_not_compared_when_no_esp_waits() -> None:
    tenant = healthy_tenant().patch(
        ENROLLMENT_CONFIGURATIONS, DEVICE_ESP_ID, showInstallationProgress=False
    )
    experience = {
        "runAsAccount": "system",
        "deviceRestartBehavior": "suppress",
        "maxRunTimeInMinutes": 600,
    }
    tenant.patch(MOBILE_APPS, AGENT_APP_ID, installExperience=experience)
    assert {s for _, s in verdicts(app_015_max_run_time_within_esp_timeout, tenant)} == {
        Status.NOT_APPLICABLE
    }


# --- SCR-003: filters on scripts ---------------------------------------------------------------


def test_script_assigned_with_a_filter_fails() -> None:
    tenant = healthy_tenant().assign(
        PLATFORM_SCRIPTS, SCRIPT_ID, include_group(AP_GROUP_ID, filter_id=SURFACE_FILTER_ID)
    )
    assert verdicts(scr_003_no_filters_on_scripts, tenant) == {(SCRIPT_ID, Status.FAIL)}


def test_script_filter_id_with_type_none_is_no_filter() -> None:
    assignment = include_group(AP_GROUP_ID)
    assignment["target"]["deviceAndAppManagementAssignmentFilterId"] = SURFACE_FILTER_ID
    tenant = healthy_tenant().assign(PLATFORM_SCRIPTS, SCRIPT_ID, assignment)
    assert verdicts(scr_003_no_filters_on_scripts, tenant) == {(SCRIPT_ID, Status.PASS)}


# --- CMP-002 / CMP-003: Conditional Access and compliance at the user flow ---------------------


def test_ca_requiring_compliance_is_reported_at_the_user_flow_reset() -> None:
    tenant = healthy_tenant().add(
        CONDITIONAL_ACCESS_POLICIES, conditional_access_policy("ca1", ["compliantDevice"])
    )
    produced = findings(cmp_002_compliance_reset_in_user_flow, tenant)
    assert {(f.subject.id, f.status, f.severity) for f in produced} == {
        ("ca1", Status.FAIL, Severity.INFO)
    }


def test_report_only_ca_is_no_requirement() -> None:
    policy = conditional_access_policy(
        "ca1", ["compliantDevice"], state="enabledForReportingButNotEnforced"
    )
    tenant = healthy_tenant().add(CONDITIONAL_ACCESS_POLICIES, policy)
    assert verdicts(cmp_002_compliance_reset_in_user_flow, tenant) == {(TENANT_ID, Status.PASS)}


def test_unreadable_ca_makes_the_user_flow_reset_unknown() -> None:
    tenant = healthy_tenant().unreadable(CONDITIONAL_ACCESS_POLICIES)
    assert verdicts(cmp_002_compliance_reset_in_user_flow, tenant) == {(TENANT_ID, Status.UNKNOWN)}


def hybrid_tenant() -> TenantBuilder:
    return healthy_tenant().patch(
        AUTOPILOT_PROFILES,
        PROFILE_ID,
        {"@odata.type": "#microsoft.graph.activeDirectoryWindowsAutopilotDeploymentProfile"},
    )


@pytest.mark.parametrize(
    ("operator", "controls", "expected"),
    [
        ("AND", ["compliantDevice"], Status.FAIL),
        ("OR", ["compliantDevice", "domainJoinedDevice"], Status.PASS),
        ("AND", ["compliantDevice", "domainJoinedDevice"], Status.FAIL),
        ("OR", ["mfa"], Status.PASS),
    ],
)
def test_hybrid_profile_against_compliant_device_requirement(
    operator: str, controls: list[str], expected: Status
) -> None:
    tenant = hybrid_tenant().add(
        CONDITIONAL_ACCESS_POLICIES, conditional_access_policy("ca1", controls, operator=operator)
    )
    assert verdicts(cmp_003_hybrid_compliance_before_sign_in, tenant) == {(PROFILE_ID, expected)}


def test_hybrid_check_unknown_when_ca_unreadable() -> None:
    tenant = hybrid_tenant().unreadable(CONDITIONAL_ACCESS_POLICIES)
    assert verdicts(cmp_003_hybrid_compliance_before_sign_in, tenant) == {
        (PROFILE_ID, Status.UNKNOWN)
    }


# --- CFG-011: kiosk profiles -------------------------------------------------------------------


def test_kiosk_profile_for_preprovisioning_devices_fails() -> None:
    kiosk = legacy_configuration(CFG, "windowsKioskConfiguration", TO_AP, kioskProfiles=[])
    assert verdicts(cfg_011_no_kiosk_autologon_in_device_phase, with_configuration(kiosk)) == {
        (CFG, Status.FAIL)
    }


def test_kiosk_profile_for_users_only_is_not_reported() -> None:
    kiosk = legacy_configuration(CFG, "windowsKioskConfiguration", TO_USERS, kioskProfiles=[])
    assert (CFG, Status.FAIL) not in verdicts(
        cfg_011_no_kiosk_autologon_in_device_phase, with_configuration(kiosk)
    )


# --- SCR-004: local administrators before a hybrid user-driven deployment ----------------------


def hybrid_admin_tenant(user_type: str = "administrator") -> TenantBuilder:
    tenant = hybrid_tenant()
    experience = {**tenant.object(AUTOPILOT_PROFILES, PROFILE_ID)["outOfBoxExperienceSetting"]}
    experience["userType"] = user_type
    return tenant.patch(AUTOPILOT_PROFILES, PROFILE_ID, outOfBoxExperienceSetting=experience)


def script_content(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def test_local_group_policy_before_hybrid_admin_user_fails() -> None:
    tenant = hybrid_admin_tenant().patch(
        PLATFORM_SCRIPTS, SCRIPT_ID, scriptContent=script_content("Set-TimeZone -Id 'UTC'")
    )
    tenant.add(
        SETTINGS_CATALOG_POLICIES,
        catalog_policy(
            CFG,
            [
                catalog_setting(
                    "device_vendor_msft_policy_config_localusersandgroups_configure", "x"
                )
            ],
            TO_AP,
        ),
    )
    assert verdicts(scr_004_no_local_admin_before_hybrid_user, tenant) == {(CFG, Status.FAIL)}


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("New-LocalUser -Name support; Add-LocalGroupMember -Group Administrators", SCRIPT_ID),
        ("Set-TimeZone -Id 'UTC'", PROFILE_ID),
    ],
)
def test_script_creating_an_account_before_hybrid_admin_user(content: str, expected: str) -> None:
    tenant = hybrid_admin_tenant().patch(
        PLATFORM_SCRIPTS, SCRIPT_ID, scriptContent=script_content(content)
    )
    status = Status.FAIL if expected == SCRIPT_ID else Status.PASS
    assert verdicts(scr_004_no_local_admin_before_hybrid_user, tenant) == {(expected, status)}


def test_script_content_not_read_is_unknown_for_hybrid_admin_profiles() -> None:
    tenant = hybrid_admin_tenant()
    assert verdicts(scr_004_no_local_admin_before_hybrid_user, tenant) == {
        (SCRIPT_ID, Status.UNKNOWN)
    }


def test_standard_user_hybrid_profile_is_not_concerned() -> None:
    tenant = hybrid_admin_tenant("standard").add(
        SETTINGS_CATALOG_POLICIES,
        catalog_policy(
            CFG,
            [
                catalog_setting(
                    "device_vendor_msft_policy_config_localusersandgroups_configure", "x"
                )
            ],
            TO_AP,
        ),
    )
    assert {s for _, s in verdicts(scr_004_no_local_admin_before_hybrid_user, tenant)} == {
        Status.NOT_APPLICABLE
    }


# --- decided without the device list -----------------------------------------------------------


def test_payload_on_the_profile_group_is_decided_without_the_device_list() -> None:
    # The configuration targets the profile's own Autopilot device group: which registered
    # devices that holds does not change the verdict.
    configuration = legacy_configuration(
        CFG,
        "windows10GeneralConfiguration",
        TO_AP,
        authenticationPreferredAzureADTenantDomainName="contoso.com",
    )
    tenant = with_configuration(configuration).unreadable(AUTOPILOT_DEVICES).unreadable(DEVICES)
    assert verdicts(cfg_007_no_preferred_tenant_domain_in_device_phase, tenant) == {
        (CFG, Status.FAIL)
    }


@pytest.mark.parametrize(
    ("rule", "collection"),
    [
        (cfg_004_no_app_control_reboot_during_esp, SETTINGS_CATALOG_POLICIES),
        (app_009_restarts_managed_by_intune, MOBILE_APPS),
        (scr_003_no_filters_on_scripts, PLATFORM_SCRIPTS),
        (app_015_max_run_time_within_esp_timeout, ENROLLMENT_CONFIGURATIONS),
    ],
    ids=lambda value: getattr(getattr(value, "METADATA", None), "id", str(value)),
)
def test_nothing_to_check_without_preprovisioning_even_when_payload_is_unreadable(
    rule: ModuleType, collection: str
) -> None:
    tenant = (
        healthy_tenant()
        .patch(AUTOPILOT_PROFILES, PROFILE_ID, preprovisioningAllowed=False)
        .unreadable(collection)
    )
    assert {status for _, status in verdicts(rule, tenant)} == {Status.NOT_APPLICABLE}


@pytest.mark.parametrize(
    ("rule", "collection"),
    [
        (cfg_004_no_app_control_reboot_during_esp, SETTINGS_CATALOG_POLICIES),
        (app_009_restarts_managed_by_intune, MOBILE_APPS),
        (scr_003_no_filters_on_scripts, PLATFORM_SCRIPTS),
    ],
    ids=lambda value: getattr(getattr(value, "METADATA", None), "id", str(value)),
)
def test_unreadable_payload_is_unknown_with_a_preprovisioning_profile(
    rule: ModuleType, collection: str
) -> None:
    tenant = healthy_tenant().unreadable(collection)
    assert verdicts(rule, tenant) == {(TENANT_ID, Status.UNKNOWN)}


@pytest.mark.parametrize(
    "rule",
    [
        # Manual items are never decided from data: they stay MANUAL whatever the tenant holds.
        *(m for m in payloads.RULES if m.METADATA.kind is not RuleKind.MANUAL),
        # ESP-004 judges every ESP's blocking list, with or without pre-provisioning.
        *(
            m
            for m in profiles_and_esp.RULES
            if m.METADATA.id.startswith("ESP-")
            and m.METADATA.id != "ESP-004"
            and m.METADATA.kind is not RuleKind.MANUAL
        ),
    ],
    ids=lambda module: module.METADATA.id,
)
def test_every_payload_and_esp_rule_has_nothing_to_check_without_preprovisioning(
    rule: ModuleType,
) -> None:
    # Everything the rule reads apart from the profiles is unreadable: still nothing to check.
    tenant = healthy_tenant().patch(AUTOPILOT_PROFILES, PROFILE_ID, preprovisioningAllowed=False)
    for collection in rule.METADATA.graph_reads:
        if collection != AUTOPILOT_PROFILES:
            tenant.unreadable(collection)
    assert {status for _, status in verdicts(rule, tenant)} == {Status.NOT_APPLICABLE}


def test_install_time_unknown_when_the_esp_does_not_report_progress_or_timeout() -> None:
    tenant = healthy_tenant().patch(
        ENROLLMENT_CONFIGURATIONS,
        DEVICE_ESP_ID,
        showInstallationProgress=REMOVE,
        installProgressTimeoutInMinutes=REMOVE,
    )
    assert verdicts(app_015_max_run_time_within_esp_timeout, tenant) == {
        (AGENT_APP_ID, Status.UNKNOWN)
    }
