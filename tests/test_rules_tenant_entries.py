"""The enrollment, device, group, hybrid, co-management, network and operations entries added
to the catalog: each rule from the healthy tenant with one thing broken, a near miss that must
stay green, and unreadable data that must be UNKNOWN; manual items answer MANUAL."""

from __future__ import annotations

import json
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from monitors.cli import main as greenscreen
from rules.catalog import all_rules
from rules.checks.tenant_and_devices import (
    com_002_cloud_management_gateway_reachable,
    dev_006_not_entra_registered,
    enr_002_default_mdm_urls,
    enr_005_users_may_join_devices,
    enr_006_user_device_quota,
    enr_009_conditional_access_allows_enrollment,
    grp_003_device_in_autopilot_device_group,
    grp_004_autopilot_group_is_security_group,
    grp_005_enrollment_profile_name_matched_whole,
    hyb_002_connector_not_legacy,
    hyb_005_skip_connectivity_check_for_vpn,
    hyb_006_hybrid_apps_tracked,
    hyb_007_hybrid_esp_extra_time,
    hyb_008_entra_connect_sync_scope,
)
from rules.context import RuleContext
from rules.engine import Rule, evaluate_snapshot, run_rule
from rules.findings import Finding, RuleKind, Severity, Status
from rules.manual import manual_item
from rules.tenant_collections import (
    AUTOPILOT_PROFILES,
    CONDITIONAL_ACCESS_POLICIES,
    DEVICE_REGISTRATION_POLICY,
    DEVICES,
    DOMAIN_JOIN_CONNECTORS,
    ENROLLMENT_CONFIGURATIONS,
    GROUPS,
    MDM_POLICIES,
    MOBILE_APPS,
)
from tests.tenant_builder import (
    AGENT_APP_ID,
    AP_GROUP_ID,
    DEVICE_A_ENTRA_OBJECT_ID,
    DEVICE_A_ID,
    DEVICE_B_ID,
    DEVICE_ESP_ID,
    MDM_POLICY_ID,
    PROFILE_ID,
    TENANT_ID,
    TenantBuilder,
    autopilot_profile,
    dynamic_group,
    healthy_tenant,
    include_group,
)
from tests.tenant_builder_tenant import (
    CA_POLICY_ID,
    INTUNE_APP,
    INTUNE_ENROLLMENT_APP,
    block_all_apps_all_users,
    ca_block_policy,
    join_allowed,
    registration_policy,
    with_registration_policy,
)
from tests.test_rules_tenant_and_devices import COMANAGEMENT_ID, comanagement, hybrid_tenant

PASS, FAIL, UNKNOWN, NOT_APPLICABLE, MANUAL = (
    Status.PASS,
    Status.FAIL,
    Status.UNKNOWN,
    Status.NOT_APPLICABLE,
    Status.MANUAL,
)
REGISTRATION_ID = "deviceRegistrationPolicy"


def findings(module: ModuleType, tenant: TenantBuilder) -> list[Finding]:
    return run_rule(Rule.from_module(module), RuleContext.for_snapshot(tenant.snapshot()))


def verdicts(module: ModuleType, tenant: TenantBuilder) -> set[tuple[str, Status]]:
    return {(f.subject.id, f.status) for f in findings(module, tenant)}


def only(module: ModuleType, tenant: TenantBuilder) -> Finding:
    (finding,) = findings(module, tenant)
    return finding


# --- the two cases, through the whole engine --------------------------------------------


def test_nobody_may_join_devices_makes_the_tenant_not_green() -> None:
    tenant = healthy_tenant().patch(
        DEVICE_REGISTRATION_POLICY,
        REGISTRATION_ID,
        azureADJoin=join_allowed("noDeviceRegistrationMembership"),
    )
    evaluation = evaluate_snapshot(tenant.snapshot())
    failing = [(f.rule_id, f.severity) for f in evaluation.findings if f.status is FAIL]
    assert failing == [("ENR-005", Severity.ERROR)]
    assert evaluation.worst() is Severity.ERROR


def test_conditional_access_blocking_every_app_for_everyone_makes_the_tenant_not_green() -> None:
    tenant = healthy_tenant().add(CONDITIONAL_ACCESS_POLICIES, block_all_apps_all_users())
    evaluation = evaluate_snapshot(tenant.snapshot())
    failing = [
        (f.rule_id, f.subject.id, f.severity) for f in evaluation.findings if f.status is FAIL
    ]
    assert failing == [("ENR-009", CA_POLICY_ID, Severity.ERROR)]


