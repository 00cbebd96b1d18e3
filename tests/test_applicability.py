"""Device-phase applicability over a healthy tenant with one thing broken per test."""

from __future__ import annotations

from typing import Any

import pytest

from rules.applicability import (
    Applicability,
    Certainty,
    GroupKind,
    TenantTargeting,
    tenant_targeting,
)
from rules.snapshot_model import TenantSnapshot
from rules.tenant_collections import (
    ASSIGNMENT_FILTERS,
    AUTOPILOT_DEVICES,
    AUTOPILOT_PROFILES,
    COMPLIANCE_POLICIES,
    DEVICE_CONFIGURATIONS,
    DEVICES,
    ENROLLMENT_CONFIGURATIONS,
    GROUPS,
    MOBILE_APPS,
    PLATFORM_SCRIPTS,
    SETTINGS_CATALOG_POLICIES,
)
from rules.tenant_objects import AssignedPayload, AutopilotProfile
from tests.tenant_builder import (
    AGENT_APP_ID,
    AP_GROUP_ID,
    AP_GROUP_NAME,
    COMPLIANCE_ID,
    DEFAULT_ESP_ID,
    DEVICE_A_ENTRA_OBJECT_ID,
    DEVICE_A_ID,
    DEVICE_B_ID,
    DEVICE_ESP_ID,
    NAME_FILTER_ID,
    PORTAL_APP_ID,
    PROFILE_ID,
    PROFILE_NAME,
    REMOVE,
    SCRIPT_ID,
    SETTINGS_POLICY_ID,
    SKIP_USER_ESP_ID,
    SURFACE_FILTER_ID,
    USER_GROUP_ID,
    TenantBuilder,
    all_devices,
    all_users,
    assigned_group,
    autopilot_profile,
    device_member,
    dynamic_group,
    esp,
    exclude_group,
    healthy_tenant,
    include_group,
    user_member,
)

APPLIES = Applicability.APPLIES
DOES_NOT_APPLY = Applicability.DOES_NOT_APPLY
CONDITIONAL = Applicability.CONDITIONAL
UNKNOWN = Applicability.UNKNOWN

TAG_GROUP_ID = "grp-tag-contoso"
TAG_RULE = '(device.devicePhysicalIds -any _ -eq "[OrderID]:Contoso")'
OTHER_TAG_GROUP_ID = "grp-tag-fabrikam"
PILOT_GROUP_ID = "grp-pilot-devices"
HELPDESK_GROUP_ID = "grp-helpdesk-users"
SECOND_PROFILE_ID = "prf-legacy"


def with_extra_groups(tenant: TenantBuilder) -> TenantBuilder:
    return tenant.add(
        GROUPS,
        dynamic_group(TAG_GROUP_ID, "Autopilot - Tag Contoso", TAG_RULE),
        dynamic_group(
            OTHER_TAG_GROUP_ID,
            "Autopilot - Tag Fabrikam",
            '(device.devicePhysicalIds -any _ -eq "[OrderID]:Fabrikam")',
        ),
        assigned_group(PILOT_GROUP_ID, "Pilot devices", [device_member(DEVICE_A_ENTRA_OBJECT_ID)]),
        assigned_group(HELPDESK_GROUP_ID, "Helpdesk", [user_member("user-1")]),
    )


def agent_assigned(*assignments: dict[str, Any]) -> TenantSnapshot:
    return (
        with_extra_groups(healthy_tenant())
        .assign(MOBILE_APPS, AGENT_APP_ID, *assignments)
        .snapshot()
    )


def profile_of(snapshot: TenantSnapshot, profile_id: str = PROFILE_ID) -> AutopilotProfile:
    profile = snapshot.autopilot_profile(profile_id)
    assert profile is not None
    return profile


def agent_verdict(snapshot: TenantSnapshot) -> tuple[Applicability, tuple[str, ...]]:
    app = snapshot.mobile_app(AGENT_APP_ID)
    assert app is not None
    result = tenant_targeting(snapshot).device_phase_applicability(app, profile_of(snapshot))
    return result.verdict, result.reasons


