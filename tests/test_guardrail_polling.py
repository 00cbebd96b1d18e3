"""The timers' work per tenant: audit and directory polls, reconcile fan-out, tenant isolation."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from monitors.guardrail.audit_polling import collection_for
from monitors.guardrail.composition import (
    Services,
    build_services,
    poll_directory_all,
    poll_intune_audit_all,
    process_change_text,
    reconcile_all,
)
from monitors.guardrail.directory_polling import DirectoryOutcome
from monitors.guardrail.queues import CHANGES_QUEUE, ChangeMessage
from rules import tenant_collections as tc
from tests.azurite import Azurite
from tests.graphsim import Fault, GraphSimulator
from tests.test_function_support import (
    ALL_DEVICES_GROUP,
    drain,
    empty_queues,  # noqa: F401 - fixture
    guardrail_env,
    sample_snapshot,
    services,  # noqa: F401 - fixture
    simulator,  # noqa: F401 - fixture
    tenant_of,
)

CHANGE_FORMAT = "greenscreen.tenant-changes/1"
PAUSE = {
    "format": CHANGE_FORMAT,
    "changes": [
        {"op": "setGroupRule", "id": ALL_DEVICES_GROUP, "membershipRuleProcessingState": "Paused"}
    ],
}


def queued(azurite: Azurite) -> list[ChangeMessage]:
    return [ChangeMessage.from_text(text) for text in drain(azurite, CHANGES_QUEUE)]


def read_baseline(services: Services, tenant: str) -> None:  # noqa: F811
    process_change_text(services, ChangeMessage.create(tenant, "manual", "full").to_text())


def test_expired_delta_token_starts_over_and_asks_for_a_full_read(
    services: Services,  # noqa: F811
    simulator: GraphSimulator,  # noqa: F811
    azurite: Azurite,
) -> None:
    tenant = tenant_of(simulator)
    read_baseline(services, tenant)
    poll_directory_all(services)
    simulator.expire_delta_tokens()
    simulator.apply_changes(PAUSE)
    outcome = poll_directory_all(services)[tenant]
    assert isinstance(outcome, DirectoryOutcome)
    assert len(outcome.resynced) == 2  # the groups link and the devices link
    kinds = sorted(m.kind for m in queued(azurite))
    assert "full" in kinds
    poll_directory_all(services)  # the new links work: nothing more to report
    assert queued(azurite) == []


def test_forbidden_directory_audits_leave_changes_without_actor_but_still_queued(
    services: Services,  # noqa: F811
    simulator: GraphSimulator,  # noqa: F811
    azurite: Azurite,
) -> None:
    tenant = tenant_of(simulator)
    read_baseline(services, tenant)
    simulator.add_fault(Fault(path="directoryAudits", kind="forbidden", times=None))
    poll_directory_all(services)
    simulator.apply_changes(PAUSE)
    outcome = poll_directory_all(services)[tenant]
    assert isinstance(outcome, DirectoryOutcome)
    assert outcome.audits_forbidden
    (message,) = queued(azurite)
    assert (message.kind, message.resource["id"], message.event_ids) == (
        "group",
        ALL_DEVICES_GROUP,
        (),
    )


def test_new_autopilot_device_in_entra_becomes_a_device_change(
    services: Services,  # noqa: F811
    simulator: GraphSimulator,  # noqa: F811
    azurite: Azurite,
) -> None:
    tenant = tenant_of(simulator)
    read_baseline(services, tenant)
    poll_directory_all(services)
    device = {
        "id": "d0d0d0d0-0000-4000-8000-000000000001",
        "deviceId": "d0d0d0d0-0000-4000-8000-000000000002",
        "displayName": "DESKTOP-NEW",
        "physicalIds": ["[ZTDId]:d0d0d0d0-0000-4000-8000-000000000003"],
        "trustType": "AzureAd",
        "accountEnabled": True,
        "operatingSystem": "Windows",
    }
    other = dict(device, id="d0d0d0d0-0000-4000-8000-00000000000f", physicalIds=[])
    simulator.apply_changes(
        {
            "format": CHANGE_FORMAT,
            "changes": [
                {"op": "add", "collection": tc.DEVICES, "object": device},
                {"op": "add", "collection": tc.DEVICES, "object": other},
            ],
        }
    )
    poll_directory_all(services)
    (message,) = queued(azurite)
    assert (message.kind, message.resource["ids"]) == ("device", [device["id"]])
    process_change_text(services, message.to_text())
    assert services.mirror.get_object(tenant, tc.DEVICES, device["id"]) is not None


def test_intune_audit_resource_types_map_to_snapshot_collections() -> None:
    assert collection_for("MobileApp") == tc.MOBILE_APPS
    assert collection_for("Windows10CustomConfiguration") == tc.DEVICE_CONFIGURATIONS
    assert collection_for("DeviceConfigurationAssignment") is None  # a navigation, not an object
    assert collection_for("ManagedDevice") is None


def test_one_failing_tenant_never_blocks_the_others(
    azurite: Azurite,
    simulator: GraphSimulator,  # noqa: F811
    empty_queues: None,  # noqa: F811
) -> None:
    healthy = tenant_of(simulator)
    with GraphSimulator(sample_snapshot(), seed=2) as broken_sim:
        broken = tenant_of(broken_sim)
        broken_sim.add_fault(Fault(path="auditEvents", kind="forbidden", times=None))
        tenants = [
            {"tenantId": broken, "graphUrl": broken_sim.url},
            {"tenantId": healthy},
        ]
        services = build_services(guardrail_env(azurite, tenants, simulator.url))
        read_baseline(services, healthy)
        poll_intune_audit_all(services)
        simulator.apply_changes(
            {
                "format": CHANGE_FORMAT,
                "changes": [
                    {
                        "op": "set",
                        "collection": tc.PLATFORM_SCRIPTS,
                        "id": "8a9c5f52-f48d-5528-a3b6-fb3a21252bde",
                        "path": "runAsAccount",
                        "value": "user",
                    }
                ],
            }
        )
        results = poll_intune_audit_all(services)
    assert isinstance(results[broken], Exception)
    assert not isinstance(results[healthy], Exception)
    assert [(m.tenant_id, m.kind) for m in queued(azurite)] == [(healthy, "intune")]


def test_reconcile_queues_one_full_read_per_tenant(
    azurite: Azurite,
    empty_queues: None,  # noqa: F811
) -> None:
    tenants = [{"tenantId": f"{n}1111111-2222-3333-4444-555555555555"} for n in range(3)]
    services = build_services(  # noqa: F811
        guardrail_env(azurite, tenants, "https://graph.microsoft.com")
        | {"GREENSCREEN_GRAPH_AUTH": "default"}
    )
    services.clock = lambda: datetime(2026, 11, 24, 12, tzinfo=UTC)
    reconcile_all(services)
    messages = queued(azurite)
    assert sorted((m.tenant_id, m.source, m.kind) for m in messages) == [
        (t["tenantId"], "reconcile", "full") for t in tenants
    ]
    services.clock = lambda: datetime(2026, 11, 24, 12, tzinfo=UTC) + timedelta(hours=6)
    reconcile_all(services)
    later = queued(azurite)
    assert {m.id for m in later}.isdisjoint({m.id for m in messages})
    assert json.loads(later[0].to_text())["resource"] == {}