# --- ENR-005 -------------------------------------------------------------------------------------


def test_all_users_may_join_passes() -> None:
    assert verdicts(enr_005_users_may_join_devices, healthy_tenant()) == {(REGISTRATION_ID, PASS)}


def test_microsofts_example_policy_lets_everyone_join() -> None:
    tenant = with_registration_policy(healthy_tenant(), registration_policy())
    assert verdicts(enr_005_users_may_join_devices, tenant) == {(REGISTRATION_ID, PASS)}


def test_selected_users_may_join_is_a_warning() -> None:
    policy = registration_policy(
        azureADJoin=join_allowed(
            "enumeratedDeviceRegistrationMembership", users=[], groups=["grp-joiners"]
        )
    )
    finding = only(
        enr_005_users_may_join_devices, with_registration_policy(healthy_tenant(), policy)
    )
    assert (finding.status, finding.severity) == (FAIL, Severity.WARNING)
    assert "0 user(s) and 1 group(s) are selected" in finding.reasons


def test_selected_with_nobody_selected_is_an_error() -> None:
    policy = registration_policy(
        azureADJoin=join_allowed("enumeratedDeviceRegistrationMembership", users=[], groups=[])
    )
    finding = only(
        enr_005_users_may_join_devices, with_registration_policy(healthy_tenant(), policy)
    )
    assert (finding.status, finding.severity) == (FAIL, Severity.ERROR)


def test_unreadable_registration_policy_is_unknown() -> None:
    tenant = healthy_tenant().unreadable(DEVICE_REGISTRATION_POLICY)
    assert verdicts(enr_005_users_may_join_devices, tenant) == {(TENANT_ID, UNKNOWN)}
    assert verdicts(enr_006_user_device_quota, tenant) == {(TENANT_ID, UNKNOWN)}


def test_join_setting_absent_is_unknown() -> None:
    tenant = healthy_tenant().patch(DEVICE_REGISTRATION_POLICY, REGISTRATION_ID, azureADJoin=None)
    assert verdicts(enr_005_users_may_join_devices, tenant) == {(REGISTRATION_ID, UNKNOWN)}


# --- ENR-006 -------------------------------------------------------------------------------------


def test_default_quota_passes() -> None:
    assert verdicts(enr_006_user_device_quota, healthy_tenant()) == {(REGISTRATION_ID, PASS)}


def test_microsofts_example_quota_of_two_is_a_warning() -> None:
    tenant = with_registration_policy(healthy_tenant(), registration_policy())
    finding = only(enr_006_user_device_quota, tenant)
    assert (finding.status, finding.severity) == (FAIL, Severity.WARNING)


@pytest.mark.parametrize(
    ("quota", "expected"), [(0, (FAIL, Severity.ERROR)), (5, (PASS, Severity.WARNING))]
)
def test_quota_zero_fails_and_five_is_the_near_miss(
    quota: int, expected: tuple[Status, Severity]
) -> None:
    tenant = healthy_tenant().patch(
        DEVICE_REGISTRATION_POLICY, REGISTRATION_ID, userDeviceQuota=quota
    )
    finding = only(enr_006_user_device_quota, tenant)
    assert (finding.status, finding.severity) == expected


# --- ENR-009 -------------------------------------------------------------------------------------


def test_no_conditional_access_policy_passes() -> None:
    assert verdicts(enr_009_conditional_access_allows_enrollment, healthy_tenant()) == {
        (TENANT_ID, PASS)
    }


def test_microsofts_block_example_for_exchange_online_passes() -> None:
    tenant = healthy_tenant().add(CONDITIONAL_ACCESS_POLICIES, ca_block_policy())
    assert verdicts(enr_009_conditional_access_allows_enrollment, tenant) == {(CA_POLICY_ID, PASS)}


def test_block_all_apps_excluding_both_intune_apps_passes() -> None:
    policy = block_all_apps_all_users(
        applications={
            "includeApplications": ["All"],
            "excludeApplications": [INTUNE_ENROLLMENT_APP, INTUNE_APP],
        }
    )
    tenant = healthy_tenant().add(CONDITIONAL_ACCESS_POLICIES, policy)
    assert verdicts(enr_009_conditional_access_allows_enrollment, tenant) == {(CA_POLICY_ID, PASS)}