def verdicts(snapshot: TenantSnapshot) -> set[tuple[str, Applicability]]:
    targeting = tenant_targeting(snapshot)
    profile = profile_of(snapshot)
    payloads: list[AssignedPayload] = [
        *(snapshot.mobile_apps or ()),
        *(snapshot.device_configurations or ()),
        *(snapshot.settings_catalog_policies or ()),
        *(snapshot.platform_scripts or ()),
        *(snapshot.compliance_policies or ()),
    ]
    return {
        (payload.id, targeting.device_phase_applicability(payload, profile).verdict)
        for payload in payloads
    }


# --- the healthy tenant --------------------------------------------------------------------------


def test_healthy_tenant_device_payload_applies_and_user_available_app_does_not() -> None:
    assert verdicts(healthy_tenant().snapshot()) == {
        (AGENT_APP_ID, APPLIES),
        (PORTAL_APP_ID, DOES_NOT_APPLY),
        (SKIP_USER_ESP_ID, APPLIES),
        (SETTINGS_POLICY_ID, APPLIES),
        (SCRIPT_ID, APPLIES),
        (COMPLIANCE_ID, APPLIES),
    }


def test_reason_chain_names_the_group_and_the_profile() -> None:
    _, reasons = agent_verdict(healthy_tenant().snapshot())

    assert reasons == (
        f"assigned to group '{AP_GROUP_NAME}' (dynamic device group)",
        f"group is an Autopilot device group of profile '{PROFILE_NAME}'",
    )


def test_unreadable_payload_collection_leaves_no_verdict_for_it_and_others_still_apply() -> None:
    snapshot = (
        healthy_tenant().unreadable(PLATFORM_SCRIPTS).unreadable(COMPLIANCE_POLICIES).snapshot()
    )

    assert snapshot.platform_scripts is None
    assert verdicts(snapshot) == {
        (AGENT_APP_ID, APPLIES),
        (PORTAL_APP_ID, DOES_NOT_APPLY),
        (SKIP_USER_ESP_ID, APPLIES),
        (SETTINGS_POLICY_ID, APPLIES),
    }


# --- targets -------------------------------------------------------------------------------------


def test_all_devices_target_applies() -> None:
    verdict, reasons = agent_verdict(agent_assigned(all_devices(intent="required")))

    assert verdict is APPLIES
    assert "assigned to All devices" in reasons


def test_all_users_target_does_not_apply_and_reports_the_assigned_user() -> None:
    snapshot = agent_assigned(all_users(intent="required"))
    app = snapshot.mobile_app(AGENT_APP_ID)
    assert app is not None

    result = tenant_targeting(snapshot).device_phase_applicability(app, profile_of(snapshot))

    assert result.verdict is DOES_NOT_APPLY
    assert result.user_targeting is not None
    assert result.user_targeting.targets == ("All users",)
    assert result.user_targeting.devices_with_assigned_user == {DEVICE_A_ID}


@pytest.mark.parametrize("group_id", [USER_GROUP_ID, HELPDESK_GROUP_ID])
def test_user_group_include_does_not_apply_in_the_device_phase(group_id: str) -> None:
    snapshot = agent_assigned(include_group(group_id, intent="required"))
    app = snapshot.mobile_app(AGENT_APP_ID)
    assert app is not None

    result = tenant_targeting(snapshot).device_phase_applicability(app, profile_of(snapshot))

    assert result.verdict is DOES_NOT_APPLY
    assert result.user_targeting is not None
    assert "user group" in result.user_targeting.targets[0]
    assert any("assigned user" in reason for reason in result.reasons)


def test_device_group_holding_the_profiles_devices_applies() -> None:
    verdict, reasons = agent_verdict(agent_assigned(include_group(TAG_GROUP_ID, intent="required")))

    assert verdict is APPLIES
    assert "group holds 2 of the profile's 2 registered device(s)" in reasons


def test_device_group_holding_none_of_the_profiles_devices_does_not_apply() -> None:
    snapshot = agent_assigned(include_group(OTHER_TAG_GROUP_ID, intent="required"))

    assert agent_verdict(snapshot)[0] is DOES_NOT_APPLY


