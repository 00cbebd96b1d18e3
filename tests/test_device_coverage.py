"""Per-device coverage: a payload the technician phase needs must reach every device."""

from __future__ import annotations

from types import ModuleType

from rules.applicability import name_devices
from rules.checks.profiles_and_esp import (
    esp_003_blocking_apps_install_in_device_phase,
    esp_010_user_esp_skipped,
)
from rules.context import RuleContext
from rules.engine import Rule, run_rule
from rules.findings import Finding, Status
from rules.snapshot_model import TenantSnapshot
from rules.tenant_collections import DEVICE_CONFIGURATIONS, GROUPS, MOBILE_APPS
from samples.synthetic import generate_tenant
from tests.tenant_builder import (
    AGENT_APP_ID,
    AP_GROUP_ID,
    DEVICE_A_ENTRA_OBJECT_ID,
    DEVICE_B_ID,
    SKIP_USER_ESP_ID,
    TenantBuilder,
    assigned_group,
    device_member,
    healthy_tenant,
    include_group,
)

ONLY_A = "grp-only-device-a"


def findings(rule: ModuleType, tenant: TenantBuilder) -> list[Finding]:
    return run_rule(Rule.from_module(rule), RuleContext.for_snapshot(tenant.snapshot()))


def only_device_a() -> TenantBuilder:
    return healthy_tenant().add(
        GROUPS, assigned_group(ONLY_A, "Only device A", [device_member(DEVICE_A_ENTRA_OBJECT_ID)])
    )


def test_blocking_app_reaching_one_of_two_devices_fails_naming_the_other() -> None:
    tenant = only_device_a().assign(
        MOBILE_APPS, AGENT_APP_ID, include_group(ONLY_A, intent="required")
    )

    found = findings(esp_003_blocking_apps_install_in_device_phase, tenant)

    assert {(f.subject.id, f.status, f.devices) for f in found} == {
        (AGENT_APP_ID, Status.FAIL, (DEVICE_B_ID,))
    }
    assert "1 of the profile's 2 device(s) (PF3BBB02)" in found[0].message


def test_blocking_app_reaching_every_device_passes() -> None:
    found = findings(esp_003_blocking_apps_install_in_device_phase, only_device_a())

    assert {(f.subject.id, f.status) for f in found} == {(AGENT_APP_ID, Status.PASS)}


def test_skip_user_status_page_missing_a_device_fails_for_that_device() -> None:
    tenant = only_device_a().assign(DEVICE_CONFIGURATIONS, SKIP_USER_ESP_ID, include_group(ONLY_A))

    found = findings(esp_010_user_esp_skipped, tenant)

    assert {(f.subject.id, f.status, f.devices) for f in found} == {
        (SKIP_USER_ESP_ID, Status.FAIL, (DEVICE_B_ID,))
    }


def test_the_named_sample_is_bounded_and_counts_the_rest() -> None:
    snapshot = TenantSnapshot.from_document(
        generate_tenant(apps=10, device_configurations=5, groups=20, devices=300, profiles=3)
    )
    ids = frozenset(device.id for device in snapshot.autopilot_devices or ())

    text = name_devices(snapshot, ids, len(ids))

    assert text.startswith(f"{len(ids)} of the profile's {len(ids)} device(s) (")
    assert text.endswith(f", and {len(ids) - 5} more)")
    assert len(text) < 200


def test_the_ap_group_still_reaches_every_device() -> None:
    tenant = healthy_tenant().assign(
        MOBILE_APPS, AGENT_APP_ID, include_group(AP_GROUP_ID, intent="required")
    )

    found = findings(esp_003_blocking_apps_install_in_device_phase, tenant)

    assert {f.status for f in found} == {Status.PASS}