def test_block_all_apps_excluding_only_intune_enrollment_still_blocks_intune() -> None:
    policy = block_all_apps_all_users(
        applications={
            "includeApplications": ["All"],
            "excludeApplications": [INTUNE_ENROLLMENT_APP],
        }
    )
    finding = only(
        enr_009_conditional_access_allows_enrollment,
        healthy_tenant().add(CONDITIONAL_ACCESS_POLICIES, policy),
    )
    assert (finding.status, finding.severity) == (FAIL, Severity.ERROR)
    assert "blocks Microsoft Intune for every user" in finding.message


def test_block_with_user_exclusions_or_a_location_is_a_warning() -> None:
    users = block_all_apps_all_users()["conditions"]["users"] | {"excludeGroups": ["grp-it"]}
    for policy in (
        block_all_apps_all_users(users=users),
        block_all_apps_all_users(locations={"includeLocations": ["named-location"]}),
    ):
        finding = only(
            enr_009_conditional_access_allows_enrollment,
            healthy_tenant().add(CONDITIONAL_ACCESS_POLICIES, policy),
        )
        assert (finding.status, finding.severity) == (FAIL, Severity.WARNING)


def test_block_for_other_platforms_or_report_only_or_disabled_passes() -> None:
    for policy in (
        block_all_apps_all_users(platforms={"includePlatforms": ["iOS", "android"]}),
        block_all_apps_all_users(state="enabledForReportingButNotEnforced"),
        block_all_apps_all_users(state="disabled"),
    ):
        tenant = healthy_tenant().add(CONDITIONAL_ACCESS_POLICIES, policy)
        assert {s for _, s in verdicts(enr_009_conditional_access_allows_enrollment, tenant)} == {
            PASS
        }


def test_terms_of_use_on_intune_enrollment_fails() -> None:
    policy = ca_block_policy(
        applications={"includeApplications": [INTUNE_ENROLLMENT_APP]},
        users={"includeUsers": ["All"]},
        locations=None,
        grantControls={"operator": "OR", "builtInControls": [], "termsOfUse": ["tou-1"]},
    )
    finding = only(
        enr_009_conditional_access_allows_enrollment,
        healthy_tenant().add(CONDITIONAL_ACCESS_POLICIES, policy),
    )
    assert (finding.status, finding.severity) == (FAIL, Severity.ERROR)
    assert "terms of use" in finding.message


def test_unreadable_conditional_access_is_unknown() -> None:
    tenant = healthy_tenant().unreadable(CONDITIONAL_ACCESS_POLICIES)
    assert verdicts(enr_009_conditional_access_allows_enrollment, tenant) == {(TENANT_ID, UNKNOWN)}


# --- ENR-002 -------------------------------------------------------------------------------------


def test_default_mdm_urls_pass() -> None:
    assert verdicts(enr_002_default_mdm_urls, healthy_tenant()) == {(MDM_POLICY_ID, PASS)}


def test_changed_discovery_url_is_an_error_and_terms_url_a_warning() -> None:
    discovery = healthy_tenant().patch(
        MDM_POLICIES,
        MDM_POLICY_ID,
        discoveryUrl="https://enrollment.mdm.contoso.com/enrollmentserver/discovery.svc",
    )
    terms = healthy_tenant().patch(
        MDM_POLICIES, MDM_POLICY_ID, termsOfUseUrl="https://portal.mdm.contoso.com/TermsofUse.aspx"
    )
    assert (only(enr_002_default_mdm_urls, discovery).severity) == Severity.ERROR
    assert (
        only(enr_002_default_mdm_urls, terms).status,
        only(enr_002_default_mdm_urls, terms).severity,
    ) == (
        FAIL,
        Severity.WARNING,
    )


def test_mdm_url_differing_in_case_or_trailing_slash_passes() -> None:
    tenant = healthy_tenant().patch(
        MDM_POLICIES,
        MDM_POLICY_ID,
        termsOfUseUrl="https://PORTAL.manage.microsoft.com/TermsofUse.aspx/",
    )
    assert verdicts(enr_002_default_mdm_urls, tenant) == {(MDM_POLICY_ID, PASS)}