def test_assigned_device_group_with_a_profile_device_as_member_applies() -> None:
    verdict, reasons = agent_verdict(
        agent_assigned(include_group(PILOT_GROUP_ID, intent="required"))
    )

    assert verdict is APPLIES
    assert "assigned to group 'Pilot devices' (assigned device group)" in reasons


def test_empty_assigned_group_does_not_apply() -> None:
    snapshot = (
        with_extra_groups(healthy_tenant())
        .patch(GROUPS, PILOT_GROUP_ID, members=[])
        .assign(MOBILE_APPS, AGENT_APP_ID, include_group(PILOT_GROUP_ID, intent="required"))
        .snapshot()
    )

    assert agent_verdict(snapshot)[0] is DOES_NOT_APPLY


def test_assigned_group_whose_members_could_not_be_read_is_unknown() -> None:
    snapshot = (
        with_extra_groups(healthy_tenant())
        .navigation_unreadable(GROUPS, PILOT_GROUP_ID, "members")
        .assign(MOBILE_APPS, AGENT_APP_ID, include_group(PILOT_GROUP_ID, intent="required"))
        .snapshot()
    )

    verdict, reasons = agent_verdict(snapshot)

    assert verdict is UNKNOWN
    assert "members of 'Pilot devices' could not be read" in reasons


@pytest.mark.parametrize(
    ("intent", "verdict"),
    [
        ("required", APPLIES),
        ("available", DOES_NOT_APPLY),
        ("uninstall", DOES_NOT_APPLY),
        ("availableWithoutEnrollment", DOES_NOT_APPLY),
    ],
)
def test_only_required_apps_install_in_the_device_phase(
    intent: str, verdict: Applicability
) -> None:
    assert agent_verdict(agent_assigned(include_group(AP_GROUP_ID, intent=intent)))[0] is verdict


# --- exclusions ----------------------------------------------------------------------------------


def test_device_exclusion_removes_a_device_include() -> None:
    verdict, reasons = agent_verdict(
        agent_assigned(
            include_group(TAG_GROUP_ID, intent="required"),
            exclude_group(AP_GROUP_ID, intent="required"),
        )
    )

    assert verdict is DOES_NOT_APPLY
    assert f"excluded via '{AP_GROUP_NAME}' (dynamic device group)" in reasons


def test_device_exclusion_removes_all_devices() -> None:
    snapshot = agent_assigned(all_devices(intent="required"), exclude_group(TAG_GROUP_ID))

    assert agent_verdict(snapshot)[0] is DOES_NOT_APPLY


def test_exclusion_of_some_devices_leaves_the_others() -> None:
    snapshot = agent_assigned(
        include_group(AP_GROUP_ID, intent="required"), exclude_group(PILOT_GROUP_ID)
    )

    assert agent_verdict(snapshot)[0] is APPLIES


def test_user_group_exclusion_does_not_remove_a_device_include() -> None:
    verdict, reasons = agent_verdict(
        agent_assigned(include_group(AP_GROUP_ID, intent="required"), exclude_group(USER_GROUP_ID))
    )

    assert verdict is APPLIES
    assert any("does not remove device targeting" in reason for reason in reasons)


def test_exclusion_under_another_intent_does_not_affect_required_installs() -> None:
    snapshot = agent_assigned(
        include_group(AP_GROUP_ID, intent="required"),
        exclude_group(AP_GROUP_ID, intent="available"),
    )

    assert agent_verdict(snapshot)[0] is APPLIES


def test_exclusions_apply_to_policies_without_intent() -> None:
    snapshot = (
        with_extra_groups(healthy_tenant())
        .assign(DEVICE_CONFIGURATIONS, SKIP_USER_ESP_ID, all_devices(), exclude_group(AP_GROUP_ID))
        .snapshot()
    )

    assert (SKIP_USER_ESP_ID, DOES_NOT_APPLY) in verdicts(snapshot)


# --- filters -------------------------------------------------------------------------------------


