"""UNKNOWN only where the answer depends on what could not be read; rules agree on one object."""

from __future__ import annotations

from types import ModuleType

from rules.checks.payloads import app_001_win32_installs_as_system
from rules.checks.profiles_and_esp import (
    esp_001_device_esp_shows_progress,
    esp_002_blocking_apps_on_device_esp,
    esp_010_user_esp_skipped,
    esp_011_device_esp_not_skipped,
    prf_001_preprovisioning_allowed,
)
from rules.checks.tenant_and_devices import grp_006_assigned_groups_exist
from rules.context import RuleContext
from rules.engine import Rule, evaluate_snapshot, run_rule
from rules.findings import Finding, Status
from rules.tenant_collections import (
    AUTOPILOT_DEVICES,
    AUTOPILOT_PROFILES,
    DEVICE_CONFIGURATIONS,
    ENROLLMENT_CONFIGURATIONS,
    GROUPS,
    MOBILE_APPS,
)
from tests.tenant_builder import (
    AP_GROUP_ID,
    DEFAULT_ESP_ID,
    DEVICE_ESP_ID,
    PROFILE_ID,
    SKIP_USER_ESP_ID,
    TenantBuilder,
    all_devices,
    dynamic_group,
    esp,
    exclude_group,
    healthy_tenant,
    include_group,
    win32_app,
)

ESP_AND_PRF = (
    esp_001_device_esp_shows_progress,
    esp_002_blocking_apps_on_device_esp,
    esp_010_user_esp_skipped,
    esp_011_device_esp_not_skipped,
    prf_001_preprovisioning_allowed,
)


def findings(rule: ModuleType, tenant: TenantBuilder) -> list[Finding]:
    return run_rule(Rule.from_module(rule), RuleContext.for_snapshot(tenant.snapshot()))


def verdicts(rule: ModuleType, tenant: TenantBuilder) -> set[tuple[str, Status]]:
    return {(f.subject.id, f.status) for f in findings(rule, tenant)}


def devices_unreadable() -> TenantBuilder:
    return healthy_tenant().unreadable(AUTOPILOT_DEVICES)


def test_healthy_tenant_with_unreadable_devices_decides_what_devices_do_not_change() -> None:
    # Every payload targets the profile's own Autopilot device group: it reaches whichever
    # devices the profile holds, so the device list is not needed for these verdicts.
    tenant = devices_unreadable()

    statuses = {
        (rule.METADATA.id, f.status) for rule in ESP_AND_PRF for f in findings(rule, tenant)
    }

    assert statuses == {
        ("ESP-001", Status.PASS),
        ("ESP-002", Status.PASS),
        ("ESP-010", Status.PASS),
        ("ESP-011", Status.PASS),
        ("PRF-001", Status.PASS),
    }


def test_no_skip_user_status_page_anywhere_is_a_certain_esp_010_failure() -> None:
    tenant = devices_unreadable().remove(DEVICE_CONFIGURATIONS, SKIP_USER_ESP_ID)

    assert verdicts(esp_010_user_esp_skipped, tenant) == {(PROFILE_ID, Status.FAIL)}


def test_skip_user_status_page_assigned_to_all_devices_is_a_certain_pass() -> None:
    tenant = devices_unreadable().assign(DEVICE_CONFIGURATIONS, SKIP_USER_ESP_ID, all_devices())

    assert verdicts(esp_010_user_esp_skipped, tenant) == {(SKIP_USER_ESP_ID, Status.PASS)}


def test_skip_user_status_page_on_a_group_the_devices_decide_stays_unknown() -> None:
    tenant = (
        devices_unreadable()
        .add(GROUPS, dynamic_group("grp-surface", "Surface", '(device.deviceModel -eq "Surface")'))
        .assign(DEVICE_CONFIGURATIONS, SKIP_USER_ESP_ID, include_group("grp-surface"))
    )

    assert verdicts(esp_010_user_esp_skipped, tenant) == {(SKIP_USER_ESP_ID, Status.UNKNOWN)}


def test_only_the_default_esp_decides_esp_001_without_the_devices() -> None:
    # The default ESP of the healthy tenant does not show progress: a certain failure.
    tenant = devices_unreadable().remove(ENROLLMENT_CONFIGURATIONS, DEVICE_ESP_ID)

    assert verdicts(esp_001_device_esp_shows_progress, tenant) == {(DEFAULT_ESP_ID, Status.FAIL)}


def test_findings_never_count_devices_next_to_could_not_be_read() -> None:
    evaluation = evaluate_snapshot(devices_unreadable().snapshot())

    counted = [
        (f.rule_id, reason)
        for f in evaluation.findings
        for reason in f.reasons
        if "targets 0 registered device(s)" in reason
    ]

    assert counted == []


def test_no_profile_allowing_preprovisioning_leaves_nothing_unknown() -> None:
    tenant = healthy_tenant().patch(AUTOPILOT_PROFILES, PROFILE_ID, preprovisioningAllowed=False)

    evaluation = evaluate_snapshot(tenant.snapshot())

    assert {f.rule_id for f in evaluation.findings if f.status is Status.UNKNOWN} == set()


def test_a_deleted_group_is_deleted_for_every_rule() -> None:
    # GRP-006 calls the group deleted; a payload rule may not call its targets unknown.
    tenant = healthy_tenant().add(
        MOBILE_APPS,
        win32_app(
            "app-orphan",
            "Orphaned tool",
            run_as="user",
            assignments=[include_group("grp-deleted", intent="required")],
        ),
    )

    grp = {(f.subject.id, f.status) for f in findings(grp_006_assigned_groups_exist, tenant)}
    app = {
        (f.subject.id, f.status)
        for f in findings(app_001_win32_installs_as_system, tenant)
        if f.subject.id == "app-orphan"
    }

    assert ("app-orphan", Status.FAIL) in grp
    assert app <= {("app-orphan", Status.PASS), ("app-orphan", Status.NOT_APPLICABLE)}


def test_an_esp_on_a_group_the_profile_excludes_never_reaches_its_devices() -> None:
    # Exclusion wins: whatever devices the Sales group holds, none of them gets the profile, so
    # the higher-priority Sales ESP is out of the question even with the device list unread.
    sales = dynamic_group(
        "grp-sales", "Sales", '(device.devicePhysicalIds -any _ -eq "[OrderID]:Sales")'
    )
    tenant = (
        devices_unreadable()
        .add(GROUPS, sales)
        .assign(
            AUTOPILOT_PROFILES, PROFILE_ID, include_group(AP_GROUP_ID), exclude_group("grp-sales")
        )
        .patch(ENROLLMENT_CONFIGURATIONS, DEVICE_ESP_ID, priority=2)
        .add(
            ENROLLMENT_CONFIGURATIONS,
            esp("esp-sales", "Sales ESP", priority=1, assignments=[include_group("grp-sales")]),
        )
    )

    found = findings(esp_001_device_esp_shows_progress, tenant)

    assert {(f.subject.id, f.status) for f in found} == {(DEVICE_ESP_ID, Status.PASS)}
    assert not any("0 registered device(s)" in reason for f in found for reason in f.reasons)