def test_unreadable_mdm_policy_makes_urls_unknown() -> None:
    tenant = healthy_tenant().unreadable(MDM_POLICIES)
    assert verdicts(enr_002_default_mdm_urls, tenant) == {(TENANT_ID, UNKNOWN)}


# --- DEV-006 -------------------------------------------------------------------------------------


def test_autopilot_devices_anchored_to_joined_objects_pass() -> None:
    assert verdicts(dev_006_not_entra_registered, healthy_tenant()) == {
        (DEVICE_A_ID, PASS),
        (DEVICE_B_ID, PASS),
    }


def test_autopilot_device_anchored_to_a_workplace_object_fails() -> None:
    tenant = healthy_tenant().patch(DEVICES, DEVICE_A_ENTRA_OBJECT_ID, trustType="Workplace")
    assert verdicts(dev_006_not_entra_registered, tenant) == {
        (DEVICE_A_ID, FAIL),
        (DEVICE_B_ID, PASS),
    }


def test_unreadable_entra_devices_make_the_join_type_unknown() -> None:
    tenant = healthy_tenant().unreadable(DEVICES)
    assert {s for _, s in verdicts(dev_006_not_entra_registered, tenant)} == {UNKNOWN}


# --- GRP-003 -------------------------------------------------------------------------------------


def test_devices_in_the_autopilot_group_pass() -> None:
    assert verdicts(grp_003_device_in_autopilot_device_group, healthy_tenant()) == {
        (DEVICE_A_ID, PASS),
        (DEVICE_B_ID, PASS),
    }


def test_a_rule_typo_that_drops_the_devices_fails_for_each_device() -> None:
    typo = '(device.devicePhysicalIDs -any (_ -startsWith "[ZTDld]"))'  # l for I
    tenant = healthy_tenant().patch(GROUPS, AP_GROUP_ID, membershipRule=typo)
    assert verdicts(grp_003_device_in_autopilot_device_group, tenant) == {
        (DEVICE_A_ID, FAIL),
        (DEVICE_B_ID, FAIL),
    }


def test_rule_spelt_differently_but_selecting_the_same_devices_passes() -> None:
    rule = '(device.devicePhysicalIds -any _ -contains "[ZTDId]")'
    tenant = healthy_tenant().patch(GROUPS, AP_GROUP_ID, membershipRule=rule)
    assert verdicts(grp_003_device_in_autopilot_device_group, tenant) == {
        (DEVICE_A_ID, PASS),
        (DEVICE_B_ID, PASS),
    }


def test_unreadable_entra_devices_make_membership_unknown() -> None:
    tenant = healthy_tenant().unreadable(DEVICES)
    assert {s for _, s in verdicts(grp_003_device_in_autopilot_device_group, tenant)} == {UNKNOWN}


# --- GRP-004 -------------------------------------------------------------------------------------


def test_security_group_passes() -> None:
    assert verdicts(grp_004_autopilot_group_is_security_group, healthy_tenant()) == {
        (AP_GROUP_ID, PASS)
    }


@pytest.mark.parametrize(
    "changes", [{"securityEnabled": False, "mailEnabled": True}, {"isAssignableToRole": True}]
)
def test_microsoft_365_or_role_assignable_group_fails(changes: dict[str, Any]) -> None:
    tenant = healthy_tenant().patch(GROUPS, AP_GROUP_ID, **changes)
    assert verdicts(grp_004_autopilot_group_is_security_group, tenant) == {(AP_GROUP_ID, FAIL)}


def test_group_not_saying_whether_it_is_a_security_group_is_unknown() -> None:
    tenant = healthy_tenant().patch(GROUPS, AP_GROUP_ID, securityEnabled=None)
    assert verdicts(grp_004_autopilot_group_is_security_group, tenant) == {(AP_GROUP_ID, UNKNOWN)}


# --- GRP-005 -------------------------------------------------------------------------------------


def _profile_name_group(rule: str) -> TenantBuilder:
    return healthy_tenant().add(GROUPS, dynamic_group("grp-by-profile", "By profile name", rule))