def test_filter_on_a_property_set_at_enrollment_is_conditional_and_names_the_filter() -> None:
    # The device name is given at enrollment: unknown before it, so the filter decides later.
    rule = '(device.deviceName -startsWith "CON-")'
    snapshot = (
        with_extra_groups(healthy_tenant())
        .patch(ASSIGNMENT_FILTERS, SURFACE_FILTER_ID, rule=rule)
        .assign(
            MOBILE_APPS,
            AGENT_APP_ID,
            include_group(AP_GROUP_ID, intent="required", filter_id=SURFACE_FILTER_ID),
        )
        .snapshot()
    )
    app = snapshot.mobile_app(AGENT_APP_ID)
    assert app is not None

    result = tenant_targeting(snapshot).device_phase_applicability(app, profile_of(snapshot))

    assert result.verdict is CONDITIONAL
    assert [(f.display_name, f.rule) for f in result.filters] == [("Surface devices", rule)]


def test_unfiltered_include_wins_over_a_filtered_one() -> None:
    snapshot = agent_assigned(
        all_devices(intent="required", filter_id=SURFACE_FILTER_ID, filter_type="exclude"),
        include_group(AP_GROUP_ID, intent="required"),
    )

    assert agent_verdict(snapshot)[0] is APPLIES


def test_filter_missing_from_the_tenant_is_still_named() -> None:
    snapshot = (
        with_extra_groups(healthy_tenant())
        .remove(ASSIGNMENT_FILTERS, SURFACE_FILTER_ID)
        .assign(
            MOBILE_APPS,
            AGENT_APP_ID,
            include_group(AP_GROUP_ID, intent="required", filter_id=SURFACE_FILTER_ID),
        )
        .snapshot()
    )

    verdict, reasons = agent_verdict(snapshot)

    assert verdict is CONDITIONAL
    assert f"filter {SURFACE_FILTER_ID} decides on the device; it is not in the tenant" in reasons


# --- missing and unreadable data -----------------------------------------------------------------


def test_dangling_include_group_reaches_nobody_as_grp_006_says() -> None:
    # GRP-006 calls the group deleted; applicability agrees: a deleted group holds no device.
    verdict, reasons = agent_verdict(
        agent_assigned(include_group("grp-deleted", intent="required"))
    )

    assert verdict is DOES_NOT_APPLY
    assert (
        "assigned to group grp-deleted, which is not in the tenant (deleted?): it reaches no "
        "device" in reasons
    )


def test_dangling_exclusion_is_ignored_with_a_reason() -> None:
    verdict, reasons = agent_verdict(
        agent_assigned(include_group(AP_GROUP_ID, intent="required"), exclude_group("grp-deleted"))
    )

    assert verdict is APPLIES
    assert "exclusion of group grp-deleted ignored: it is not in the tenant" in reasons


def test_unreadable_groups_make_group_targets_unknown_but_all_devices_still_applies() -> None:
    tenant = (
        healthy_tenant()
        .assign(DEVICE_CONFIGURATIONS, SKIP_USER_ESP_ID, all_devices())
        .unreadable(GROUPS)
    )

    assert verdicts(tenant.snapshot()) == {
        (AGENT_APP_ID, UNKNOWN),
        (PORTAL_APP_ID, DOES_NOT_APPLY),
        (SKIP_USER_ESP_ID, APPLIES),
        (SETTINGS_POLICY_ID, UNKNOWN),
        (SCRIPT_ID, UNKNOWN),
        (COMPLIANCE_ID, UNKNOWN),
    }


def test_unreadable_assignments_of_a_payload_are_unknown() -> None:
    snapshot = (
        healthy_tenant().navigation_unreadable(MOBILE_APPS, AGENT_APP_ID, "assignments").snapshot()
    )

    assert agent_verdict(snapshot) == (
        UNKNOWN,
        (f"assignments of '{'Contoso Agent'}' could not be read",),
    )


@pytest.mark.parametrize("collection", [DEVICES, AUTOPILOT_DEVICES])
def test_unreadable_devices_keep_ap_group_identity_but_not_predicted_membership(
    collection: str,
) -> None:
    base = with_extra_groups(healthy_tenant()).unreadable(collection)
    on_ap_group = base.snapshot()
    on_tag_group = base.assign(
        MOBILE_APPS, AGENT_APP_ID, include_group(TAG_GROUP_ID, intent="required")
    ).snapshot()

    assert agent_verdict(on_ap_group)[0] is APPLIES
    assert agent_verdict(on_tag_group)[0] is UNKNOWN


