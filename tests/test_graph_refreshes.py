"""process_change refreshes that work on Graph as it behaves in the field.

Against the simulator, which reproduces each behaviour (docs/graph-simulator.md, "How real Graph
behaves"): a single Autopilot device GET reports `deploymentProfileAssignmentStatus` `unknown`,
`$select` on the device list answers 500, `$expand=deploymentProfile` 400; an endpoint-security
policy's single-object `$expand=assignments` answers empty; Intune composes ids with `_`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import azure.functions as func
import pytest
from azure.functions.timer import TimerRequest

from monitors.guardrail.change_processing import ChangeOutcome
from monitors.guardrail.composition import Services, process_change_text
from monitors.guardrail.queues import ALERTS_QUEUE, CHANGES_QUEUE, AlertBatch, ChangeMessage
from monitors.store.settings import store_from_settings
from monitors.store.verdict_store import VerdictStore
from monitors.telemetry import names
from rules import tenant_collections as tc
from tests.azurite import Azurite
from tests.graphsim import GraphSimulator
from tests.test_function_support import (
    drain,
    empty_queues,  # noqa: F401 - fixture
    guardrail_env,
    reset_function_app,
    sample_snapshot,
    services,  # noqa: F401 - fixture
    simulator,  # noqa: F401 - fixture
    tenant_of,
    user_function,
)
from tests.test_telemetry import Captured, telemetry  # noqa: F401 - fixture

CHANGE_FORMAT = "greenscreen.tenant-changes/1"
ACTOR = "eve.admin@contoso.onmicrosoft.com"
DEVICE = "deb43cf6-57de-5ed1-8c1e-23cbbeff8149"  # serial 200297727693, assignedInSync
OTHER_PROFILE = "ee3ad06b-b4a8-56d0-8bc1-5b3c184ffcc4"
DEFENDER_POLICY = "141a6a7d-5dfd-5160-a96e-8b8ca03dde43"  # templateFamily endpointSecurityAntivirus
PREPROVISIONING_ESP = "b9309bc0-3f43-529f-a270-6a05c991960a"
# The shape Intune gives an ESP it creates (`<guid>_Windows10EnrollmentCompletion`).
REAL_ESP_ID = f"{PREPROVISIONING_ESP}_Windows10EnrollmentCompletion"


def process(services: Services, message: ChangeMessage) -> ChangeOutcome:  # noqa: F811
    outcome = process_change_text(services, message.to_text())
    assert isinstance(outcome, ChangeOutcome)
    return outcome


def requests(sim: GraphSimulator) -> list[str]:
    return [f"{r.method} {r.path}?{r.query}" for r in sim.request_log if r.path != "$batch"]


def device_change(tenant: str) -> ChangeMessage:
    return ChangeMessage.create(
        tenant, "audit", "intune", {"collection": tc.AUTOPILOT_DEVICES, "id": DEVICE}
    )


def apply(sim: GraphSimulator, *changes: dict[str, Any]) -> None:
    sim.apply_changes(
        {"format": CHANGE_FORMAT, "actor": {"userPrincipalName": ACTOR}, "changes": list(changes)}
    )


def set_device(name: str, value: Any) -> dict[str, Any]:
    return {
        "op": "set",
        "collection": tc.AUTOPILOT_DEVICES,
        "id": DEVICE,
        "path": name,
        "value": value,
    }


# --- one Autopilot device -------------------------------------------------------------------


def test_device_refresh_reads_the_list_by_serial_and_keeps_the_real_status(
    services: Services,  # noqa: F811
    simulator: GraphSimulator,  # noqa: F811
) -> None:
    tenant = tenant_of(simulator)
    process(services, ChangeMessage.create(tenant, "manual", "full"))
    apply(simulator, set_device("displayName", "CONTOSO-KIOSK-01"))
    simulator.clear_log()
    outcome = process(services, device_change(tenant))
    # One request: the list filtered on the serial number (a single GET would say `unknown`).
    assert requests(simulator) == [
        f"GET {tc.AUTOPILOT_DEVICES}?$filter=contains(serialNumber,'200297727693')"
    ]
    stored = services.mirror.get_object(tenant, tc.AUTOPILOT_DEVICES, DEVICE)
    assert stored is not None
    assert stored["deploymentProfileAssignmentStatus"] == "assignedInSync"
    assert stored["displayName"] == "CONTOSO-KIOSK-01"
    assert stored["deploymentProfile"]["id"] == "5bc400e9-3b8b-5704-94a4-8e972f573b26"
    assert outcome.transitions == ()  # the device is as ready as before


def test_device_with_a_new_assignment_looks_its_profile_up_in_assigned_devices(
    services: Services,  # noqa: F811
    simulator: GraphSimulator,  # noqa: F811
    telemetry: Captured,  # noqa: F811 - fixture
) -> None:
    tenant = tenant_of(simulator)
    process(services, ChangeMessage.create(tenant, "manual", "full"))
    profile = next(
        p
        for p in simulator.tenant_snapshot()["collections"][tc.AUTOPILOT_PROFILES]
        if p["id"] == OTHER_PROFILE
    )
    reference = {k: profile[k] for k in ("@odata.type", "id", "displayName")}
    apply(
        simulator,
        set_device("deploymentProfile", reference),
        set_device("deploymentProfileAssignedDateTime", "2026-11-30T10:00:00Z"),
    )
    simulator.clear_log()
    process(services, device_change(tenant))
    stored = services.mirror.get_object(tenant, tc.AUTOPILOT_DEVICES, DEVICE)
    assert stored is not None
    assert stored["deploymentProfile"]["id"] == OTHER_PROFILE
    assert stored["deploymentProfileAssignmentStatus"] == "assignedInSync"
    looked_up = [r for r in requests(simulator) if "/assignedDevices" in r]
    assert (
        1
        <= len(looked_up)
        <= len(simulator.tenant_snapshot()["collections"][tc.AUTOPILOT_PROFILES])
    )
    assert not any("$select" in r or "$expand" in r for r in requests(simulator))
    lookups = telemetry.total(
        names.METRIC_GRAPH_FALLBACKS,
        **{names.GRAPH_FALLBACK: "autopilot_assigned_devices"},
    )
    assert lookups == 1


def test_device_unknown_to_the_mirror_is_found_by_its_serial_number(
    services: Services,  # noqa: F811
    simulator: GraphSimulator,  # noqa: F811
) -> None:
    tenant = tenant_of(simulator)
    process(services, ChangeMessage.create(tenant, "manual", "full"))
    services.mirror.remove_objects(tenant, tc.AUTOPILOT_DEVICES, [DEVICE])
    simulator.clear_log()
    process(services, device_change(tenant))
    stored = services.mirror.get_object(tenant, tc.AUTOPILOT_DEVICES, DEVICE)
    assert stored is not None
    assert stored["deploymentProfileAssignmentStatus"] == "assignedInSync"  # not `unknown`
    assert stored["deploymentProfile"]["id"] == "5bc400e9-3b8b-5704-94a4-8e972f573b26"
    assert requests(simulator)[0] == f"GET {tc.AUTOPILOT_DEVICES}/{DEVICE}?"


def test_device_the_serial_filter_misses_is_read_from_the_whole_list(
    services: Services,  # noqa: F811
    simulator: GraphSimulator,  # noqa: F811
    telemetry: Captured,  # noqa: F811 - fixture
) -> None:
    tenant = tenant_of(simulator)
    process(services, ChangeMessage.create(tenant, "manual", "full"))
    stale = services.mirror.get_object(tenant, tc.AUTOPILOT_DEVICES, DEVICE)
    assert stale is not None
    services.mirror.put_objects(
        tenant, tc.AUTOPILOT_DEVICES, [{**stale, "serialNumber": "NOT THE SERIAL"}]
    )
    simulator.clear_log()
    process(services, device_change(tenant))
    assert requests(simulator) == [
        f"GET {tc.AUTOPILOT_DEVICES}?$filter=contains(serialNumber,'NOT')",
        f"GET {tc.AUTOPILOT_DEVICES}/{DEVICE}?",
        f"GET {tc.AUTOPILOT_DEVICES}?$top=1000",
    ]
    stored = services.mirror.get_object(tenant, tc.AUTOPILOT_DEVICES, DEVICE)
    assert stored is not None
    assert stored["serialNumber"] == "200297727693"
    assert stored["deploymentProfileAssignmentStatus"] == "assignedInSync"
    fallback = {names.GRAPH_FALLBACK: "autopilot_device_list"}
    assert telemetry.total(names.METRIC_GRAPH_FALLBACKS, **fallback) == 1


def test_deleted_device_is_forgotten(
    services: Services,  # noqa: F811
    simulator: GraphSimulator,  # noqa: F811
) -> None:
    tenant = tenant_of(simulator)
    process(services, ChangeMessage.create(tenant, "manual", "full"))
    apply(simulator, {"op": "remove", "collection": tc.AUTOPILOT_DEVICES, "id": DEVICE})
    process(services, device_change(tenant))
    assert services.mirror.get_object(tenant, tc.AUTOPILOT_DEVICES, DEVICE) is None


# --- endpoint-security settings policies ------------------------------------------------------


def test_endpoint_security_policy_refresh_keeps_its_assignments(
    services: Services,  # noqa: F811
    simulator: GraphSimulator,  # noqa: F811
) -> None:
    tenant = tenant_of(simulator)
    process(services, ChangeMessage.create(tenant, "manual", "full"))
    before = services.mirror.get_object(tenant, tc.SETTINGS_CATALOG_POLICIES, DEFENDER_POLICY)
    assert before is not None
    assert before["assignments"]
    apply(
        simulator,
        {
            "op": "set",
            "collection": tc.SETTINGS_CATALOG_POLICIES,
            "id": DEFENDER_POLICY,
            "path": "description",
            "value": "reviewed",
        },
    )
    simulator.clear_log()
    outcome = process(
        services,
        ChangeMessage.create(
            tenant,
            "audit",
            "intune",
            {"collection": tc.SETTINGS_CATALOG_POLICIES, "id": DEFENDER_POLICY},
        ),
    )
    after = services.mirror.get_object(tenant, tc.SETTINGS_CATALOG_POLICIES, DEFENDER_POLICY)
    assert after is not None
    assert after["assignments"] == before["assignments"]
    assert after["description"] == "reviewed"
    assert outcome.transitions == ()  # nothing really changed: no false transition
    assert f"GET {tc.SETTINGS_CATALOG_POLICIES}/{DEFENDER_POLICY}/assignments?" in requests(
        simulator
    )


# --- an ESP with Intune's real id reaches the guardrail -------------------------------------


@pytest.fixture
def real_ids_simulator() -> Iterator[GraphSimulator]:
    """The sample with the pre-provisioning ESP under the id shape Intune gives it (and its
    assignments under `<esp id>_<group id>`, as Intune composes them)."""
    text = json.dumps(sample_snapshot()).replace(PREPROVISIONING_ESP, REAL_ESP_ID)
    with GraphSimulator(json.loads(text), seed=1) as sim:
        yield sim


@pytest.fixture
def deployed(
    azurite: Azurite,
    real_ids_simulator: GraphSimulator,
    monkeypatch: pytest.MonkeyPatch,
    empty_queues: None,  # noqa: F811 - fixture
) -> Iterator[VerdictStore]:
    env = guardrail_env(
        azurite, [{"tenantId": tenant_of(real_ids_simulator)}], real_ids_simulator.url
    )
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    reset_function_app()
    yield store_from_settings(env)
    reset_function_app()


def deliver(texts: list[str]) -> None:
    for text in texts:
        user_function("process_change")(func.QueueMessage(id="m", body=text.encode()))


def test_esp_change_under_its_real_id_reaches_the_guardrail(
    deployed: VerdictStore, azurite: Azurite, real_ids_simulator: GraphSimulator
) -> None:
    sim = real_ids_simulator
    tenant = tenant_of(sim)
    response = user_function("evaluate_now")(
        func.HttpRequest(
            method="POST",
            url="/api/evaluate",
            params={},
            body=json.dumps({"tenantId": tenant}).encode(),
        )
    )
    assert response.status_code == 202
    deliver(drain(azurite, CHANGES_QUEUE))
    assert drain(azurite, ALERTS_QUEUE) == []
    user_function("poll_intune_audit")(TimerRequest(past_due=False))
    assert drain(azurite, CHANGES_QUEUE) == []

    apply(
        sim,
        {
            "op": "set",
            "collection": tc.ENROLLMENT_CONFIGURATIONS,
            "id": REAL_ESP_ID,
            "path": "showInstallationProgress",
            "value": False,
        },
    )
    user_function("poll_intune_audit")(TimerRequest(past_due=False))
    changes = drain(azurite, CHANGES_QUEUE)
    (message,) = [ChangeMessage.from_text(text) for text in changes]
    assert (message.kind, message.resource["id"]) == ("intune", REAL_ESP_ID)

    sim.clear_log()
    deliver(changes)
    assert requests(sim) == [
        f"GET {tc.ENROLLMENT_CONFIGURATIONS}/{REAL_ESP_ID}?$expand=assignments"
    ]
    alerts = [a for text in drain(azurite, ALERTS_QUEUE) for a in AlertBatch.from_text(text).alerts]
    assert ("ESP-001", REAL_ESP_ID, "fail") in {
        (a.transition["ruleId"], a.transition["subject"]["id"], a.transition["to"]) for a in alerts
    }
    history = deployed.history(tenant, since=datetime(2026, 1, 1, tzinfo=UTC)).items
    assert ("ESP-001", REAL_ESP_ID) in {(t.record.rule_id, t.record.subject_id) for t in history}