def test_no_profile_name_rule_passes_for_the_tenant() -> None:
    assert verdicts(grp_005_enrollment_profile_name_matched_whole, healthy_tenant()) == {
        (TENANT_ID, PASS)
    }


@pytest.mark.parametrize(
    ("rule", "status"),
    [
        ('(device.enrollmentProfileName -eq "Contoso Pre-provisioning")', PASS),
        ('(device.enrollmentProfileName -in ["A", "B"])', PASS),
        ('(device.enrollmentProfileName -startsWith "Contoso")', FAIL),
        ('(device.enrollmentProfileName -contains "Pre-prov")', FAIL),
        ('(device.enrollmentProfileName -ne "Kiosk")', FAIL),
        ('-not (device.enrollmentProfileName -eq "Kiosk")', FAIL),
    ],
)
def test_enrollment_profile_name_rules(rule: str, status: Status) -> None:
    assert verdicts(grp_005_enrollment_profile_name_matched_whole, _profile_name_group(rule)) == {
        ("grp-by-profile", status)
    }


def test_profile_named_like_an_offline_correlator_fails() -> None:
    tenant = healthy_tenant().add(
        AUTOPILOT_PROFILES,
        autopilot_profile("prf-offline", "OfflineAutopilotProfile-lab", assignments=[]),
    )
    assert verdicts(grp_005_enrollment_profile_name_matched_whole, tenant) == {
        ("prf-offline", FAIL)
    }


def test_unreadable_groups_make_profile_name_rules_unknown() -> None:
    tenant = healthy_tenant().unreadable(GROUPS)
    assert verdicts(grp_005_enrollment_profile_name_matched_whole, tenant) == {(TENANT_ID, UNKNOWN)}


# --- HYB-002 HYB-005 HYB-006 HYB-007 HYB-008 ----------------------------------------------------


def test_updated_connector_passes_and_legacy_one_fails() -> None:
    assert {s for _, s in verdicts(hyb_002_connector_not_legacy, hybrid_tenant())} == {PASS}
    legacy = hybrid_tenant().patch(DOMAIN_JOIN_CONNECTORS, "odj-connector-1", version="6.2409.1.0")
    finding = only(hyb_002_connector_not_legacy, legacy)
    assert (finding.status, finding.severity) == (FAIL, Severity.BLOCKER)


def test_exactly_the_minimum_connector_version_passes() -> None:
    tenant = hybrid_tenant().patch(
        DOMAIN_JOIN_CONNECTORS, "odj-connector-1", version="6.2501.2000.5"
    )
    assert {s for _, s in verdicts(hyb_002_connector_not_legacy, tenant)} == {PASS}


def test_connector_version_not_readable_is_unknown() -> None:
    tenant = hybrid_tenant().patch(
        DOMAIN_JOIN_CONNECTORS, "odj-connector-1", version="Version value"
    )
    assert {s for _, s in verdicts(hyb_002_connector_not_legacy, tenant)} == {UNKNOWN}


def test_hybrid_rules_are_not_applicable_without_hybrid_profiles() -> None:
    for module in (
        hyb_002_connector_not_legacy,
        hyb_005_skip_connectivity_check_for_vpn,
        hyb_006_hybrid_apps_tracked,
        hyb_007_hybrid_esp_extra_time,
    ):
        assert verdicts(module, healthy_tenant()) == {(TENANT_ID, NOT_APPLICABLE)}
    assert verdicts(hyb_008_entra_connect_sync_scope, healthy_tenant()) == {
        (TENANT_ID, NOT_APPLICABLE)
    }


def test_connectivity_check_on_asks_a_person_and_skipped_passes() -> None:
    assert verdicts(hyb_005_skip_connectivity_check_for_vpn, hybrid_tenant()) == {
        (PROFILE_ID, MANUAL)
    }
    skipped = hybrid_tenant().patch(
        AUTOPILOT_PROFILES, PROFILE_ID, hybridAzureADJoinSkipConnectivityCheck=True
    )
    assert verdicts(hyb_005_skip_connectivity_check_for_vpn, skipped) == {(PROFILE_ID, PASS)}