def test_ztdid_group_applies_to_a_profile_targeting_a_narrower_group() -> None:
    snapshot = (
        with_extra_groups(healthy_tenant())
        .assign(AUTOPILOT_PROFILES, PROFILE_ID, include_group(TAG_GROUP_ID))
        .unreadable(DEVICES)
        .snapshot()
    )

    verdict, reasons = agent_verdict(snapshot)

    assert verdict is APPLIES
    assert "the group's rule holds every Autopilot device" in reasons


def test_paused_ap_group_still_applies_and_says_it_is_paused() -> None:
    snapshot = (
        healthy_tenant()
        .patch(GROUPS, AP_GROUP_ID, membershipRuleProcessingState="Paused")
        .snapshot()
    )

    verdict, reasons = agent_verdict(snapshot)

    assert verdict is APPLIES
    assert f"membership processing of '{AP_GROUP_NAME}' is paused" in reasons
    group = snapshot.group(AP_GROUP_ID)
    assert group is not None
    assert tenant_targeting(snapshot).membership(group).paused


def test_profile_without_registered_devices_still_receives_its_group_payload() -> None:
    snapshot = healthy_tenant().empty(AUTOPILOT_DEVICES).snapshot()

    assert agent_verdict(snapshot)[0] is APPLIES


# --- group kinds ---------------------------------------------------------------------------------


def test_group_kinds_come_from_rules_and_members() -> None:
    snapshot = (
        with_extra_groups(healthy_tenant())
        .add(
            GROUPS,
            assigned_group("grp-mixed", "Mixed", [device_member("d"), user_member("u")]),
            assigned_group("grp-empty", "Empty", []),
            assigned_group("grp-unread", "Unread", []),
            assigned_group(
                "grp-nested",
                "Nested",
                [{"@odata.type": "#microsoft.graph.group", "id": PILOT_GROUP_ID}],
            ),
            assigned_group(
                "grp-dangling",
                "Dangling",
                [{"@odata.type": "#microsoft.graph.group", "id": "gone"}],
            ),
            dynamic_group("grp-bad-rule", "Bad rule", "device.deviceOSType -like 'x'"),
            dynamic_group("grp-mixed-rule", "Mixed rule", 'user.a -eq "1" -or device.b -eq "2"'),
        )
        .patch(GROUPS, "grp-unread", members=REMOVE)
        .snapshot()
    )
    targeting = tenant_targeting(snapshot)

    kinds = {(group.id, targeting.group_kind(group).kind) for group in snapshot.groups or ()}

    assert kinds == {
        (AP_GROUP_ID, GroupKind.DEVICE),
        (USER_GROUP_ID, GroupKind.USER),
        (TAG_GROUP_ID, GroupKind.DEVICE),
        (OTHER_TAG_GROUP_ID, GroupKind.DEVICE),
        (PILOT_GROUP_ID, GroupKind.DEVICE),
        (HELPDESK_GROUP_ID, GroupKind.USER),
        ("grp-mixed", GroupKind.MIXED),
        ("grp-empty", GroupKind.UNKNOWN_EMPTY),
        ("grp-unread", GroupKind.UNKNOWN),
        ("grp-nested", GroupKind.DEVICE),
        ("grp-dangling", GroupKind.UNKNOWN),
        ("grp-bad-rule", GroupKind.UNKNOWN),
        ("grp-mixed-rule", GroupKind.MIXED),
    }


# --- profiles ------------------------------------------------------------------------------------


def test_ap_device_groups_are_includes_minus_exclusions() -> None:
    snapshot = (
        with_extra_groups(healthy_tenant())
        .assign(
            AUTOPILOT_PROFILES,
            PROFILE_ID,
            include_group(AP_GROUP_ID),
            include_group(OTHER_TAG_GROUP_ID),
            exclude_group(OTHER_TAG_GROUP_ID),
            exclude_group(PILOT_GROUP_ID),
        )
        .snapshot()
    )

    targeting = tenant_targeting(snapshot).profile_targeting(profile_of(snapshot))

    assert targeting.ap_device_group_ids == {AP_GROUP_ID}
    assert targeting.device_ids == {DEVICE_B_ID}


def test_profile_assigned_to_all_devices_targets_every_registration() -> None:
    snapshot = healthy_tenant().assign(AUTOPILOT_PROFILES, PROFILE_ID, all_devices()).snapshot()

    targeting = tenant_targeting(snapshot).profile_targeting(profile_of(snapshot))

    assert targeting.all_devices
    assert targeting.device_ids == {DEVICE_A_ID, DEVICE_B_ID}


def test_only_profiles_allowing_preprovisioning_are_preprovisioning_profiles() -> None:
    snapshot = (
        healthy_tenant()
        .add(
            AUTOPILOT_PROFILES,
            autopilot_profile(SECOND_PROFILE_ID, "Legacy", assignments=[], preprovisioning=False),
        )
        .snapshot()
    )

    profiles = tenant_targeting(snapshot).preprovisioning_profiles()

    assert [profile.id for profile in profiles or ()] == [PROFILE_ID]


def second_profile(created: str, *assignments: dict[str, Any]) -> TenantBuilder:
    return with_extra_groups(healthy_tenant()).add(
        AUTOPILOT_PROFILES,
        autopilot_profile(
            SECOND_PROFILE_ID, "Legacy", created=created, assignments=list(assignments)
        ),
    )


def effective(snapshot: TenantSnapshot) -> set[tuple[str, str | None, Certainty]]:
    targeting = tenant_targeting(snapshot)
    results = [targeting.effective_profile(device) for device in snapshot.autopilot_devices or ()]
    return {
        (r.autopilot_device_id, r.profile.id if r.profile else None, r.certainty) for r in results
    }


def test_oldest_profile_wins_when_two_target_the_same_device() -> None:
    snapshot = second_profile("2023-06-01T00:00:00Z", include_group(PILOT_GROUP_ID)).snapshot()

    assert effective(snapshot) == {
        (DEVICE_A_ID, SECOND_PROFILE_ID, Certainty.CERTAIN),
        (DEVICE_B_ID, PROFILE_ID, Certainty.CERTAIN),
    }
    device = snapshot.autopilot_device(DEVICE_A_ID)
    assert device is not None
    competing = tenant_targeting(snapshot).effective_profile(device).competing
    assert [profile.id for profile in competing] == [PROFILE_ID]


def test_newer_profile_loses_to_the_existing_one() -> None:
    snapshot = second_profile("2025-06-01T00:00:00Z", include_group(PILOT_GROUP_ID)).snapshot()

    assert effective(snapshot) == {
        (DEVICE_A_ID, PROFILE_ID, Certainty.CERTAIN),
        (DEVICE_B_ID, PROFILE_ID, Certainty.CERTAIN),
    }


def test_device_in_no_profile_group_has_no_effective_profile() -> None:
    snapshot = healthy_tenant().assign(AUTOPILOT_PROFILES, PROFILE_ID).snapshot()

    assert effective(snapshot) == {
        (DEVICE_A_ID, None, Certainty.CERTAIN),
        (DEVICE_B_ID, None, Certainty.CERTAIN),
    }


def test_undecidable_older_profile_makes_the_effective_profile_unknown() -> None:
    snapshot = (
        second_profile("2023-06-01T00:00:00Z", include_group(PILOT_GROUP_ID))
        .navigation_unreadable(GROUPS, PILOT_GROUP_ID, "members")
        .snapshot()
    )

    assert effective(snapshot) == {
        (DEVICE_A_ID, None, Certainty.UNKNOWN),
        (DEVICE_B_ID, None, Certainty.UNKNOWN),
    }