def test_hybrid_user_context_win32_app_fails() -> None:
    assert verdicts(hyb_006_hybrid_apps_tracked, hybrid_tenant()) == {(AGENT_APP_ID, PASS)}
    agent = hybrid_tenant().object(MOBILE_APPS, AGENT_APP_ID)
    experience = {**agent["installExperience"], "runAsAccount": "user"}
    tenant = hybrid_tenant().patch(MOBILE_APPS, AGENT_APP_ID, installExperience=experience)
    assert verdicts(hyb_006_hybrid_apps_tracked, tenant) == {(AGENT_APP_ID, FAIL)}


def test_hybrid_esp_time_is_reported_and_unknown_without_the_esp() -> None:
    finding = only(hyb_007_hybrid_esp_extra_time, hybrid_tenant())
    assert (finding.status, finding.subject.id) == (PASS, DEVICE_ESP_ID)
    assert "+ 40 for hybrid join" in finding.message
    blind = hybrid_tenant().unreadable(ENROLLMENT_CONFIGURATIONS)
    assert verdicts(hyb_007_hybrid_esp_extra_time, blind) == {(TENANT_ID, UNKNOWN)}


def test_entra_connect_sync_scope_is_a_manual_item_per_hybrid_profile() -> None:
    assert verdicts(hyb_008_entra_connect_sync_scope, hybrid_tenant()) == {(PROFILE_ID, MANUAL)}
    blind = hybrid_tenant().unreadable(AUTOPILOT_PROFILES)
    assert verdicts(hyb_008_entra_connect_sync_scope, blind) == {(TENANT_ID, MANUAL)}


# --- COM-002 -------------------------------------------------------------------------------------


def test_no_comanagement_is_not_applicable() -> None:
    assert verdicts(com_002_cloud_management_gateway_reachable, healthy_tenant()) == {
        (TENANT_ID, NOT_APPLICABLE)
    }


def test_cmg_named_in_the_command_line_is_handed_to_a_person() -> None:
    settings = comanagement(include_group("grp-configmgr-clients")) | {
        "configurationManagerAgentCommandLineArgument": (
            "CCMHOSTNAME=CONTOSOCMG.CONTOSO.COM/CCM_Proxy_MutualAuth/72057594037928022 "
            "SMSSiteCode=CON"
        )
    }
    finding = only(
        com_002_cloud_management_gateway_reachable,
        healthy_tenant().add(ENROLLMENT_CONFIGURATIONS, settings),
    )
    assert (finding.status, finding.subject.id) == (MANUAL, COMANAGEMENT_ID)
    assert "contosocmg.contoso.com (TCP 443)" in finding.message


def test_client_installed_without_a_cmg_fails_and_not_installed_is_not_applicable() -> None:
    settings = comanagement(include_group("grp-configmgr-clients"))
    assert verdicts(
        com_002_cloud_management_gateway_reachable,
        healthy_tenant().add(ENROLLMENT_CONFIGURATIONS, settings),
    ) == {(COMANAGEMENT_ID, FAIL)}
    off = settings | {"installConfigurationManagerAgent": False}
    assert verdicts(
        com_002_cloud_management_gateway_reachable,
        healthy_tenant().add(ENROLLMENT_CONFIGURATIONS, off),
    ) == {(COMANAGEMENT_ID, NOT_APPLICABLE)}


def test_unreadable_enrollment_configurations_make_the_cmg_unknown() -> None:
    tenant = healthy_tenant().unreadable(ENROLLMENT_CONFIGURATIONS)
    assert verdicts(com_002_cloud_management_gateway_reachable, tenant) == {(TENANT_ID, UNKNOWN)}


# --- manual items --------------------------------------------------------------------------------


def test_manual_items_say_what_to_check_and_stay_out_of_the_verdict() -> None:
    evaluation = evaluate_snapshot(healthy_tenant().snapshot())
    manual = [f for f in evaluation.findings if f.status is MANUAL]
    assert {f.rule_id for f in manual} == {
        "ENR-004",
        "ENR-008",
        "DEV-009",
        "NET-001",
        "NET-002",
        "OPS-001",
        "OPS-002",
        "ESP-009",
        "PRF-012",
        "APP-016",
        "SCR-002",
        "CFG-012",
        "CMP-004",
    }
    assert all(f.reasons for f in manual)
    assert evaluation.worst() is None
    assert evaluation.counts()["manual"] == len(manual)


def test_manual_item_helper_refuses_a_rule() -> None:
    rule = next(r for r in all_rules() if r.metadata.kind is RuleKind.RULE)
    with pytest.raises(ValueError, match="not a manual item"):
        manual_item(rule.metadata)