def test_undecidable_newer_profile_does_not_change_the_effective_profile() -> None:
    snapshot = (
        second_profile("2025-06-01T00:00:00Z", include_group(PILOT_GROUP_ID))
        .navigation_unreadable(GROUPS, PILOT_GROUP_ID, "members")
        .snapshot()
    )

    assert effective(snapshot) == {
        (DEVICE_A_ID, PROFILE_ID, Certainty.CERTAIN),
        (DEVICE_B_ID, PROFILE_ID, Certainty.CERTAIN),
    }


# --- the effective ESP ---------------------------------------------------------------------------


def effective_esp(tenant: TenantBuilder) -> tuple[str | None, Certainty, tuple[str, ...]]:
    snapshot = tenant.snapshot()
    result = tenant_targeting(snapshot).effective_esp(profile_of(snapshot))
    return (result.esp.id if result.esp else None, result.certainty, result.reasons)


def test_healthy_tenant_uses_the_device_targeted_esp() -> None:
    assert effective_esp(healthy_tenant())[:2] == (DEVICE_ESP_ID, Certainty.CERTAIN)


def test_highest_priority_applicable_esp_wins() -> None:
    tenant = healthy_tenant().add(
        ENROLLMENT_CONFIGURATIONS,
        esp("esp-first", "First", priority=2, assignments=[all_devices()]),
        esp("esp-zeroth", "Zeroth", priority=0, assignments=[include_group(AP_GROUP_ID)]),
    )
    tenant.patch(ENROLLMENT_CONFIGURATIONS, DEVICE_ESP_ID, priority=1)

    assert effective_esp(tenant)[:2] == ("esp-zeroth", Certainty.CERTAIN)


def test_default_esp_applies_when_no_custom_esp_targets_the_devices() -> None:
    tenant = healthy_tenant().assign(
        ENROLLMENT_CONFIGURATIONS, DEVICE_ESP_ID, include_group(USER_GROUP_ID)
    )

    esp_id, certainty, reasons = effective_esp(tenant)

    assert (esp_id, certainty) == (DEFAULT_ESP_ID, Certainty.CERTAIN)
    assert (
        "ESP 'Contoso device ESP' (priority 1) is user-targeted: pre-provisioning applies only "
        "ESPs targeted at devices"
    ) in reasons


def test_filtered_higher_priority_esp_makes_the_choice_conditional() -> None:
    tenant = healthy_tenant().add(
        ENROLLMENT_CONFIGURATIONS,
        esp(
            "esp-surface",
            "Surface ESP",
            priority=0,
            assignments=[include_group(AP_GROUP_ID, filter_id=NAME_FILTER_ID)],
        ),
    )

    snapshot = tenant.snapshot()
    result = tenant_targeting(snapshot).effective_esp(profile_of(snapshot))

    assert (getattr(result.esp, "id", None), result.certainty) == (
        DEVICE_ESP_ID,
        Certainty.CONDITIONAL,
    )
    assert [esp.id for esp in result.undecided] == ["esp-surface"]


def test_unreadable_enrollment_configurations_make_the_esp_unknown() -> None:
    tenant = healthy_tenant().unreadable(ENROLLMENT_CONFIGURATIONS)

    assert effective_esp(tenant) == (
        None,
        Certainty.UNKNOWN,
        ("enrollment configurations could not be read",),
    )


# --- the shared view -----------------------------------------------------------------------------


def test_targeting_view_is_shared_per_snapshot() -> None:
    snapshot = healthy_tenant().snapshot()

    assert tenant_targeting(snapshot) is tenant_targeting(snapshot)
    assert isinstance(tenant_targeting(snapshot), TenantTargeting)
    assert tenant_targeting(healthy_tenant().snapshot()) is not tenant_targeting(snapshot)


def test_settings_catalog_and_compliance_use_the_same_engine() -> None:
    snapshot = (
        with_extra_groups(healthy_tenant())
        .assign(SETTINGS_CATALOG_POLICIES, SETTINGS_POLICY_ID, include_group(USER_GROUP_ID))
        .assign(COMPLIANCE_POLICIES, COMPLIANCE_ID, include_group(TAG_GROUP_ID))
        .snapshot()
    )

    assert {(SETTINGS_POLICY_ID, DOES_NOT_APPLY), (COMPLIANCE_ID, APPLIES)} <= verdicts(snapshot)