# --- what-if: a rule typo that moves devices to another profile ---------------------------------


def test_what_if_a_rule_typo_moves_hybrid_devices_to_another_profile_is_not_green(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sample = Path(__file__).resolve().parents[1] / "samples" / "contoso-sample.json"
    hybrid_group = next(
        group
        for group in json.loads(sample.read_text(encoding="utf-8"))["collections"]["groups"]
        if group["displayName"] == "Autopilot - Hybrid join devices"
    )
    change = tmp_path / "typo.json"
    change.write_text(
        json.dumps(
            {
                "format": "greenscreen.tenant-changes/1",
                "description": "Fix the purchase order rule (one digit dropped)",
                "changes": [
                    {
                        "op": "setGroupRule",
                        "id": hybrid_group["id"],
                        "membershipRule": (
                            '(device.devicePhysicalIds -any _ -eq "[PurchaseOrderId]:450001234")'
                        ),
                    }
                ],
            }
        ),
        encoding="utf-8",
    )
    status = greenscreen(
        ["check", "--snapshot", str(sample), "--what-if", str(change), "--format", "json"]
    )
    result = json.loads(capsys.readouterr().out)
    assert status == 1
    moved = [
        change
        for change in result["newlyFailing"]
        if change["ruleId"] == "GRP-003" and change["after"]["status"] == "fail"
    ]
    assert moved
    assert all(
        "Autopilot will give it 'Contoso - Entra join (pre-provisioning)' instead"
        in change["message"]
        for change in moved
    )


def test_a_workplace_object_that_is_not_an_autopilot_anchor_does_not_matter() -> None:
    tenant = healthy_tenant().add(
        DEVICES,
        {
            "id": "entra-obj-byod",
            "deviceId": "entra-dev-byod",
            "displayName": "Adele's laptop",
            "physicalIds": [],
            "trustType": "Workplace",
            "accountEnabled": True,
        },
    )
    assert verdicts(dev_006_not_entra_registered, tenant) == {
        (DEVICE_A_ID, PASS),
        (DEVICE_B_ID, PASS),
    }


def test_conditional_access_policy_without_conditions_is_unknown() -> None:
    policy = ca_block_policy(conditions=None)
    tenant = healthy_tenant().add(CONDITIONAL_ACCESS_POLICIES, policy)
    assert verdicts(enr_009_conditional_access_allows_enrollment, tenant) == {
        (CA_POLICY_ID, UNKNOWN)
    }


def test_excluding_only_guests_still_blocks_every_deploying_user() -> None:
    users = block_all_apps_all_users()["conditions"]["users"] | {
        "excludeUsers": ["GuestsOrExternalUsers"],
        "excludeGuestsOrExternalUsers": {"guestOrExternalUserTypes": "b2bCollaborationGuest"},
    }
    finding = only(
        enr_009_conditional_access_allows_enrollment,
        healthy_tenant().add(CONDITIONAL_ACCESS_POLICIES, block_all_apps_all_users(users=users)),
    )
    assert (finding.status, finding.severity) == (FAIL, Severity.ERROR)


def test_hybrid_profile_not_reporting_the_connectivity_check_is_unknown() -> None:
    tenant = hybrid_tenant().patch(
        AUTOPILOT_PROFILES, PROFILE_ID, hybridAzureADJoinSkipConnectivityCheck=None
    )
    assert verdicts(hyb_005_skip_connectivity_check_for_vpn, tenant) == {(PROFILE_ID, UNKNOWN)}


def test_hybrid_app_not_reporting_its_install_behavior_is_unknown() -> None:
    agent = hybrid_tenant().object(MOBILE_APPS, AGENT_APP_ID)
    experience = {**agent["installExperience"], "runAsAccount": None}
    tenant = hybrid_tenant().patch(MOBILE_APPS, AGENT_APP_ID, installExperience=experience)
    assert verdicts(hyb_006_hybrid_apps_tracked, tenant) == {(AGENT_APP_ID, UNKNOWN)}
    assert verdicts(hyb_006_hybrid_apps_tracked, hybrid_tenant().unreadable(MOBILE_APPS)) == {
        (TENANT_ID, UNKNOWN)
    }
